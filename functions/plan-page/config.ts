/**
 * The plan page's configuration: where the `checkout` function is (SUPABASE_URL and the
 * publishable key), where the page itself is served, and the port. Nothing secret.
 */
import { z } from "zod";
import { fields, parseEnv } from "../_shared/env.ts";
import type { PlanPageDeps } from "./app.tsx";
import { createCheckoutClient } from "./checkout_client.ts";
import { createLogger } from "../_shared/log.ts";

/** The plan page's configuration. */
export interface PlanPageConfig {
  supabaseUrl: string;
  supabasePublishableKey: string;
  publicSiteUrl: string;
  port: number;
}

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined>): PlanPageConfig {
  const parsed = parseEnv({
    SUPABASE_URL: fields.url
      .describe("the Supabase project URL (Project Settings → API), or the dev runner's URL"),
    SUPABASE_PUBLISHABLE_KEY: z.string().min(1)
      .describe("the project's publishable key (sb_publishable_…); public by design"),
    PUBLIC_SITE_URL: fields.url.describe(
      "where this page is served, e.g. https://rolepass.example",
    ),
    PORT: z.coerce.number().int().min(1).max(65535).default(8000)
      .describe("port to listen on (Deno Deploy ignores it)"),
  }, env);
  return {
    supabaseUrl: parsed.SUPABASE_URL.replace(/\/+$/, ""),
    supabasePublishableKey: parsed.SUPABASE_PUBLISHABLE_KEY,
    publicSiteUrl: parsed.PUBLIC_SITE_URL.replace(/\/+$/, ""),
    port: parsed.PORT,
  };
}

/** Builds the page's dependencies: a supabase-js client for `functions.invoke`. */
export function depsFromConfig(config: PlanPageConfig): PlanPageDeps {
  const logger = createLogger("plan-page");
  return {
    checkoutClient: createCheckoutClient({
      supabaseUrl: config.supabaseUrl,
      publishableKey: config.supabasePublishableKey,
    }),
    publicSiteUrl: config.publicSiteUrl,
    logger,
  };
}
