/**
 * Environment parsing: every function reads its configuration once, through a zod schema, and
 * fails at boot with a message naming each variable that is missing or malformed.
 */
import { z } from "zod";

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
  snowflake: z.string().regex(/^[0-9]{17,20}$/, "expected a Discord id (17-20 digits)"),
  hexKey: z.string().regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex characters"),
  secret: z.string().min(16, "expected at least 16 characters"),
};
