/**
 * Every environment variable the dev runner reads, with what it is for and where an operator gets
 * it. Start-up errors and `.env.example` say the same thing because both come from here (a test
 * checks that `.env.example` lists each one).
 */

/** One variable the operator may set. */
export interface Variable {
  name: string;
  /** What the system uses it for. */
  purpose: string;
  /** Where to find or how to make the value. */
  source: string;
  /** Needed outside the sandbox (with real Discord and Stripe credentials). */
  requiredLive: boolean;
}

/** The credentials whose absence, all together, starts the local sandbox. */
export const CREDENTIAL_NAMES = [
  "DISCORD_PUBLIC_KEY",
  "DISCORD_APPLICATION_ID",
  "DISCORD_BOT_TOKEN",
  "STRIPE_SECRET_KEY",
  "STRIPE_WEBHOOK_SECRET",
] as const;

/** The catalogue, in the order `.env.example` lists it. */
export const VARIABLES: readonly Variable[] = [
  {
    name: "DISCORD_PUBLIC_KEY",
    purpose: "verifies the Ed25519 signature of every interaction Discord sends",
    source:
      "Discord Developer Portal > your application > General Information > Public Key (64 hex characters)",
    requiredLive: true,
  },
  {
    name: "DISCORD_APPLICATION_ID",
    purpose: "the application whose /subscribe command and follow-up messages are used",
    source: "Discord Developer Portal > your application > General Information > Application ID",
    requiredLive: true,
  },
  {
    name: "DISCORD_BOT_TOKEN",
    purpose: "lets role-sync grant and revoke roles and send DMs as the bot",
    source: "Discord Developer Portal > your application > Bot > Reset Token (shown once)",
    requiredLive: true,
  },
  {
    name: "DISCORD_API_BASE_URL",
    purpose: "Discord REST API root; only tests and the sandbox change it",
    source: "leave unset (default https://discord.com/api/v10)",
    requiredLive: false,
  },
  {
    name: "STRIPE_SECRET_KEY",
    purpose: "creates customers, Checkout and Portal sessions and re-reads subscriptions",
    source:
      "Stripe Dashboard > Developers > API keys > Secret key (sk_test_... in test mode; a restricted rk_ key works too)",
    requiredLive: true,
  },
  {
    name: "STRIPE_WEBHOOK_SECRET",
    purpose:
      "verifies the Stripe-Signature of webhook events; several comma-separated while rotating",
    source:
      "printed by `stripe listen --forward-to ...` (whsec_...), or Stripe Dashboard > Developers > Webhooks > your endpoint > Signing secret",
    requiredLive: true,
  },
  {
    name: "STRIPE_API_BASE_URL",
    purpose: "Stripe API root; only tests and the sandbox change it",
    source: "leave unset (default https://api.stripe.com)",
    requiredLive: false,
  },
  {
    name: "ROLE_SYNC_SECRET",
    purpose:
      "shared secret the database webhook and the cron sweep send to role-sync (header x-rolepass-secret); the dev runner also writes it to Vault",
    source:
      "make one: `openssl rand -hex 32` (at least 32 characters); leave unset locally to get a fresh one per run",
    requiredLive: false,
  },
  {
    name: "PUBLIC_SITE_URL",
    purpose: "where the plan page is served; the links sent in Discord point here",
    source:
      "leave unset locally (the runner's own URL); in production the plan page's Deno Deploy URL",
    requiredLive: false,
  },
  {
    name: "SUPABASE_URL",
    purpose: "where the plan page calls the checkout function",
    source:
      "leave unset locally (the runner itself); in production Supabase Dashboard > Project Settings > API > Project URL",
    requiredLive: false,
  },
  {
    name: "SUPABASE_PUBLISHABLE_KEY",
    purpose: "the publishable key the plan page sends with its calls to the checkout function",
    source:
      "leave unset locally; in production Supabase Dashboard > Project Settings > API Keys > Publishable key (sb_publishable_...)",
    requiredLive: false,
  },
  {
    name: "DATABASE_URL",
    purpose:
      "a PostgreSQL to use instead of the embedded one (bootstrapped and migrated on start); functions read SUPABASE_DB_URL, falling back to it",
    source:
      "leave unset to use the embedded PGlite database in .data/pglite; or e.g. postgresql://postgres:postgres@127.0.0.1:5432/rolepass",
    requiredLive: false,
  },
  {
    name: "PORT",
    purpose: "the dev runner's HTTP port",
    source: "leave unset for 8787",
    requiredLive: false,
  },
];

/** Looks a variable up by name. */
export function variableNamed(name: string): Variable | undefined {
  return VARIABLES.find((variable) => variable.name === name);
}
