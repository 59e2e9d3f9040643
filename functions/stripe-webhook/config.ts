/**
 * The stripe-webhook function's configuration, read once from the environment, and the
 * dependencies built from it. The dev runner and the tests build the same app from here.
 */
import { createSql } from "../_shared/db.ts";
import { databaseUrlFrom, fields, parseEnv, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { createStripeClient, STRIPE_DEFAULT_BASE_URL } from "../_shared/stripe_gateway.ts";
import type { WebhookDeps } from "./app.ts";

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
}

/** Parses the environment; throws a ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): WebhookConfig {
  const parsed = parseEnv(shape, { ...env, DATABASE_URL: databaseUrlFrom(env) });
  return {
    stripeSecretKey: parsed.STRIPE_SECRET_KEY,
    webhookSecrets: parsed.STRIPE_WEBHOOK_SECRET,
    stripeApiBaseUrl: parsed.STRIPE_API_BASE_URL,
    databaseUrl: parsed.DATABASE_URL,
  };
}

/** Builds the app's dependencies from the configuration (one pool and one client per worker). */
export function depsFromConfig(config: WebhookConfig): WebhookDeps {
  return {
    sql: createSql(config.databaseUrl),
    // The re-fetch runs while the customer's lock is held: give up early and let Stripe retry.
    stripe: createStripeClient(config.stripeSecretKey, config.stripeApiBaseUrl, {
      timeoutMs: 8_000,
    }),
    webhookSecrets: config.webhookSecrets,
    livemode: isLiveKey(config.stripeSecretKey),
    now: () => new Date(),
    logger: createLogger("stripe-webhook"),
  };
}

/** Whether a Stripe secret or restricted key acts in live mode (sk_live_/rk_live_). */
export function isLiveKey(stripeSecretKey: string): boolean {
  return /^(sk|rk)_live_/.test(stripeSecretKey);
}
