/**
 * The discord-interactions configuration fails at boot, naming each wrong variable.
 */
import { throws } from "node:assert/strict";
import { assertEquals } from "../harness/assert.ts";
import { loadConfig } from "../../functions/discord-interactions/config.ts";
import { ConfigError } from "../../functions/_shared/env.ts";

const VALID = {
  DISCORD_PUBLIC_KEY: "c5568d0facd66bddee281dcb9c8ac02e169c5c20741b215b2539a96bb183c5d6",
  DISCORD_APPLICATION_ID: "827290144020496384",
  PUBLIC_SITE_URL: "https://plans.example.com/",
  SUPABASE_DB_URL: "postgres://postgres@127.0.0.1:5432/postgres",
};

function configError(env: Record<string, string | undefined>, ...expected: string[]) {
  throws(() => loadConfig(env), (error: unknown) => {
    if (!(error instanceof ConfigError)) return false;
    for (const text of expected) {
      if (!error.message.includes(text)) throw new Error(`"${text}" not in ${error.message}`);
    }
    return true;
  });
}

Deno.test("a valid environment gives the defaults and a site URL without trailing slash", () => {
  assertEquals(loadConfig(VALID), {
    publicKey: VALID.DISCORD_PUBLIC_KEY,
    applicationId: VALID.DISCORD_APPLICATION_ID,
    publicSiteUrl: "https://plans.example.com",
    linkTokenTtlSeconds: 900,
    databaseUrl: VALID.SUPABASE_DB_URL,
    stripeTestMode: false,
    botToken: null,
    discordApiBaseUrl: "https://discord.com/api/v10",
  });
});

Deno.test("DISCORD_BOT_TOKEN is optional, for /rolepass drift only, and checked when given", () => {
  const token = "test-bot-token-0123456789abcdef";
  assertEquals(loadConfig({ ...VALID, DISCORD_BOT_TOKEN: token }).botToken, token);
  configError({ ...VALID, DISCORD_BOT_TOKEN: `Bot ${token}` }, "DISCORD_BOT_TOKEN");
});

Deno.test("a test-mode STRIPE_SECRET_KEY sends /rolepass's Dashboard links to test data", () => {
  assertEquals(loadConfig({ ...VALID, STRIPE_SECRET_KEY: "sk_test_x" }).stripeTestMode, true);
  assertEquals(loadConfig({ ...VALID, STRIPE_SECRET_KEY: "rk_test_x" }).stripeTestMode, true);
  assertEquals(loadConfig({ ...VALID, STRIPE_SECRET_KEY: "sk_live_x" }).stripeTestMode, false);
});

Deno.test("DATABASE_URL is the fallback for SUPABASE_DB_URL", () => {
  const config = loadConfig({ ...VALID, SUPABASE_DB_URL: undefined, DATABASE_URL: "postgres://x" });
  assertEquals(config.databaseUrl, "postgres://x");
});

Deno.test("each missing or malformed variable is named", () => {
  configError(
    {},
    "DISCORD_PUBLIC_KEY is missing",
    "DISCORD_APPLICATION_ID is missing",
    "PUBLIC_SITE_URL is missing",
  );
  configError({ ...VALID, DISCORD_PUBLIC_KEY: "abc" }, "DISCORD_PUBLIC_KEY is invalid");
  configError({ ...VALID, PUBLIC_SITE_URL: "ftp://x.example" }, "PUBLIC_SITE_URL is invalid");
  configError({ ...VALID, LINK_TOKEN_TTL_SECONDS: "5" }, "LINK_TOKEN_TTL_SECONDS is invalid");
  configError({ ...VALID, SUPABASE_DB_URL: undefined }, "SUPABASE_DB_URL is missing");
});
