/**
 * role-sync's configuration and the rate-limit buckets its Discord calls fall in.
 */
import { loadConfig } from "../../functions/role-sync/config.ts";
import { routeBucketOf } from "../../functions/_shared/discord_api.ts";
import { ConfigError } from "../../functions/_shared/env.ts";
import { assert, assertEquals } from "../harness/assert.ts";

const env = {
  ROLE_SYNC_SECRET: "a-shared-secret-of-enough-length",
  DISCORD_BOT_TOKEN: "bot-token-0123456789abcdef",
  DISCORD_APPLICATION_ID: "100000000000000009",
  SUPABASE_DB_URL: "postgresql://postgres@127.0.0.1:5432/postgres",
};

Deno.test("the configuration reads the Interfaces table's variables, with Discord's API as default", () => {
  const config = loadConfig(env);
  assertEquals(config.discordApiBaseUrl, "https://discord.com/api/v10");
  assertEquals(config.databaseUrl, env.SUPABASE_DB_URL);
  const fallback = loadConfig({ ...env, SUPABASE_DB_URL: undefined, DATABASE_URL: "postgres://x" });
  assertEquals(fallback.databaseUrl, "postgres://x");
});

Deno.test("a missing or short secret is named in the configuration error", () => {
  for (const secret of [undefined, "short"]) {
    try {
      loadConfig({ ...env, ROLE_SYNC_SECRET: secret });
      throw new Error("expected a ConfigError");
    } catch (error) {
      assert(error instanceof ConfigError);
      assert(error.message.includes("ROLE_SYNC_SECRET"), error.message);
    }
  }
});

Deno.test("role add and remove share one bucket per guild; webhook buckets never hold the token", async () => {
  const add = await routeBucketOf("PUT", "/guilds/111111111111111111/members/2/roles/3");
  assertEquals(add, { key: "roles:111111111111111111", global: true });
  const remove = await routeBucketOf("DELETE", "/guilds/111111111111111111/members/2/roles/4");
  assertEquals(remove.key, add.key);
  assertEquals(await routeBucketOf("POST", "/users/@me/channels"), {
    key: "dm_channels",
    global: true,
  });
  const followup = await routeBucketOf("POST", "/webhooks/100000000000000009/secret-token-abc");
  assertEquals(followup.global, false);
  assert(!followup.key.includes("secret-token-abc"), followup.key);
});
