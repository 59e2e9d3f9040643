/**
 * Check: the environment is complete and well-formed. Every variable the functions read in
 * production is checked on its own, so the operator sees all that is wrong at once, and the
 * other checks get the values that are usable.
 */
import { z } from "zod";
import { DISCORD_DEFAULT_BASE_URL } from "../../_shared/discord_api.ts";
import { isLoopbackUrl, variableSchemas } from "../../_shared/env.ts";
import { STRIPE_DEFAULT_BASE_URL } from "../../_shared/stripe_gateway.ts";
import { fail, type Finding, pass, warn } from "./finding.ts";

/** Each variable with its schema and where the operator gets it. */
export const DOCTOR_ENV = {
  DATABASE_URL: {
    schema: variableSchemas.DATABASE_URL,
    where: "Supabase Dashboard → Connect → connection string (or SUPABASE_DB_URL)",
  },
  DISCORD_APPLICATION_ID: {
    schema: variableSchemas.DISCORD_APPLICATION_ID,
    where: "Discord Developer Portal → your application → General Information → Application ID",
  },
  DISCORD_PUBLIC_KEY: {
    schema: variableSchemas.DISCORD_PUBLIC_KEY,
    where: "Discord Developer Portal → your application → General Information → Public Key",
  },
  DISCORD_BOT_TOKEN: {
    schema: variableSchemas.DISCORD_BOT_TOKEN,
    where: "Discord Developer Portal → your application → Bot → Reset Token",
  },
  DISCORD_API_BASE_URL: {
    schema: variableSchemas.DISCORD_API_BASE_URL.default(DISCORD_DEFAULT_BASE_URL),
    where: "leave unset to use Discord itself",
  },
  STRIPE_SECRET_KEY: {
    schema: variableSchemas.STRIPE_SECRET_KEY,
    where: "Stripe Dashboard → Developers → API keys → Secret key",
  },
  STRIPE_WEBHOOK_SECRET: {
    schema: variableSchemas.STRIPE_WEBHOOK_SECRET,
    where: "Stripe Dashboard → Developers → Webhooks → your endpoint → Signing secret",
  },
  STRIPE_API_BASE_URL: {
    schema: variableSchemas.STRIPE_API_BASE_URL.default(STRIPE_DEFAULT_BASE_URL),
    where: "leave unset to use Stripe itself",
  },
  ROLE_SYNC_SECRET: {
    schema: variableSchemas.ROLE_SYNC_SECRET,
    where: "any long random string, e.g. `openssl rand -hex 32`; the same value goes into Vault",
  },
  PUBLIC_SITE_URL: {
    schema: variableSchemas.PUBLIC_SITE_URL,
    where: "the URL where the plan page is deployed (Deno Deploy)",
  },
  SUPABASE_URL: {
    schema: variableSchemas.SUPABASE_URL,
    where: "Supabase Dashboard → Project Settings → API → Project URL",
  },
  SUPABASE_PUBLISHABLE_KEY: {
    schema: variableSchemas.SUPABASE_PUBLISHABLE_KEY,
    where: "Supabase Dashboard → Project Settings → API Keys → Publishable key",
  },
} as const;

type EnvName = keyof typeof DOCTOR_ENV;

/** The variables that parsed; the others are absent. */
export type DoctorEnv = {
  [K in EnvName]?: z.infer<(typeof DOCTOR_ENV)[K]["schema"]>;
};

/**
 * Checks every variable; DATABASE_URL falls back from SUPABASE_DB_URL as the functions do.
 * Returns the findings and the usable values.
 */
export function checkEnvironment(
  raw: Record<string, string | undefined>,
): { findings: Finding[]; env: DoctorEnv } {
  const source: Record<string, string | undefined> = {
    ...raw,
    DATABASE_URL: raw.SUPABASE_DB_URL || raw.DATABASE_URL || undefined,
  };
  const findings: Finding[] = [];
  const env: Record<string, unknown> = {};
  for (const [name, { schema, where }] of Object.entries(DOCTOR_ENV)) {
    const value = source[name] === "" ? undefined : source[name];
    const result = (schema as z.ZodType).safeParse(value);
    if (result.success) {
      env[name] = result.data;
    } else if (value === undefined) {
      findings.push(fail("env", `${name} is not set`, `set it: ${where}`));
    } else {
      const reason = result.error.issues[0]?.message ?? "malformed";
      findings.push(
        fail("env", `${name} is set but malformed (${reason})`, `correct its value: ${where}`),
      );
    }
  }
  const parsed = env as DoctorEnv;
  if (parsed.STRIPE_SECRET_KEY?.includes("_test_")) {
    findings.push(warn(
      "env",
      "STRIPE_SECRET_KEY is a test-mode key: members cannot really pay",
      "fine for a rehearsal; use the live secret key (and live prices) to go live",
    ));
  }
  if (parsed.PUBLIC_SITE_URL && isLoopbackUrl(parsed.PUBLIC_SITE_URL)) {
    const live = parsed.STRIPE_SECRET_KEY?.includes("_live_") ?? false;
    findings.push((live ? fail : warn)(
      "env",
      `PUBLIC_SITE_URL (${parsed.PUBLIC_SITE_URL}) is on this machine: the links /subscribe ` +
        "sends would send members to a page only this machine can open",
      "set PUBLIC_SITE_URL to the plan page's public https URL (Deno Deploy), or a tunnel to it",
    ));
  }
  if (parsed.PUBLIC_SITE_URL?.startsWith("http://") && !isLoopbackUrl(parsed.PUBLIC_SITE_URL)) {
    findings.push(fail(
      "env",
      `PUBLIC_SITE_URL (${parsed.PUBLIC_SITE_URL}) is not https: links in Discord would send ` +
        "members to an unencrypted page",
      "serve the plan page over https (Deno Deploy does) and set its https URL",
    ));
  }
  if (!findings.some((finding) => finding.status === "fail")) {
    findings.unshift(pass("env", "Environment: every variable is set and well-formed"));
  }
  return { findings, env: parsed };
}
