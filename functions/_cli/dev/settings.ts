/**
 * The dev runner's configuration: which mode (live credentials or the local sandbox), which
 * database, which port, parsed once with zod. Every problem names the variable and where to get it.
 */
import { z } from "zod";
import { variableSchemas } from "../../_shared/env.ts";
import { TaskFailure, USAGE_EXIT_CODE } from "../task.ts";
import { CREDENTIAL_NAMES, variableNamed } from "./variables.ts";

/** The default port: not Supabase's 54321, so the runner and `supabase start` can coexist. */
export const DEFAULT_PORT = 8787;

/**
 * Thrown when the environment cannot start the runner; the message lists every problem, and the
 * task exits with the usage code, as for any configuration error.
 */
export class DevConfigError extends TaskFailure {
  constructor(readonly problems: string[]) {
    super(
      `Cannot start the dev runner:\n${problems.map((problem) => `  - ${problem}`).join("\n")}\n` +
        "See .env.example for every variable.",
      USAGE_EXIT_CODE,
    );
    this.name = "DevConfigError";
  }
}

/** Real Discord and Stripe credentials (live mode). */
export interface LiveCredentials {
  discordPublicKey: string;
  discordApplicationId: string;
  discordBotToken: string;
  stripeSecretKey: string;
  stripeWebhookSecret: string;
  discordApiBaseUrl?: string;
  stripeApiBaseUrl?: string;
}

/** What the runner was asked to do. */
export interface DevSettings {
  /** "sandbox" when no credential at all is set: the doubles stand in for Stripe and Discord. */
  mode: "live" | "sandbox";
  port: number;
  /** An external PostgreSQL; absent means the embedded PGlite database. */
  databaseUrl?: string;
  /** Fixed role-sync secret; absent means a fresh random one per run. */
  roleSyncSecret?: string;
  publicSiteUrl?: string;
  supabaseUrl?: string;
  supabasePublishableKey?: string;
  /** Present in live mode only. */
  credentials?: LiveCredentials;
}

const liveShape = {
  DISCORD_PUBLIC_KEY: variableSchemas.DISCORD_PUBLIC_KEY,
  DISCORD_APPLICATION_ID: variableSchemas.DISCORD_APPLICATION_ID,
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN,
  STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY,
  STRIPE_WEBHOOK_SECRET: variableSchemas.STRIPE_WEBHOOK_SECRET,
  DISCORD_API_BASE_URL: variableSchemas.DISCORD_API_BASE_URL.optional(),
  STRIPE_API_BASE_URL: variableSchemas.STRIPE_API_BASE_URL.optional(),
};

const commonShape = {
  PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORT),
  DATABASE_URL: variableSchemas.DATABASE_URL.optional(),
  ROLE_SYNC_SECRET: variableSchemas.ROLE_SYNC_SECRET.optional(),
  PUBLIC_SITE_URL: variableSchemas.PUBLIC_SITE_URL.optional(),
  SUPABASE_URL: variableSchemas.SUPABASE_URL.optional(),
  SUPABASE_PUBLISHABLE_KEY: variableSchemas.SUPABASE_PUBLISHABLE_KEY.optional(),
};

function problemsOf(error: z.ZodError, given: Record<string, string>): string[] {
  return [
    ...new Set(error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "");
      const what = given[name] === undefined ? "is missing" : `is malformed (${issue.message})`;
      const variable = variableNamed(name);
      return variable
        ? `${name} ${what}. What it is for: ${variable.purpose}. Where to get it: ${variable.source}`
        : `${name} ${what}`;
    })),
  ];
}

/**
 * Parses the runner's settings from `env` (the process environment merged with `.env`). With none
 * of the Discord and Stripe credentials set, the runner starts the sandbox; with some, all are
 * required, so a half-filled `.env` never silently falls back to fake services.
 */
export function loadDevSettings(env: Record<string, string | undefined>): DevSettings {
  const given = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] =>
      entry[1] !== undefined && entry[1] !== ""
    ),
  );
  const sandbox = CREDENTIAL_NAMES.every((name) => given[name] === undefined);
  const shape = sandbox ? commonShape : { ...commonShape, ...liveShape };
  const result = z.object(shape).safeParse(given);
  if (!result.success) throw new DevConfigError(problemsOf(result.error, given));
  const common = z.object(commonShape).parse(given);
  const settings: DevSettings = {
    mode: sandbox ? "sandbox" : "live",
    port: common.PORT,
    databaseUrl: common.DATABASE_URL,
    roleSyncSecret: common.ROLE_SYNC_SECRET,
    publicSiteUrl: common.PUBLIC_SITE_URL,
    supabaseUrl: common.SUPABASE_URL,
    supabasePublishableKey: common.SUPABASE_PUBLISHABLE_KEY,
  };
  if (!sandbox) {
    const live = z.object(liveShape).parse(given);
    settings.credentials = {
      discordPublicKey: live.DISCORD_PUBLIC_KEY,
      discordApplicationId: live.DISCORD_APPLICATION_ID,
      discordBotToken: live.DISCORD_BOT_TOKEN,
      stripeSecretKey: live.STRIPE_SECRET_KEY,
      stripeWebhookSecret: live.STRIPE_WEBHOOK_SECRET.join(","),
      discordApiBaseUrl: live.DISCORD_API_BASE_URL,
      stripeApiBaseUrl: live.STRIPE_API_BASE_URL,
    };
  }
  return settings;
}
