/**
 * The checkout function's configuration, read once at boot, and the dependencies built from it.
 */
import { createSql } from "../_shared/db.ts";
import { databaseUrlFrom, fields, parseEnv, variableSchemas } from "../_shared/env.ts";
import { connectStripe, STRIPE_DEFAULT_BASE_URL } from "../_shared/stripe_gateway.ts";
import type { StripeMode } from "../_core/connect.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import type { CheckoutAppDeps } from "./app.ts";

/** The checkout function's configuration. */
export interface CheckoutConfig {
  stripeSecretKey: string;
  stripeApiBaseUrl: string;
  publicSiteUrl: string;
  databaseUrl: string;
  /** Standalone, or platform mode (each guild's sales go to its connected account). */
  stripeMode: StripeMode;
}

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): CheckoutConfig {
  const parsed = parseEnv({
    STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY.describe(
      "Stripe Dashboard → Developers → API keys (secret or restricted key)",
    ),
    STRIPE_API_BASE_URL: fields.url.default(STRIPE_DEFAULT_BASE_URL)
      .describe("leave unset in production; tests point it at the Stripe double"),
    PUBLIC_SITE_URL: fields.url
      .describe("where the plan page is served, e.g. https://rolepass.example (Deno Deploy)"),
    DATABASE_URL: fields.url
      .describe(
        "SUPABASE_DB_URL (set by Supabase) or DATABASE_URL: the Postgres connection string",
      ),
  }, { ...env, DATABASE_URL: databaseUrlFrom(env) });
  return {
    stripeSecretKey: parsed.STRIPE_SECRET_KEY,
    stripeApiBaseUrl: parsed.STRIPE_API_BASE_URL,
    publicSiteUrl: parsed.PUBLIC_SITE_URL.replace(/\/+$/, ""),
    databaseUrl: parsed.DATABASE_URL,
    stripeMode: stripeModeFrom(env),
  };
}

/** Builds the app's dependencies: one Postgres pool and one Stripe gateway per worker. */
export function depsFromConfig(config: CheckoutConfig): CheckoutAppDeps {
  return {
    sql: createSql(config.databaseUrl),
    stripe: connectStripe(config.stripeSecretKey, config.stripeApiBaseUrl),
    publicSiteUrl: config.publicSiteUrl,
    stripeMode: config.stripeMode,
  };
}
