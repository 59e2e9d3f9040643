/**
 * The role-sync function: woken by the database webhook on every new role job and by the pg_cron
 * sweep every minute, it claims due jobs and makes Discord match the memberships.
 *
 * pg_net gives a webhook 1-5 s before it stops waiting, far less than a drain can take, so the
 * function answers 202 at once and drains in `EdgeRuntime.waitUntil` (which Supabase keeps alive
 * within the function's wall clock). Without it, a bounded batch runs inside the request.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { discordIdSchema } from "../_core/discord_id.ts";
import { readCappedBody } from "../_shared/body_cap.ts";
import { errorHandler } from "../_shared/http/error_handler.ts";
import { requestContext, type RequestContextEnv } from "../_shared/http/request_context.ts";
import type { Logger } from "../_shared/log.ts";
import { type AdminRequestDeps, answerAdminRequests } from "./admin_requests.ts";
import { runPeriodicHealthChecks } from "./health.ts";
import { type ReconcileDeps, reconcileGuild } from "./reconciliation.ts";
import { catchUpStripeEvents, type StripeCatchUpDeps } from "./reconciliation_stripe.ts";
import type { RoleJobStore } from "./role_job_store.ts";
import { drainRoleJobs, type DrainSummary, type RoleSyncWorkerDeps } from "./role_sync.ts";

/** What the app needs; built by config.ts in production and by tests with doubles. */
export interface RoleSyncDeps extends RoleSyncWorkerDeps {
  store: RoleJobStore;
  /** The shared secret the database sends in `x-rolepass-secret`. */
  secret: string;
  logger: Logger;
  /** `EdgeRuntime.waitUntil` where it exists; absent means "work inside the request". */
  runInBackground?: (work: Promise<unknown>) => void;
  /** The longest a background drain runs (below the platform's wall clock). */
  backgroundBudgetMs: number;
  /** The longest a drain inside the request runs (below the caller's timeout). */
  inlineBudgetMs: number;
  /** The reconciliation pass (`POST /role-sync/reconcile`), sharing `discord` and its limits. */
  reconciliation: Omit<ReconcileDeps, "discord" | "logger" | "now" | "discordTimeoutMs">;
  /**
   * The Stripe Events catch-up (`POST /role-sync/stripe-events`, hourly from pg_cron); absent
   * when role-sync has no STRIPE_SECRET_KEY, and the route then says so.
   */
  stripeEvents?: Omit<StripeCatchUpDeps, "logger">;
  /**
   * `/rolepass resync` and `health` (`POST /role-sync/admin-requests`) and the periodic health
   * check (`POST /role-sync/health-checks`), sharing `discord` and its limits.
   */
  admin: Omit<AdminRequestDeps, "discord" | "logger" | "now" | "discordTimeoutMs">;
}

const jobRecordSchema = z.object({ id: z.coerce.number().int().positive() }).passthrough();

/** What the database webhook and the sweep send (Supabase database-webhook shape). */
const wakeSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("INSERT"),
    table: z.literal("role_jobs"),
    schema: z.literal("rolepass").optional(),
    record: jobRecordSchema,
    old_record: z.null().optional(),
  }),
  z.object({
    type: z.literal("SWEEP"),
    table: z.literal("role_jobs").optional(),
    schema: z.literal("rolepass").optional(),
  }),
]);

/** What pg_cron's schedule_reconciliations sends: the guild whose pass is due. */
const reconcileSchema = z.object({ guild_id: discordIdSchema }).strict();

const encoder = new TextEncoder();

/** A wake is one role_jobs row or a sweep marker, well under a kilobyte; 64 KiB is ample. */
export const MAX_WAKE_BODY_BYTES = 64 * 1024;

type Env = RequestContextEnv;

/** Compares two secrets in time that does not depend on where they differ, nor on their lengths. */
async function secretsMatch(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  // Both are SHA-256 digests; folding in the lengths keeps a missing byte from matching.
  let difference = x.length ^ y.length;
  for (const [i, byte] of x.entries()) difference |= byte ^ (y[i] ?? 0);
  return difference === 0;
}

/** Builds the role-sync app, mounted at /role-sync as Supabase passes the path. */
export function createApp(deps: RoleSyncDeps): Hono<Env> {
  const app = new Hono<Env>().basePath("/role-sync");
  let draining: Promise<DrainSummary> | null = null;
  let wokenWhileDraining = false;

  // One drain per isolate; a wake during it makes it look once more before it stops, so a job
  // inserted just as the drain found the queue empty is not left for the next sweep.
  function drainInBackground(log: Logger): Promise<DrainSummary> {
    if (draining) {
      wokenWhileDraining = true;
      return draining;
    }
    const total: DrainSummary = { claimed: 0, done: 0, failed: 0, retried: 0, noticesSent: 0 };
    const started = deps.now().getTime();
    draining = (async () => {
      do {
        wokenWhileDraining = false;
        // The jobs' lines carry the id of the request that started the drain.
        const summary = await drainRoleJobs(
          { ...deps, logger: log },
          started + deps.backgroundBudgetMs,
        );
        total.claimed += summary.claimed;
        total.done += summary.done;
        total.failed += summary.failed;
        total.retried += summary.retried;
        total.noticesSent += summary.noticesSent;
      } while (wokenWhileDraining && deps.now().getTime() < started + deps.backgroundBudgetMs);
      log.info("drain finished", { ...total, ms: deps.now().getTime() - started });
      return total;
    })().catch((error) => {
      log.error("drain failed", { error });
      return total;
    }).finally(() => {
      draining = null;
    });
    return draining;
  }

  app.use(requestContext(deps.logger));
  app.onError(errorHandler());

  app.use(async (c, next) => {
    const given = c.req.header("x-rolepass-secret") ?? "";
    if (!given || !await secretsMatch(given, deps.secret)) {
      throw new HTTPException(401, {
        message: "Cannot accept the request: x-rolepass-secret is missing or wrong",
      });
    }
    await next();
  });

  app.post("/", async (c) => {
    const log = c.var.log;
    const wake = wakeSchema.safeParse(await readWakeJson(c.req.raw));
    if (!wake.success) {
      throw new HTTPException(400, {
        message: "Cannot read the body: expected a role_jobs INSERT webhook or a SWEEP",
      });
    }
    log.debug("woken", {
      type: wake.data.type,
      jobId: wake.data.type === "INSERT" ? wake.data.record.id : undefined,
    });
    if (deps.runInBackground) {
      deps.runInBackground(drainInBackground(log));
      return c.json({ accepted: true }, 202);
    }
    const summary = await drainRoleJobs(
      { ...deps, logger: log },
      deps.now().getTime() + deps.inlineBudgetMs,
    );
    return c.json({ accepted: true, ...summary }, 200);
  });

  app.post("/reconcile", async (c) => {
    const log = c.var.log;
    const wake = reconcileSchema.safeParse(await readWakeJson(c.req.raw));
    if (!wake.success) {
      throw new HTTPException(400, { message: "Cannot read the body: expected {guild_id}" });
    }
    const passDeps: ReconcileDeps = {
      ...deps.reconciliation,
      discord: deps.discord,
      logger: log,
      now: deps.now,
      discordTimeoutMs: deps.discordTimeoutMs,
    };
    const guildId = wake.data.guild_id;
    if (deps.runInBackground) {
      deps.runInBackground(
        reconcileGuild(passDeps, guildId, deps.now().getTime() + deps.backgroundBudgetMs).catch((
          error,
        ) => log.error("reconciliation failed", { guildId, error })),
      );
      return c.json({ accepted: true }, 202);
    }
    const result = await reconcileGuild(
      passDeps,
      guildId,
      deps.now().getTime() + deps.inlineBudgetMs,
    );
    return c.json({ accepted: true, ...result }, 200);
  });

  app.post("/stripe-events", async (c) => {
    const log = c.var.log;
    if (!deps.stripeEvents) {
      log.error("The Stripe catch-up cannot run: role-sync has no STRIPE_SECRET_KEY");
      throw new HTTPException(503, {
        message: "Cannot catch up Stripe events: set STRIPE_SECRET_KEY for role-sync",
      });
    }
    const catchUp: StripeCatchUpDeps = { ...deps.stripeEvents, logger: log };
    const deadline = catchUp.now().getTime() +
      (deps.runInBackground ? deps.backgroundBudgetMs : deps.inlineBudgetMs);
    if (deps.runInBackground) {
      deps.runInBackground(
        catchUpStripeEvents(catchUp, deadline).catch((error) =>
          log.error("Stripe catch-up failed", { error })
        ),
      );
      return c.json({ accepted: true }, 202);
    }
    const result = await catchUpStripeEvents(catchUp, deadline);
    return c.json({ accepted: true, ...result }, 200);
  });

  const adminDeps = (log: Logger): AdminRequestDeps => ({
    ...deps.admin,
    discord: deps.discord,
    logger: log,
    now: deps.now,
    discordTimeoutMs: deps.discordTimeoutMs,
  });

  // Both answer `{}` wakes from the database (the admin_requests insert, the minute's sweep,
  // pg_cron's half-hourly health check); the work and its answer are in the database.
  app.post("/admin-requests", async (c) => {
    const log = c.var.log;
    await readWakeJson(c.req.raw);
    const work = adminDeps(log);
    if (deps.runInBackground) {
      deps.runInBackground(
        answerAdminRequests(work, deps.now().getTime() + deps.backgroundBudgetMs).catch((error) =>
          log.error("admin requests failed", { error })
        ),
      );
      return c.json({ accepted: true }, 202);
    }
    const summary = await answerAdminRequests(work, deps.now().getTime() + deps.inlineBudgetMs);
    return c.json({ accepted: true, ...summary }, 200);
  });

  app.post("/health-checks", async (c) => {
    const log = c.var.log;
    await readWakeJson(c.req.raw);
    const work = adminDeps(log);
    if (deps.runInBackground) {
      deps.runInBackground(
        runPeriodicHealthChecks(work, deps.now().getTime() + deps.backgroundBudgetMs).catch((
          error,
        ) => log.error("health checks failed", { error })),
      );
      return c.json({ accepted: true }, 202);
    }
    const summary = await runPeriodicHealthChecks(work, deps.now().getTime() + deps.inlineBudgetMs);
    return c.json({ accepted: true, ...summary }, 200);
  });

  app.get("/health", async (c) => {
    const status = await deps.store.queueStatus();
    return c.json(status, 200);
  });

  app.notFound((c) => c.json({ error: "Not found" }, 404));

  return app;
}

/** A wake-up's JSON body, read up to {@link MAX_WAKE_BODY_BYTES}; 413 or 400 otherwise. */
async function readWakeJson(request: Request): Promise<unknown> {
  const body = await readCappedBody(request, MAX_WAKE_BODY_BYTES);
  if (!body.ok) {
    throw new HTTPException(413, { message: "Cannot read the body: it is larger than 64 KiB" });
  }
  try {
    return JSON.parse(new TextDecoder().decode(body.bytes));
  } catch {
    throw new HTTPException(400, { message: "Cannot read the body: it is not JSON" });
  }
}
