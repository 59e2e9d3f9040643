/**
 * Local delivery for databases without pg_net and pg_cron (bare PostgreSQL: the dev runner and
 * the tests). The compatibility bootstrap's `net.http_post` only records each request in
 * `net.http_request_queue` and notifies `rolepass_net_request`; this dispatcher sends them the way
 * pg_net would (POST, the recorded headers and JSON body, `timeout_milliseconds`, no retry), and
 * runs the commands in `cron.job` every minute the way pg_cron would.
 *
 * Delivery is at most once, as with pg_net: a request row is deleted in the same statement that
 * takes it, before it is sent. Like pg_net, a request queued in a transaction that rolled back was
 * never recorded, and one queued in a transaction that commits is seen only after the commit.
 */
import postgres from "postgres";
import { z } from "zod";
import { createLogger, type Logger } from "../_shared/log.ts";

/** Options of {@linkcode startDispatcher}. */
export interface DispatcherOptions {
  databaseUrl: string;
  /** How often the cron commands run. Default 60 000 (pg_cron's finest `* * * * *`). */
  cronIntervalMs?: number;
  /** How often the queue is polled besides notifications. Default 1 000. */
  pollIntervalMs?: number;
  /** Requests in flight at once. Default 16. */
  concurrency?: number;
  fetch?: typeof fetch;
  logger?: Logger;
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Sends every request queued now; resolves when they have been answered or timed out. */
  deliverPending(): Promise<number>;
  /** Runs every active cron command once. */
  runCronOnce(): Promise<void>;
  /** Stops listening and the timers, waits for requests in flight, closes the connection. */
  stop(): Promise<void>;
}

const requestRowSchema = z.object({
  id: z.coerce.number(),
  method: z.string(),
  url: z.string(),
  headers: z.record(z.string(), z.unknown()).nullable(),
  body: z.unknown(),
  timeout_milliseconds: z.number().int(),
});

/** Starts listening and polling; see the module documentation. */
export async function startDispatcher(options: DispatcherOptions): Promise<Dispatcher> {
  const logger = options.logger ?? createLogger("dispatcher");
  const fetchImpl = options.fetch ?? fetch;
  const concurrency = options.concurrency ?? 16;
  const sql = postgres(options.databaseUrl, {
    max: 3,
    prepare: false,
    onnotice: () => {},
    connection: { application_name: "rolepass-dispatcher" },
  });
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let delivering: Promise<number> | null = null;
  let again = false;

  async function send(row: z.infer<typeof requestRowSchema>): Promise<void> {
    const headers = new Headers();
    for (const [name, value] of Object.entries(row.headers ?? {})) {
      if (typeof value === "string") headers.set(name, value);
    }
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
    const started = performance.now();
    try {
      const response = await fetchImpl(row.url, {
        method: row.method,
        headers,
        body: row.method === "GET" ? undefined : JSON.stringify(row.body ?? {}),
        signal: AbortSignal.timeout(row.timeout_milliseconds),
      });
      await response.body?.cancel();
      logger.debug("delivered", {
        requestId: row.id,
        status: response.status,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      // pg_net records the failure and moves on; the cron sweep is what retries.
      logger.warn("delivery failed", { requestId: row.id, url: row.url, error });
    }
  }

  async function takeBatch(limit: number): Promise<z.infer<typeof requestRowSchema>[]> {
    const rows = await sql`
      delete from net.http_request_queue
      where id in (
        select id from net.http_request_queue order by id
        for update skip locked limit ${limit}
      )
      returning id, method, url, headers, body, timeout_milliseconds`;
    return rows.map((row) => requestRowSchema.parse(row)).sort((a, b) => a.id - b.id);
  }

  // Takes requests while fewer than `concurrency` are in flight; a finished one wakes it again.
  async function takeAndSend(): Promise<number> {
    let taken = 0;
    do {
      again = false;
      while (!stopped && inFlight.size < concurrency) {
        const batch = await takeBatch(concurrency - inFlight.size);
        if (batch.length === 0) break;
        taken += batch.length;
        for (const row of batch) {
          const delivery: Promise<void> = send(row).finally(() => {
            inFlight.delete(delivery);
            wake();
          });
          inFlight.add(delivery);
        }
      }
    } while (again && !stopped);
    return taken;
  }

  function startTaking(): Promise<number> {
    if (delivering) {
      again = true;
      return delivering;
    }
    delivering = takeAndSend().finally(() => {
      delivering = null;
    });
    return delivering;
  }

  async function deliverPending(): Promise<number> {
    let total = 0;
    while (true) {
      total += await startTaking();
      if (inFlight.size === 0) return total;
      await Promise.race(inFlight);
    }
  }

  function wake(): void {
    if (stopped) return;
    startTaking().catch((error) => logger.error("delivery loop failed", { error }));
  }

  async function runCronOnce(): Promise<void> {
    const jobs = await sql<{ jobname: string | null; command: string }[]>`
      select jobname, command from cron.job where active order by jobid`;
    for (const job of jobs) {
      try {
        await sql.unsafe(job.command);
      } catch (error) {
        logger.warn("cron command failed", { job: job.jobname, error });
      }
    }
    wake();
  }

  const listener = await sql.listen("rolepass_net_request", () => wake());
  const poll = setInterval(wake, options.pollIntervalMs ?? 1_000);
  const cron = setInterval(() => {
    runCronOnce().catch((error) => logger.error("cron run failed", { error }));
  }, options.cronIntervalMs ?? 60_000);
  wake();

  return {
    deliverPending,
    runCronOnce,
    async stop() {
      stopped = true;
      clearInterval(poll);
      clearInterval(cron);
      await listener.unlisten();
      await delivering?.catch(() => 0);
      await Promise.all(inFlight);
      await sql.end({ timeout: 5 });
    },
  };
}
