/**
 * The dev runner: the whole system in one process. It opens and migrates the database, serves
 * every Edge Function under `/functions/v1/<name>` and the plan page at `/`, points Vault's
 * role-sync URL and secret at itself, and delivers the database webhook and the cron sweep
 * (functions/_cli/dispatcher.ts). On a real Supabase database (DATABASE_URL of `supabase start`)
 * pg_net and pg_cron do that themselves and the queue it polls stays empty.
 * With no credentials it starts the local sandbox, where the Stripe and Discord doubles stand in.
 */
import { createSql } from "../../_shared/db.ts";
import { createLogger } from "../../_shared/log.ts";
import { startDispatcher } from "../dispatcher.ts";
import type { VariableSource } from "../task.ts";
import { maskDatabaseUrl, startupBanner } from "./banner.ts";
import { openRunnerDatabase, type RunnerDatabase } from "./database.ts";
import { type BuiltApp, FUNCTION_FACTORIES, PLAN_PAGE_FACTORY } from "./function_registry.ts";
import { createGateway, type FetchHandler } from "./gateway.ts";
import { type DevSettings, type LiveCredentials, loadDevSettings } from "./settings.ts";
import { CREDENTIAL_NAMES } from "./variables.ts";
import { pointRoleSyncAt } from "./vault.ts";

/** What a started runner exposes (to dev.ts and to tests). */
export interface DevRunner {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  settings: DevSettings;
  databaseUrl: string;
  /** The start-up message. */
  banner: string;
  stop(): Promise<void>;
}

/** Options for {@link startDevRunner}. */
export interface DevRunnerOptions {
  /** The process environment merged with `.env`. */
  env: Record<string, string | undefined>;
  /** Where each variable of `env` came from; default: all from the environment. */
  sources?: Record<string, VariableSource>;
  /**
   * Where PGlite persists; default `.data/pglite`, or "memory://" (a throwaway database) in the
   * sandbox.
   */
  dataDir?: string;
  /** Interface to listen on; default 127.0.0.1. */
  hostname?: string;
  /** How often the cron sweep runs; default every minute, as pg_cron's `* * * * *`. */
  cronIntervalMs?: number;
}

/** The extra routes and credentials a sandbox contributes. */
export interface SandboxParts {
  credentials: LiveCredentials;
  extras: Record<string, FetchHandler>;
  /** Wraps the plan page so that its pages carry the sandbox label. */
  labelPage: (handler: FetchHandler) => FetchHandler;
  stop(): Promise<void>;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The environment each function's `loadConfig` reads, as Supabase would provide it. */
export function functionEnvironment(
  env: Record<string, string | undefined>,
  settings: DevSettings,
  facts: { url: string; databaseUrl: string; credentials: LiveCredentials; roleSyncSecret: string },
): Record<string, string> {
  const passed = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  const { credentials } = facts;
  return {
    ...passed,
    SUPABASE_DB_URL: facts.databaseUrl,
    DATABASE_URL: facts.databaseUrl,
    DISCORD_PUBLIC_KEY: credentials.discordPublicKey,
    DISCORD_APPLICATION_ID: credentials.discordApplicationId,
    DISCORD_BOT_TOKEN: credentials.discordBotToken,
    STRIPE_SECRET_KEY: credentials.stripeSecretKey,
    STRIPE_WEBHOOK_SECRET: credentials.stripeWebhookSecret,
    ...(credentials.discordApiBaseUrl
      ? { DISCORD_API_BASE_URL: credentials.discordApiBaseUrl }
      : {}),
    ...(credentials.stripeApiBaseUrl ? { STRIPE_API_BASE_URL: credentials.stripeApiBaseUrl } : {}),
    ROLE_SYNC_SECRET: facts.roleSyncSecret,
    PUBLIC_SITE_URL: settings.publicSiteUrl ?? facts.url,
    SUPABASE_URL: settings.supabaseUrl ?? facts.url,
    SUPABASE_PUBLISHABLE_KEY: settings.supabasePublishableKey ?? "sb_publishable_dev_runner",
    PORT: new URL(facts.url).port,
  };
}

/**
 * Starts the runner. `startSandbox` is called only in sandbox mode, once the runner's URL is
 * known, so the doubles can deliver webhooks back to it.
 */
export async function startDevRunner(
  options: DevRunnerOptions,
  startSandbox?: (runnerUrl: string, databaseUrl: string) => Promise<SandboxParts>,
): Promise<DevRunner> {
  const log = createLogger("dev-runner");
  const settings = loadDevSettings(options.env);
  if (settings.mode === "sandbox" && !startSandbox) {
    throw new Error("Cannot start the sandbox: this runner was built without it");
  }
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error) => log.warn("cleanup failed", { error }));
    }
  };

  try {
    // The doubles keep their state in memory, so a persisted sandbox database would point at
    // customers and prices that no longer exist: the sandbox starts from scratch every time.
    const dataDir = options.dataDir ?? (settings.mode === "sandbox" ? "memory://" : ".data/pglite");
    const database: RunnerDatabase = await openRunnerDatabase(settings.databaseUrl, dataDir);
    cleanups.push(() => database.stop());

    let handler: FetchHandler = () => new Response("Starting", { status: 503 });
    const server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: settings.port,
      onListen: () => {},
    }, (request) => handler(request));
    cleanups.push(() => server.shutdown());
    const url = `http://${options.hostname ?? "127.0.0.1"}:${server.addr.port}`;

    let credentials: LiveCredentials;
    let extras: Record<string, FetchHandler> = {};
    let labelPage = (page: FetchHandler) => page;
    if (settings.mode === "sandbox") {
      const sandbox = await startSandbox!(url, database.url);
      cleanups.push(() => sandbox.stop());
      credentials = sandbox.credentials;
      extras = sandbox.extras;
      labelPage = sandbox.labelPage;
    } else {
      credentials = settings.credentials!;
    }

    const roleSyncSecret = settings.roleSyncSecret ?? randomSecret();
    const env = functionEnvironment(options.env, settings, {
      url,
      databaseUrl: database.url,
      credentials,
      roleSyncSecret,
    });

    const apps: Record<string, BuiltApp> = {};
    for (const [name, factory] of Object.entries(FUNCTION_FACTORIES)) {
      apps[name] = await factory(env);
      const app = apps[name];
      if (app.close) cleanups.push(() => app.close!());
    }
    const planPage = PLAN_PAGE_FACTORY ? await PLAN_PAGE_FACTORY(env) : null;
    if (planPage?.close) cleanups.push(() => planPage.close!());

    const sql = createSql(database.url, { max: 1 });
    try {
      await pointRoleSyncAt(sql, `${url}/functions/v1/role-sync`, roleSyncSecret);
    } finally {
      await sql.end();
    }

    const gateway = createGateway({
      functions: Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.fetch])),
      planPage: planPage ? labelPage(planPage.fetch) : undefined,
      extras,
    });
    handler = (request) => gateway.fetch(request);

    // pg_net and pg_cron stand-ins record requests and jobs; the dispatcher sends them.
    const dispatcher = await startDispatcher({
      databaseUrl: database.url,
      cronIntervalMs: options.cronIntervalMs,
    });
    cleanups.push(() => dispatcher.stop());

    const banner = startupBanner({
      mode: settings.mode,
      url,
      database: database.kind === "embedded"
        ? `embedded PGlite (${dataDir === "memory://" ? "in memory" : dataDir}) at ${
          maskDatabaseUrl(database.url)
        }`
        : maskDatabaseUrl(database.url),
      functions: Object.keys(apps),
      credentialSources: settings.mode === "live"
        ? Object.fromEntries(
          CREDENTIAL_NAMES.map((name) => [name, options.sources?.[name] ?? "environment"]),
        )
        : undefined,
      publicSiteUrl: settings.publicSiteUrl,
    });
    return { url, settings, databaseUrl: database.url, banner, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
