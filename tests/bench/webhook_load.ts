/**
 * stripe-webhook load: events per second and p50/p99 per event, with the Stripe double on
 * loopback and the real database, next to a floor measured in the same run: the HMAC check of
 * the same signed body plus one transaction recording an event id. Target: >= 300 events/s and
 * p99 within 3x the floor's.
 *
 * The Stripe double runs in a Deno subprocess of its own (stripe_double_server.ts), seeded over
 * its HTTP control API under `/__double`, and is killed at the end whatever happens. Real Stripe
 * is a remote service: its work is not done on the function's CPU. In process, the double's own
 * work for each re-read (parsing the request, building and serializing the subscription list)
 * ran on the same event loop as the function and, on a 2-core machine, was charged to the
 * webhook's latency; only the round trip over loopback belongs to it. (The webhook world still
 * starts its own in-process double; nothing here talks to it, so it stays idle.)
 *
 * Every measured event is a handled type with a fresh id, so each one is verified, re-reads the
 * customer's subscriptions from the double and runs the locked transaction; every other one follows
 * a change made in Stripe beforehand (untimed), so its apply changes the membership and writes
 * history. The whole measurement runs WEBHOOK_RUNS times (5) and medians are printed; `deno task
 * bench` gives it a durable cluster (fsync and synchronous commit on). One at a time, floor
 * and webhook events alternate, so both see the same load on a shared machine: measured one block
 * after the other, the p99 ratio mostly compared two moments of the machine. Run with
 * `deno task bench webhook` (or `deno run -A tests/bench/webhook_load.ts` with DATABASE_URL set).
 *
 * The app has the production pool (5 connections, createSql's default) and re-reads Stripe through
 * a proxy that holds each answer for an added latency. The latency sweep sends the same events at
 * 0, 50 and 150 ms added (in turn within each run, so drift hits each alike) with
 * SWEEP_CONCURRENCY deliveries in flight: Stripe delivers events concurrently, and sustaining
 * 500 events/s (about what the function does here at 0 ms) when each waits 150 ms on Stripe takes
 * at least 100 in flight (Little's law; with 64, 150 ms alone capped the rate near 300), so the
 * sweep shows whether anything but the wait (a pool held across it, a lock) limits the rate.
 * During the sweep a sampler reads pg_stat_activity for the app's connections every 20 ms (idle
 * in transaction, waiting on a lock), and the database's committed transactions are counted per
 * event (each statement outside a transaction is one).
 *
 * Last, the function runs alone in its own process (its entrypoint's code, over HTTP) and the
 * bench prints its peak memory and its CPU per event, and the double's: on a machine shared with
 * other work, events/s measure the machine, while CPU per event of the function's own process
 * (without this process's signing and the changes made in Stripe) and the database's server time
 * per event (pg_stat_statements) measure the code.
 */
import Stripe from "stripe";
import type { Stripe as StripeTypes } from "stripe";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { connectStripe, createStripeClient } from "../../functions/_shared/stripe_gateway.ts";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import {
  startCheckout,
  startWebhookWorld,
  WEBHOOK_SECRET,
} from "../integration/webhook_harness.ts";
import { first } from "../harness/assert.ts";
import { startStatementProfile } from "./statement_profile.ts";
import {
  cpuMsOf,
  peakMemoryLine,
  processMemory,
  SUPABASE_FUNCTION_MEMORY_MB,
} from "./process_memory.ts";
import { type ServerProcess, startServerProcess } from "./function_process.ts";

const MEMBERS = 100;
/** WEBHOOK_EVENTS_SCALE (default 1) scales every count below, for a quicker run. */
const SCALE = Number(Deno.env.get("WEBHOOK_EVENTS_SCALE") ?? "1");
const SEQUENTIAL_EVENTS = Math.round(1_000 * SCALE);
const CONCURRENT_EVENTS = Math.round(1_500 * SCALE);
const CONCURRENCY = 16;
const RUNS = Number(Deno.env.get("WEBHOOK_RUNS") ?? "5");
const SWEEP_LATENCIES_MS = [0, 50, 150];
const SWEEP_EVENTS = Math.round(1_500 * SCALE);
const SWEEP_CONCURRENCY = 160;
/** Deliveries in flight while the function runs alone for its memory and CPU per event. */
const ALONE_CONCURRENCY = 64;

/** Times `floor` and `webhook` one event at a time, alternating, so drift hits both alike. */
async function measureInterleaved(
  count: number,
  floor: (index: number) => Promise<void>,
  webhook: (index: number) => Promise<void>,
  prepare: (index: number) => Promise<void>,
): Promise<{ floor: Measured; webhook: Measured }> {
  const samples = { floor: [] as number[], webhook: [] as number[] };
  const time = async (one: (index: number) => Promise<void>, index: number, into: number[]) => {
    if (one === webhook) await prepare(index);
    const t0 = performance.now();
    await one(index);
    into.push(performance.now() - t0);
  };
  for (let index = 0; index < count; index++) {
    // Which one goes first alternates too, so neither always runs right after the other.
    if (index % 2 === 0) {
      await time(floor, index, samples.floor);
      await time(webhook, index, samples.webhook);
    } else {
      await time(webhook, index, samples.webhook);
      await time(floor, index, samples.floor);
    }
  }
  const summary = (latencies: number[]): Measured => ({
    perSecond: 1000 / (latencies.reduce((sum, value) => sum + value, 0) / latencies.length),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  });
  return { floor: summary(samples.floor), webhook: summary(samples.webhook) };
}

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

async function measure(
  count: number,
  concurrency: number,
  one: (index: number) => Promise<void>,
  prepare?: (index: number) => Promise<void>,
): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  let preparing = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const index = next++;
      if (prepare) {
        // The change is Stripe's, made before the event is sent: not the webhook's time.
        const p0 = performance.now();
        await prepare(index);
        preparing += performance.now() - p0;
      }
      const t0 = performance.now();
      await one(index);
      latencies.push(performance.now() - t0);
    }
  }));
  // Preparation ran concurrently on `concurrency` lanes; only each lane's share is taken out.
  const seconds = (performance.now() - started - preparing / concurrency) / 1000;
  return {
    perSecond: count / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** A Stripe double running in a subprocess; `close` kills it. */
interface RemoteDouble {
  url: string;
  /** CPU time the double's process has used so far, in ms (user + system). */
  cpuMs(): Promise<number>;
  /** The latency proxy in front of `url`. */
  proxyUrl: string;
  setLatency(ms: number): Promise<void>;
  control<T>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function startRemoteDouble(): Promise<RemoteDouble> {
  const server = await startServerProcess(new URL("./stripe_double_server.ts", import.meta.url));
  try {
    const { url, proxyUrl } = server.announced as { url: string; proxyUrl: string };
    const setLatency = async (ms: number) => {
      const response = await fetch(`${proxyUrl}/__latency`, {
        method: "POST",
        body: JSON.stringify({ ms }),
      });
      if (!response.ok) throw new Error(`setting the proxy's latency: ${await response.text()}`);
      await response.body?.cancel();
    };
    const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}/__double${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const result = await response.json();
      if (!response.ok) {
        throw new Error(`${method} /__double${path}: ${response.status} ${JSON.stringify(result)}`);
      }
      return result as T;
    };
    return {
      url,
      proxyUrl,
      setLatency,
      control,
      close: server.close,
      cpuMs: () => cpuMsOf(server.pid),
    };
  } catch (error) {
    await server.close();
    throw error;
  }
}

let remote: RemoteDouble | undefined;
let world: Awaited<ReturnType<typeof startWebhookWorld>> | undefined;
let closePool: (() => Promise<void>) | undefined;
let functionProcess: ServerProcess | undefined;
try {
  remote = await startRemoteDouble();
  const double = remote;
  world = await startWebhookWorld();
  const { db, guildId } = world;
  // The function as the world builds it, but with the production pool and re-reading from the
  // out-of-process double: on loopback for the main figures, through the latency proxy for the
  // sweep (one pool for both). Changes made "in Stripe" before an event go to the double directly.
  const stripe = createStripeClient("sk_test_rolepass", double.url, { timeoutMs: 10_000 });
  const appSql = createSql(db.url);
  closePool = () => appSql.end({ timeout: 5 });
  // One signing secret, as an endpoint has outside a rotation (the world's app has two, to test
  // rotation, and would verify every event twice) and as the floor verifies.
  const app = createApp({
    ...world.deps,
    webhookSecrets: [WEBHOOK_SECRET],
    sql: appSql,
    stripe: connectStripe("sk_test_rolepass", double.url, { timeoutMs: 2_000 }),
  });
  const proxiedApp = createApp({
    ...world.deps,
    webhookSecrets: [WEBHOOK_SECRET],
    sql: appSql,
    stripe: connectStripe("sk_test_rolepass", double.proxyUrl, { timeoutMs: 5_000 }),
  });

  // The world's plan, moved to a price of the remote double.
  const price = await double.control<{ id: string }>("POST", "/prices", {
    unitAmount: 980,
    currency: "jpy",
    interval: "month",
  });
  await db.sql`update rolepass.plans set stripe_price_id = ${price.id} where id = ${world.plan.id}`;

  let eventCursor = 0;
  const takeEvents = async () => {
    const all = await double.control<StripeTypes.Event[]>("GET", "/events");
    const fresh = all.slice(eventCursor);
    eventCursor = all.length;
    return fresh;
  };
  const clock = world.clock;
  const post = async (event: StripeTypes.Event) => {
    const body = eventBody(event);
    const header = await signPayload(body, WEBHOOK_SECRET, Math.floor(clock.now.getTime() / 1000));
    const response = await app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": header },
        body,
      }),
    );
    const answer = await response.text();
    if (response.status !== 200) {
      throw new Error(`${event.type} ${event.id} answered ${response.status}: ${answer}`);
    }
  };

  const templates: StripeTypes.Event[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    // A member who went to Checkout, as the webhook world's newMember makes one.
    const discordUserId = String(200_000_000_000_000_000n + BigInt(i));
    const { session } = await startCheckout(db.sql, stripe, guildId, discordUserId, price.id);
    await double.control("POST", `/checkout/${session.id}/complete`, { outcome: "paid" });
    const events = await takeEvents();
    for (const event of events) await post(event);
    templates.push(
      events.find((e) =>
        e.type === "customer.subscription.updated" ||
        e.type === "customer.subscription.created"
      )!,
    );
  }

  let counter = 0;
  // Signed at `now`: the floor verifies against the real clock, the app against the world's clock
  // (a fixed time), and five runs outlast Stripe's 300 s tolerance between the two.
  const signedRequest = async (index: number, now = Date.now()) => {
    const event = { ...templates[index % templates.length], id: `evt_bench${++counter}x${index}` };
    const body = eventBody(event as StripeTypes.Event);
    const header = await signPayload(body, WEBHOOK_SECRET, Math.floor(now / 1000));
    return { body, header, id: event.id };
  };

  const verifier = new Stripe("sk_test_bench");
  const crypto = Stripe.createSubtleCryptoProvider();
  const floorOne = async (index: number) => {
    const { body, header, id } = await signedRequest(index);
    await verifier.webhooks.constructEventAsync(body, header, WEBHOOK_SECRET, 300, crypto);
    await appSql.begin(async (tx) => {
      await tx`insert into rolepass.stripe_events (id, type, status, processed_at)
        values (${"evt_floor" + id.slice(3)}, 'bench.floor', 'processed', now())`;
    });
  };
  // Every other event follows a change in Stripe (cancel at period end, toggled), so its re-read
  // changes the membership; the others change nothing.
  const cancelling = new Map<string, boolean>();
  const changeInStripe = async (index: number) => {
    if (index % 2 === 0) return;
    const template = first(templates.slice(index % templates.length), "an event template");
    const subscription = template.data.object as { id: string };
    const cancel = !cancelling.get(subscription.id);
    cancelling.set(subscription.id, cancel);
    await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: cancel });
  };
  const historyRows = async () => {
    const row = first(
      await db.sql<{ n: number }[]>`
      select count(*)::int as n from rolepass.membership_history where operation = 'UPDATE'`,
      "a count",
    );
    return row.n;
  };

  const deliverTo = (target: typeof app) => async (index: number) => {
    const { body, header } = await signedRequest(index, clock.now.getTime());
    const response = await target.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": header },
        body,
      }),
    );
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
    await response.body?.cancel();
  };
  const webhookOne = deliverTo(app);
  const proxiedWebhookOne = deliverTo(proxiedApp);

  // Warm both paths up before measuring.
  await measure(50, 4, floorOne);
  await measure(50, 4, webhookOne);
  await measure(50, 4, proxiedWebhookOne);

  const runs: {
    floorSequential: Measured;
    webhookSequential: Measured;
    floorLoad: Measured;
    webhookLoad: Measured;
  }[] = [];
  const historyBefore = await historyRows();
  for (let run = 0; run < RUNS; run++) {
    const sequential = await measureInterleaved(
      SEQUENTIAL_EVENTS,
      floorOne,
      webhookOne,
      changeInStripe,
    );
    const floorLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, floorOne);
    const webhookLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, webhookOne, changeInStripe);
    const one = {
      floorSequential: sequential.floor,
      webhookSequential: sequential.webhook,
      floorLoad,
      webhookLoad,
    };
    runs.push(one);
    console.log(
      `run ${run + 1}: webhook ${Math.round(webhookLoad.perSecond)} events/s ` +
        `(floor ${Math.round(floorLoad.perSecond)}), p99 one at a time ` +
        `${(one.webhookSequential.p99 / one.floorSequential.p99).toFixed(2)}x the floor's`,
    );
  }

  // The app's connections, as pg_stat_activity shows them, sampled while the sweep runs.
  interface Activity {
    samples: number;
    idleInTransaction: number;
    active: number;
    waitingOnLock: number;
  }
  const sampleActivity = () => {
    const activity: Activity = { samples: 0, idleInTransaction: 0, active: 0, waitingOnLock: 0 };
    let sampling = true;
    const done = (async () => {
      while (sampling) {
        const [row] = await db.sql<
          { idle_in_transaction: number; active: number; waiting_on_lock: number }[]
        >`
          select count(*) filter (where state like 'idle in transaction%')::int
              as idle_in_transaction,
            count(*) filter (where state = 'active')::int as active,
            count(*) filter (where wait_event_type = 'Lock')::int as waiting_on_lock
          from pg_stat_activity
          where datname = current_database() and application_name = 'rolepass'
            and pid <> pg_backend_pid()`;
        if (row) {
          activity.samples++;
          activity.idleInTransaction += row.idle_in_transaction;
          activity.active += row.active;
          activity.waitingOnLock += row.waiting_on_lock;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    return async () => {
      sampling = false;
      await done;
      return activity;
    };
  };
  const committedTransactions = async () => {
    await db.sql`select pg_stat_clear_snapshot()`;
    const row = first(
      await db.sql<{ n: string }[]>`
        select (xact_commit + xact_rollback)::text as n from pg_stat_database
        where datname = current_database()`,
      "pg_stat_database's row",
    );
    return Number(row.n);
  };
  const statementProfile = await startStatementProfile(db.sql);
  interface SweepPoint extends Measured {
    activity: Activity;
    transactionsPerEvent: number;
    /** CPU used per event by this process (the function and the load) and by the double. */
    cpuMsPerEvent: { here: number; double: number };
  }
  const sweepRuns: Map<number, SweepPoint>[] = [];
  for (let run = 0; run < RUNS; run++) {
    const points = new Map<number, SweepPoint>();
    for (const latencyMs of SWEEP_LATENCIES_MS) {
      await double.setLatency(latencyMs);
      const before = await committedTransactions();
      const cpuBefore = { here: await cpuMsOf("self"), double: await double.cpuMs() };
      const stopSampling = sampleActivity();
      const measured = await measure(
        SWEEP_EVENTS,
        SWEEP_CONCURRENCY,
        proxiedWebhookOne,
        changeInStripe,
      );
      const activity = await stopSampling();
      const cpuMsPerEvent = {
        here: ((await cpuMsOf("self")) - cpuBefore.here) / SWEEP_EVENTS,
        double: ((await double.cpuMs()) - cpuBefore.double) / SWEEP_EVENTS,
      };
      // pg_stat_database is flushed by each backend at most once a second.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const transactions = (await committedTransactions()) - before - activity.samples;
      points.set(latencyMs, {
        ...measured,
        activity,
        transactionsPerEvent: transactions / SWEEP_EVENTS,
        cpuMsPerEvent,
      });
    }
    sweepRuns.push(points);
    console.log(
      `sweep run ${run + 1}: ` + SWEEP_LATENCIES_MS.map((latencyMs) => {
        const point = points.get(latencyMs)!;
        return `${latencyMs} ms: ${Math.round(point.perSecond)} events/s, ` +
          `p99 ${point.p99.toFixed(1)} ms`;
      }).join("; "),
    );
  }
  await double.setLatency(0);
  await statementProfile?.report(RUNS * SWEEP_LATENCIES_MS.length * SWEEP_EVENTS, "event");

  const changed = (await historyRows()) - historyBefore;
  console.log(`memberships changed by measured events: ${changed} history rows`);
  // The median run by webhook throughput, each figure its own median across the runs.
  const medianOf = (pick: (run: (typeof runs)[number]) => number) => {
    const median = [...runs.map(pick)].sort((a, b) => a - b)[runs.length >> 1];
    if (median === undefined) throw new Error("Cannot take a median of no runs");
    return median;
  };
  const medianMeasured = (pick: (run: (typeof runs)[number]) => Measured): Measured => ({
    perSecond: medianOf((run) => pick(run).perSecond),
    p50: medianOf((run) => pick(run).p50),
    p99: medianOf((run) => pick(run).p99),
  });
  const floorSequential = medianMeasured((run) => run.floorSequential);
  const webhookSequential = medianMeasured((run) => run.webhookSequential);
  const floorLoad = medianMeasured((run) => run.floorLoad);
  const webhookLoad = medianMeasured((run) => run.webhookLoad);

  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.log(
    `stripe-webhook load (${MEMBERS} customers, Stripe double in a subprocess on loopback, ` +
      `pool of 5, durable database unless DATABASE_URL says otherwise), median of ${RUNS} runs`,
  );
  console.table({
    "floor, one at a time": {
      "events/s": Math.round(floorSequential.perSecond),
      p50: ms(floorSequential.p50),
      p99: ms(floorSequential.p99),
    },
    "webhook, one at a time": {
      "events/s": Math.round(webhookSequential.perSecond),
      p50: ms(webhookSequential.p50),
      p99: ms(webhookSequential.p99),
    },
    [`floor, ${CONCURRENCY} concurrent`]: {
      "events/s": Math.round(floorLoad.perSecond),
      p50: ms(floorLoad.p50),
      p99: ms(floorLoad.p99),
    },
    [`webhook, ${CONCURRENCY} concurrent`]: {
      "events/s": Math.round(webhookLoad.perSecond),
      p50: ms(webhookLoad.p50),
      p99: ms(webhookLoad.p99),
    },
  });
  const sweepMedian = (latencyMs: number, pick: (point: SweepPoint) => number) => {
    const values = sweepRuns.map((points) => pick(points.get(latencyMs)!)).sort((a, b) => a - b);
    const median = values[values.length >> 1];
    if (median === undefined) throw new Error("Cannot take a median of no runs");
    return median;
  };
  console.log(
    `latency sweep: Stripe re-reads through a proxy adding 0/50/150 ms, pool of 5, ` +
      `${SWEEP_CONCURRENCY} deliveries in flight, ${SWEEP_EVENTS} events a point, median of ${RUNS}`,
  );
  const zeroRate = sweepMedian(0, (point) => point.perSecond);
  console.table(Object.fromEntries(SWEEP_LATENCIES_MS.map((latencyMs) => [
    `+${latencyMs} ms`,
    {
      "events/s": Math.round(sweepMedian(latencyMs, (point) => point.perSecond)),
      "vs 0 ms": (sweepMedian(latencyMs, (point) => point.perSecond) / zeroRate).toFixed(2),
      p50: ms(sweepMedian(latencyMs, (point) => point.p50)),
      p99: ms(sweepMedian(latencyMs, (point) => point.p99)),
      "idle in tx (mean conns)": sweepMedian(
        latencyMs,
        (point) => point.activity.idleInTransaction / Math.max(1, point.activity.samples),
      ).toFixed(2),
      "active (mean conns)": sweepMedian(
        latencyMs,
        (point) => point.activity.active / Math.max(1, point.activity.samples),
      ).toFixed(2),
      "lock waits (mean conns)": sweepMedian(
        latencyMs,
        (point) => point.activity.waitingOnLock / Math.max(1, point.activity.samples),
      ).toFixed(2),
      "db transactions/event": sweepMedian(latencyMs, (point) => point.transactionsPerEvent)
        .toFixed(2),
      "CPU ms/event here": sweepMedian(latencyMs, (point) => point.cpuMsPerEvent.here).toFixed(1),
      "CPU ms/event, double": sweepMedian(latencyMs, (point) => point.cpuMsPerEvent.double)
        .toFixed(1),
    },
  ])));
  const slowRate = sweepMedian(150, (point) => point.perSecond);
  console.log(
    `events/s at +150 ms = ${(slowRate / zeroRate).toFixed(2)} of +0 ms (target >= 0.80): ` +
      (slowRate >= 0.8 * zeroRate ? "met" : "NOT met"),
  );
  const ratio = medianOf((run) => run.webhookSequential.p99 / run.floorSequential.p99);
  console.log(
    `webhook throughput ${Math.round(webhookLoad.perSecond)} events/s (target >= 300): ` +
      (webhookLoad.perSecond >= 300 ? "met" : "NOT met"),
  );
  console.log(
    `webhook p99 / floor p99 (one at a time) = ${ratio.toFixed(2)}x (target <= 3x): ` +
      (ratio <= 3 ? "met" : "NOT met"),
  );
  console.log(
    await peakMemoryLine("stripe-webhook app, with its load (the Stripe double runs apart)"),
  );

  // The function alone in its own process, built by its entrypoint's code from the environment,
  // with the load generator here and the Stripe double in their own processes: its peak resident
  // set is the figure Supabase's per-function limit is about.
  functionProcess = await startServerProcess(
    new URL("./webhook_function_server.ts", import.meta.url),
    {
      env: {
        STRIPE_SECRET_KEY: "sk_test_rolepass",
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        STRIPE_API_BASE_URL: double.url,
        DATABASE_URL: db.url,
      },
    },
  );
  const alone = functionProcess;
  const aloneUrl = (alone.announced as { url: string }).url;
  const booted = await processMemory(alone.pid);
  const deliverOverHttp = async (index: number) => {
    const { body, header } = await signedRequest(index);
    const response = await fetch(`${aloneUrl}/stripe-webhook`, {
      method: "POST",
      headers: { "stripe-signature": header },
      body,
    });
    if (response.status !== 200) {
      throw new Error(
        `the webhook's process answered ${response.status}: ${await response.text()}`,
      );
    }
    await response.body?.cancel();
  };
  const aloneEvents = SWEEP_EVENTS * RUNS;
  const cpuBeforeAlone = { fn: await cpuMsOf(alone.pid), double: await double.cpuMs() };
  const overHttp = await measure(aloneEvents, ALONE_CONCURRENCY, deliverOverHttp, changeInStripe);
  const aloneCpu = {
    fn: ((await cpuMsOf(alone.pid)) - cpuBeforeAlone.fn) / aloneEvents,
    double: ((await double.cpuMs()) - cpuBeforeAlone.double) / aloneEvents,
  };
  const loaded = await processMemory(alone.pid);
  console.log(
    `stripe-webhook alone in its process (${SWEEP_EVENTS * RUNS} events over HTTP, ` +
      `${ALONE_CONCURRENCY} in flight, ${Math.round(overHttp.perSecond)} events/s): ` +
      `RSS after boot ${booted.residentMb.toFixed(0)} MiB, peak RSS ${loaded.peakMb.toFixed(0)} ` +
      `MiB (VmHWM) = ${(loaded.peakMb / SUPABASE_FUNCTION_MEMORY_MB).toFixed(2)} of Supabase's ` +
      `${SUPABASE_FUNCTION_MEMORY_MB} MB per function`,
  );
  // The figure to judge the function's own work by on a shared machine (events/s is the
  // machine's): its process alone, without the load generator's signing and the changes in Stripe.
  console.log(
    `stripe-webhook alone, CPU per event: ${
      aloneCpu.fn.toFixed(2)
    } ms in the function's process, ` +
      `${aloneCpu.double.toFixed(2)} ms in the Stripe double's (its re-read, and the change in ` +
      `Stripe before every other event)`,
  );
} finally {
  try {
    await functionProcess?.close();
    await closePool?.();
    await world?.close();
  } finally {
    await remote?.close();
  }
}
