/**
 * Configuration of the `discord-interactions` function, read once from the environment, and the
 * production dependencies built from it.
 */
import { z } from "zod";
import { DEFAULT_LINK_TOKEN_TTL_SECONDS } from "../_core/link_token.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { createDiscordApi, DISCORD_DEFAULT_BASE_URL } from "../_shared/discord_api.ts";
import { fields, parseEnv, requireDatabaseUrl, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { createDriftReader, createFollowUp } from "./admin_drift.ts";
import { createAdminStore } from "./admin_store.ts";
import type { InteractionsDeps } from "./app.ts";
import { createSignatureVerifier } from "./signature.ts";
import { createSubscribeLinkStore } from "./subscribe_links.ts";

/** Discord refuses link buttons whose URL is longer than this. */
const MAX_BUTTON_URL = 512;
/** "/manage/" plus a 43-character token. */
const LINK_PATH_LENGTH = "/manage/".length + 43;

const shape = {
  DISCORD_PUBLIC_KEY: fields.hexKey.describe(
    "the application's public key (Developer Portal > General Information)",
  ),
  DISCORD_APPLICATION_ID: fields.snowflake.describe(
    "the application id (Developer Portal > General Information)",
  ),
  PUBLIC_SITE_URL: z.string().url().regex(/^https?:\/\//, "expected an http(s) URL")
    .transform((url) => url.replace(/\/+$/, ""))
    .refine((url) => url.length + LINK_PATH_LENGTH <= MAX_BUTTON_URL, {
      message: `too long: links must fit Discord's ${MAX_BUTTON_URL}-character button URL limit`,
    })
    .describe("where the plan page is served, e.g. https://rolepass.example.com"),
  LINK_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(24 * 60 * 60)
    .default(DEFAULT_LINK_TOKEN_TTL_SECONDS)
    .describe("how long a /subscribe link works, in seconds (default 900)"),
  STRIPE_SECRET_KEY: z.string().optional().describe(
    "only its mode is read here: /rolepass links test customers to the Dashboard's test pages",
  ),
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN.optional().describe(
    "only for /rolepass drift, which reads the server's members; without it drift says so",
  ),
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL),
  SUPABASE_DB_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
};

/** The function's configuration. */
export interface InteractionsConfig {
  publicKey: string;
  applicationId: string;
  publicSiteUrl: string;
  linkTokenTtlSeconds: number;
  databaseUrl: string;
  stripeTestMode: boolean;
  /** Null when the deployment has none: `/rolepass drift` then says it cannot run. */
  botToken: string | null;
  discordApiBaseUrl: string;
}

/** Reads the configuration, throwing a ConfigError that names every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): InteractionsConfig {
  const parsed = parseEnv(shape, env);
  const databaseUrl = requireDatabaseUrl(env);
  return {
    publicKey: parsed.DISCORD_PUBLIC_KEY,
    applicationId: parsed.DISCORD_APPLICATION_ID,
    publicSiteUrl: parsed.PUBLIC_SITE_URL,
    linkTokenTtlSeconds: parsed.LINK_TOKEN_TTL_SECONDS,
    databaseUrl,
    stripeTestMode: /^(sk|rk)_test_/.test(parsed.STRIPE_SECRET_KEY ?? ""),
    botToken: parsed.DISCORD_BOT_TOKEN ?? null,
    discordApiBaseUrl: parsed.DISCORD_API_BASE_URL,
  };
}

/** `EdgeRuntime.waitUntil` on Supabase's Edge Runtime; undefined elsewhere. */
function edgeRuntimeWaitUntil(): ((work: Promise<unknown>) => void) | undefined {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: (p: Promise<unknown>) => void } })
    .EdgeRuntime;
  return runtime?.waitUntil ? (work) => runtime.waitUntil!(work) : undefined;
}

/** Production dependencies and the database client (to close it in tests and tools). */
export function depsFromConfig(
  config: InteractionsConfig,
  sql: Sql = createSql(config.databaseUrl),
  runInBackground = edgeRuntimeWaitUntil(),
): InteractionsDeps & { sql: Sql } {
  const api = config.botToken ? createDiscordApi(config.discordApiBaseUrl, config.botToken) : null;
  return {
    readDrift: api ? createDriftReader(sql, api, createLogger("discord-interactions")) : null,
    followUp: api ? createFollowUp(api, config.applicationId) : undefined,
    runInBackground,
    sql,
    verifySignature: createSignatureVerifier(config.publicKey),
    subscribeLinks: createSubscribeLinkStore(sql),
    adminStore: createAdminStore(sql),
    stripeTestMode: config.stripeTestMode,
    applicationId: config.applicationId,
    publicSiteUrl: config.publicSiteUrl,
    linkTokenTtlSeconds: config.linkTokenTtlSeconds,
  };
}
