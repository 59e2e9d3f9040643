/**
 * The role-sync function's configuration, read once from the environment, and the dependencies
 * built from it. The dev runner and the tests build the same app from here.
 */
import { z } from "zod";
import { DEFAULT_RETRY_POLICY } from "../_core/role_plan.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { createDiscordApi, DISCORD_DEFAULT_BASE_URL } from "../_shared/discord_api.ts";
import { createRateLimitedDiscord } from "../_shared/discord_rate_limits.ts";
import { fields, parseEnv, requireDatabaseUrl, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import type { StripeMode } from "../_core/connect.ts";
import { connectStripe, STRIPE_DEFAULT_BASE_URL } from "../_shared/stripe_gateway.ts";
import { stripeWebhookUrl } from "../_core/health.ts";
import { isLiveKey } from "../stripe-webhook/config.ts";
import { DEFAULT_ACCOUNT_SWEEP_LIMIT } from "./account_sweep.ts";
import type { RoleSyncDeps } from "./app.ts";
import { RECONCILE_DEFAULTS, type ReconcileDeps } from "./reconciliation.ts";
import { createReconciliationStore } from "./reconciliation_store.ts";
import { STRIPE_CATCHUP_DEFAULTS } from "./reconciliation_stripe.ts";
import { createNoticeStore } from "./notices_store.ts";
import { createRoleJobStore } from "./role_job_store.ts";

const WHOLE_NUMBER = "expected a whole number of 1 or more";

const shape = {
  ROLE_SYNC_SECRET: variableSchemas.ROLE_SYNC_SECRET.describe(
    "the shared secret the database sends (Vault role_sync_secret must hold the same value)",
  ),
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN.describe(
    "the bot's token (Developer Portal > Bot > Reset Token)",
  ),
  DISCORD_APPLICATION_ID: fields.snowflake.describe(
    "the application id (Developer Portal > General Information)",
  ),
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL).describe(
    "the Discord API; only tests and the dev runner change it",
  ),
  STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY.optional().describe(
    "the Stripe key the hourly Events catch-up reads with (the webhook's key)",
  ),
  STRIPE_API_BASE_URL: fields.url.default(STRIPE_DEFAULT_BASE_URL)
    .describe("the Stripe API; only tests and the local sandbox change it"),
  PUBLIC_SITE_URL: variableSchemas.PUBLIC_SITE_URL.optional().describe(
    "where the plan page is served: `/rolepass onboarding` links come back to it (platform mode)",
  ),
  SUPABASE_URL: fields.url.optional().describe(
    "the project's URL (Supabase sets it): the health check expects the Stripe webhook under it",
  ),
  ACCOUNT_SWEEP_LIMIT: z.coerce.number(WHOLE_NUMBER).int(WHOLE_NUMBER).positive(WHOLE_NUMBER)
    .default(DEFAULT_ACCOUNT_SWEEP_LIMIT)
    .describe(
      "platform mode: how many connected accounts the hourly Stripe catch-up re-reads at most " +
        `(default ${DEFAULT_ACCOUNT_SWEEP_LIMIT})`,
    ),
};

/** The function's configuration. */
export interface RoleSyncConfig {
  secret: string;
  botToken: string;
  applicationId: string;
  discordApiBaseUrl: string;
  databaseUrl: string;
  /** Absent: the Stripe Events catch-up answers that it is not configured. */
  stripe?: { secretKey: string; apiBaseUrl: string };
  /** ROLEPASS_STRIPE_MODE; standalone when absent. */
  stripeMode?: StripeMode;
  /** Where the plan page is served; absent, `/rolepass onboarding` makes no link. */
  publicSiteUrl?: string;
  /** Where stripe-webhook is served from; absent, health accepts any `/stripe-webhook` URL. */
  supabaseUrl?: string;
  /** ACCOUNT_SWEEP_LIMIT: accounts a catch-up pass re-reads at most; the default if absent. */
  accountSweepLimit?: number;
}

/** Parses the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): RoleSyncConfig {
  const parsed = parseEnv(shape, env);
  const databaseUrl = requireDatabaseUrl(env);
  return {
    secret: parsed.ROLE_SYNC_SECRET,
    botToken: parsed.DISCORD_BOT_TOKEN,
    applicationId: parsed.DISCORD_APPLICATION_ID,
    discordApiBaseUrl: parsed.DISCORD_API_BASE_URL,
    databaseUrl,
    stripeMode: stripeModeFrom(env),
    accountSweepLimit: parsed.ACCOUNT_SWEEP_LIMIT,
    ...(parsed.SUPABASE_URL ? { supabaseUrl: parsed.SUPABASE_URL } : {}),
    ...(parsed.PUBLIC_SITE_URL ? { publicSiteUrl: parsed.PUBLIC_SITE_URL } : {}),
    ...(parsed.STRIPE_SECRET_KEY
      ? { stripe: { secretKey: parsed.STRIPE_SECRET_KEY, apiBaseUrl: parsed.STRIPE_API_BASE_URL } }
      : {}),
  };
}

/** `EdgeRuntime.waitUntil` on Supabase's Edge Runtime; undefined elsewhere. */
function edgeRuntimeWaitUntil(): ((work: Promise<unknown>) => void) | undefined {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } })
    .EdgeRuntime;
  return runtime?.waitUntil ? (work) => runtime.waitUntil!(work) : undefined;
}

/** Tuning a test or the dev runner may change; production uses the defaults. */
export type RoleSyncTuning =
  & Partial<
    Pick<
      RoleSyncDeps,
      | "runInBackground"
      | "backgroundBudgetMs"
      | "inlineBudgetMs"
      | "concurrency"
      | "leaseSeconds"
      | "discordTimeoutMs"
      | "retryPolicy"
      | "random"
    >
  >
  & { fetch?: typeof fetch; globalLimit?: number; globalWindowMs?: number; maxWaitMs?: number }
  /** The clock the jobs and the Stripe catch-up read; Discord's windows keep the real one. */
  & { now?: () => Date }
  & {
    reconcile?: Partial<
      Omit<ReconcileDeps, "store" | "discord" | "logger" | "now" | "discordTimeoutMs">
    >;
  };

/** Builds the app's dependencies (one database pool per worker). */
export function depsFromConfig(
  config: RoleSyncConfig,
  tuning: RoleSyncTuning = {},
  sql: Sql = createSql(config.databaseUrl, { max: 10 }),
): RoleSyncDeps & { sql: Sql } {
  const api = createDiscordApi(config.discordApiBaseUrl, config.botToken, tuning.fetch);
  // The free plan's wall clock is 150 s: a drain stops starting jobs well before it.
  const backgroundBudgetMs = tuning.backgroundBudgetMs ?? 100_000;
  const clock = tuning.now ?? (() => new Date());
  return {
    sql,
    store: createRoleJobStore(sql),
    notices: createNoticeStore(sql),
    discord: createRateLimitedDiscord({
      api,
      sql,
      globalLimit: tuning.globalLimit,
      globalWindowMs: tuning.globalWindowMs,
      maxWaitMs: tuning.maxWaitMs,
    }),
    secret: config.secret,
    logger: createLogger("role-sync"),
    runInBackground: "runInBackground" in tuning ? tuning.runInBackground : edgeRuntimeWaitUntil(),
    backgroundBudgetMs,
    // pg_net waits 5 s for the webhook (request_role_sync's timeout_milliseconds).
    inlineBudgetMs: tuning.inlineBudgetMs ?? 4_000,
    // Jobs in flight, not calls: the global window's slots pace the calls, and a worker takes a
    // job only when the window has room. 50 calls/s with 300 ms of Discord latency and a few
    // database round trips each keep about 16 jobs busy.
    concurrency: tuning.concurrency ?? 16,
    leaseSeconds: tuning.leaseSeconds ?? Math.ceil(backgroundBudgetMs / 1000) + 30,
    discordTimeoutMs: tuning.discordTimeoutMs ?? 8_000,
    retryPolicy: tuning.retryPolicy ?? DEFAULT_RETRY_POLICY,
    now: clock,
    random: tuning.random ?? Math.random,
    reconciliation: {
      ...RECONCILE_DEFAULTS,
      ...tuning.reconcile,
      store: createReconciliationStore(sql),
    },
    admin: adminDepsFromConfig(config, sql, tuning),
    ...(config.stripe
      ? {
        stripeEvents: {
          ...STRIPE_CATCHUP_DEFAULTS,
          sql,
          stripe: connectStripe(config.stripe.secretKey, config.stripe.apiBaseUrl, {
            timeoutMs: 8_000,
          }),
          livemode: isLiveKey(config.stripe.secretKey),
          now: clock,
          stripeMode: config.stripeMode,
          accountSweepLimit: config.accountSweepLimit,
        },
      }
      : {}),
  };
}

/** What `/rolepass resync` and `health` and the periodic health check need beyond Discord. */
function adminDepsFromConfig(
  config: RoleSyncConfig,
  sql: Sql,
  tuning: RoleSyncTuning,
): RoleSyncDeps["admin"] {
  const stripe = config.stripe
    ? connectStripe(config.stripe.secretKey, config.stripe.apiBaseUrl, { timeoutMs: 8_000 })
    : null;
  const now = tuning.now ?? (() => new Date());
  return {
    sql,
    stripe,
    sync: stripe
      ? { sql, stripe, now, logger: createLogger("role-sync"), stripeMode: config.stripeMode }
      : null,
    expectedWebhookUrl: config.supabaseUrl ? stripeWebhookUrl(config.supabaseUrl) : null,
    leaseSeconds: 60,
    stripeMode: config.stripeMode,
    publicSiteUrl: config.publicSiteUrl ?? null,
  };
}
