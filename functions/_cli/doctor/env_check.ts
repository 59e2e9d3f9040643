/**
 * Check: the environment is complete and well-formed. Every variable the functions read in
 * production is checked on its own, so the operator sees all that is wrong at once, and the
 * other checks get the values that are usable.
 */
import { z } from "zod";
import { DISCORD_DEFAULT_BASE_URL } from "../../_shared/discord_api.ts";
import { fields } from "../../_shared/env.ts";
import { STRIPE_DEFAULT_BASE_URL } from "../../_shared/stripe_client.ts";
import { fail, type Finding, pass, warn } from "./finding.ts";

const httpUrl = z.string().url().refine((text) => /^https?:\/\//.test(text), {
  message: "expected an http(s) URL",
});

/** Each variable with its schema and where the operator gets it. */
export const DOCTOR_ENV = {
  DATABASE_URL: {
    schema: z.string().regex(/^postgres(ql)?:\/\//, { message: "expected postgresql://..." }),
    where: "Supabase Dashboard → Connect → connection string (or SUPABASE_DB_URL)",
  },
  DISCORD_APPLICATION_ID: {
    schema: fields.snowflake,
    where: "Discord Developer Portal → your application → General Information → Application ID",
  },
  DISCORD_PUBLIC_KEY: {
    schema: fields.hexKey,
    where: "Discord Developer Portal → your application → General Information → Public Key",
  },
  DISCORD_BOT_TOKEN: {
    schema: z.string().refine((text) => !/^Bot\s/i.test(text), {
      message: 'give the token alone, without the "Bot " prefix',
    }).refine((text) => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(text), {
      message: "a bot token has three parts separated by dots",
    }),
    where: "Discord Developer Portal → your application → Bot → Reset Token",
  },
  DISCORD_API_BASE_URL: {
    schema: httpUrl.default(DISCORD_DEFAULT_BASE_URL),
    where: "leave unset to use Discord itself",
  },
  STRIPE_SECRET_KEY: {
    schema: z.string().regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/, {
      message: "expected a key starting with sk_live_, sk_test_, rk_live_ or rk_test_",
    }),
    where: "Stripe Dashboard → Developers → API keys → Secret key",
  },
  STRIPE_WEBHOOK_SECRET: {
    schema: z.string().regex(/^whsec_[A-Za-z0-9_]+(,whsec_[A-Za-z0-9_]+)*$/, {
      message: "expected whsec_... (several separated by commas while rotating)",
    }),
    where: "Stripe Dashboard → Developers → Webhooks → your endpoint → Signing secret",
  },
  STRIPE_API_BASE_URL: {
    schema: httpUrl.default(STRIPE_DEFAULT_BASE_URL),
    where: "leave unset to use Stripe itself",
  },
  ROLE_SYNC_SECRET: {
    schema: fields.secret,
    where: "any long random string, e.g. `openssl rand -hex 32`; the same value goes into Vault",
  },
  PUBLIC_SITE_URL: {
    schema: httpUrl,
    where: "the URL where the plan page is deployed (Deno Deploy)",
  },
  SUPABASE_URL: {
    schema: httpUrl,
    where: "Supabase Dashboard → Project Settings → API → Project URL",
  },
  SUPABASE_PUBLISHABLE_KEY: {
    schema: z.string().min(20, { message: "too short for a Supabase key" }),
    where: "Supabase Dashboard → Project Settings → API Keys → Publishable key",
  },
} as const;

type EnvName = keyof typeof DOCTOR_ENV;

/** The variables that parsed; the others are absent. */
export type DoctorEnv = {
  [K in EnvName]?: z.infer<(typeof DOCTOR_ENV)[K]["schema"]>;
};

function isLocalUrl(text: string): boolean {
  const host = new URL(text).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

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
      findings.push(fail("env", `${name} is malformed (${reason})`, `set it: ${where}`));
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
  if (parsed.PUBLIC_SITE_URL?.startsWith("http://") && !isLocalUrl(parsed.PUBLIC_SITE_URL)) {
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
