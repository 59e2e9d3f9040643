/**
 * Environment parsing: every function reads its configuration once, through a zod schema, and
 * fails at boot with a message naming each variable that is missing or malformed.
 */
import { z } from "zod";
import { discordIdSchema } from "../_core/discord_id.ts";

/** Thrown when the environment does not satisfy a function's configuration schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * Parses `env` with `schema`. Each field's zod `.describe()` text says where to get the value and
 * is included in the error.
 */
export function parseEnv<T extends z.ZodRawShape>(
  shape: T,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): z.infer<z.ZodObject<T>> {
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ""),
  );
  const result = z.object(shape).safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "");
    const hint = (shape[name] as z.ZodType | undefined)?.description;
    const what = cleaned[name] === undefined ? "is missing" : `is invalid (${issue.message})`;
    return `${name} ${what}${hint ? `: ${hint}` : ""}`;
  });
  throw new ConfigError([...new Set(problems)]);
}

/** The database URL the functions use: SUPABASE_DB_URL, falling back to DATABASE_URL. */
export function databaseUrlFrom(env: Record<string, string | undefined>): string | undefined {
  return env.SUPABASE_DB_URL || env.DATABASE_URL || undefined;
}

/** The database URL, or a ConfigError naming the variable to set. */
export function requireDatabaseUrl(env: Record<string, string | undefined>): string {
  const databaseUrl = databaseUrlFrom(env);
  if (!databaseUrl) {
    throw new ConfigError([
      "SUPABASE_DB_URL is missing: the Postgres connection string (DATABASE_URL is read as a fallback)",
    ]);
  }
  return databaseUrl;
}

/** Reusable field schemas. */
export const fields = {
  url: z.string().url(),
  snowflake: discordIdSchema,
  hexKey: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex characters"),
  secret: z.string().min(16, "expected at least 16 characters"),
};

const httpUrl = z.string().url().refine((text) => /^https?:\/\//.test(text), {
  message: "expected an http(s) URL",
});

const WEBHOOK_SECRET_MESSAGE = "expected whsec_... (several separated by commas while rotating)";

/**
 * What a valid value is, for each variable more than one part of rolepass reads: the functions'
 * `loadConfig`, the dev runner and `deno task doctor` all parse with these, so they cannot
 * disagree on what they accept.
 */
export const variableSchemas = {
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "expected postgresql://..."),
  DISCORD_PUBLIC_KEY: fields.hexKey,
  DISCORD_APPLICATION_ID: fields.snowflake,
  DISCORD_BOT_TOKEN: z.string()
    .refine((text) => !/^Bot\s/i.test(text), 'give the token alone, without the "Bot " prefix')
    .refine(
      (text) => /^[A-Za-z0-9._-]{20,}$/.test(text),
      "expected a bot token (about 70 letters, digits, dots, - and _)",
    ),
  DISCORD_API_BASE_URL: httpUrl,
  STRIPE_SECRET_KEY: z.string().regex(
    /^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/,
    "expected sk_test_..., sk_live_... or a restricted rk_ key",
  ),
  /** Parses to the list of secrets: several, comma-separated, while rotating. */
  STRIPE_WEBHOOK_SECRET: z.string()
    .transform((value) => value.split(",").map((secret) => secret.trim()))
    .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9_]+$/, WEBHOOK_SECRET_MESSAGE)).min(1)),
  STRIPE_API_BASE_URL: httpUrl,
  ROLE_SYNC_SECRET: z.string().min(
    32,
    "expected at least 32 characters, e.g. from `openssl rand -hex 32`",
  ),
  PUBLIC_SITE_URL: httpUrl,
  SUPABASE_URL: httpUrl,
  SUPABASE_PUBLISHABLE_KEY: z.string().min(20, "too short for a Supabase key"),
} as const;

/** Hosts that name this machine: a URL on one of them is unreachable for anyone else. */
export function isLoopbackUrl(text: string): boolean {
  let host: string;
  try {
    host = new URL(text).hostname;
  } catch {
    return false;
  }
  return host === "localhost" || host.endsWith(".localhost") || host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}
