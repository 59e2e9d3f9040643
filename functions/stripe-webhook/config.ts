/**
 * The stripe-webhook function's configuration, read once from the environment, and the
 * dependencies built from it. The dev runner and the tests build the same app from here.
 */
import { createSql } from "../_shared/db.ts";
import { databaseUrlFrom, fields, parseEnv, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { connectStripe, STRIPE_DEFAULT_BASE_URL } from "../_shared/stripe_gateway.ts";
import { type WebhookPlatformConfig, webhookPlatformConfigFrom } from "../_shared/platform_env.ts";
import type { WebhookDeps } from "./app.ts";
import type { ConnectWebhookDeps } from "./connect.ts";

const shape = {
  STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY.describe(
    "the Stripe secret (or restricted) key, Dashboard > Developers > API keys",
  ),
  STRIPE_WEBHOOK_SECRET: variableSchemas.STRIPE_WEBHOOK_SECRET.describe(
    "the endpoint's signing secret(s), comma-separated during a rotation (whsec_...)",
  ),
  STRIPE_API_BASE_URL: fields.url.default(STRIPE_DEFAULT_BASE_URL)
    .describe("the Stripe API; only tests and the local sandbox change it"),
  DATABASE_URL: fields.url.describe("SUPABASE_DB_URL (set by Supabase) or DATABASE_URL"),
};

/** The function's configuration. */
export interface WebhookConfig {
  stripeSecretKey: string;
  webhookSecrets: string[];
  stripeApiBaseUrl: string;
  databaseUrl: string;
  /** Standalone, or platform mode with the Connect endpoint's secrets. */
  platform: WebhookPlatformConfig;
}

/** Parses the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): WebhookConfig {
  const parsed = parseEnv(shape, { ...env, DATABASE_URL: databaseUrlFrom(env) });
  return {
    stripeSecretKey: parsed.STRIPE_SECRET_KEY,
    webhookSecrets: parsed.STRIPE_WEBHOOK_SECRET,
    stripeApiBaseUrl: parsed.STRIPE_API_BASE_URL,
    databaseUrl: parsed.DATABASE_URL,
    platform: webhookPlatformConfigFrom(env),
  };
}

/** Builds the app's dependencies from the configuration (one pool and one client per worker). */
export function depsFromConfig(config: WebhookConfig): WebhookDeps {
  const deps: WebhookDeps = {
    sql: createSql(config.databaseUrl),
    // The re-fetch runs while the customer's lock is held: give up early and let Stripe retry.
    stripe: connectStripe(config.stripeSecretKey, config.stripeApiBaseUrl, { timeoutMs: 8_000 }),
    webhookSecrets: config.webhookSecrets,
    livemode: isLiveKey(config.stripeSecretKey),
    now: () => new Date(),
    logger: createLogger("stripe-webhook"),
    stripeMode: config.platform.mode,
  };
  return { ...deps, connect: connectDepsFromConfig(config, deps) };
}

/** The Connect endpoint's dependencies in platform mode (sharing the pool and the logger). */
function connectDepsFromConfig(
  config: WebhookConfig,
  deps: WebhookDeps,
): ConnectWebhookDeps | null {
  if (config.platform.mode !== "platform") return null;
  return {
    sql: deps.sql,
    stripe: connectStripe(config.stripeSecretKey, config.stripeApiBaseUrl, { timeoutMs: 8_000 }),
    connectWebhookSecrets: config.platform.connectWebhookSecrets,
    livemode: deps.livemode,
    now: deps.now,
    logger: deps.logger,
  };
}

/** Whether a Stripe secret or restricted key acts in live mode (sk_live_/rk_live_). */
export function isLiveKey(stripeSecretKey: string): boolean {
  return /^(sk|rk)_live_/.test(stripeSecretKey);
}
