import postgres from "postgres";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { startDevRunner } from "../../functions/_cli/dev/runner.ts";
import { startEmbeddedDatabase } from "../../functions/_cli/dev/embedded_database.ts";

const LIVE = {
  DISCORD_PUBLIC_KEY: "a".repeat(64),
  DISCORD_APPLICATION_ID: "123456789012345678",
  DISCORD_BOT_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-for-tests",
  STRIPE_SECRET_KEY: "sk_test_51FakeKeyForTests",
  STRIPE_WEBHOOK_SECRET: "whsec_FakeSecretForTests",
  ROLE_SYNC_SECRET: "r".repeat(40),
  PORT: "0",
};

async function migrationFiles(): Promise<string[]> {
  const versions: string[] = [];
  for await (const entry of Deno.readDir("supabase/migrations")) {
    if (entry.name.endsWith(".sql")) versions.push(entry.name.replace(/_.*$/s, ""));
  }
  return versions.sort();
}

Deno.test("the runner migrates the embedded database, persists it and points Vault at itself", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "rolepass-pglite-" });
  try {
    const runner = await startDevRunner({ env: LIVE, dataDir });
    const sql = postgres(runner.databaseUrl, { max: 1, prepare: false, onnotice: () => {} });
    try {
      const applied = await sql<{ version: string }[]>`
        select version from supabase_migrations.schema_migrations order by version`;
      assertEquals(applied.map((row) => row.version), await migrationFiles());
      const vault = await sql<{ name: string; decrypted_secret: string }[]>`
        select name, decrypted_secret from vault.decrypted_secrets order by name`;
      assertEquals([...vault], [
        { name: "role_sync_secret", decrypted_secret: LIVE.ROLE_SYNC_SECRET },
        { name: "role_sync_url", decrypted_secret: `${runner.url}/functions/v1/role-sync` },
      ]);
      await sql`insert into rolepass.guilds (id, name) values ('100000000000000077', 'Kept')`;
      const unknown = await fetch(`${runner.url}/functions/v1/no-such-function`);
      assertEquals(unknown.status, 404);
      assertEquals((await unknown.json()).message, "Requested function was not found");
      assert(
        runner.banner.includes(
          `stripe listen --forward-to ${runner.url}/functions/v1/stripe-webhook`,
        ),
      );
      assert(runner.banner.includes(`${runner.url}/functions/v1/discord-interactions`));
      assert(!runner.banner.includes(LIVE.DISCORD_BOT_TOKEN), "the banner prints no secret");
    } finally {
      await sql.end();
      await runner.stop();
    }

    const again = await startDevRunner({ env: LIVE, dataDir });
    const sqlAgain = postgres(again.databaseUrl, { max: 1, prepare: false, onnotice: () => {} });
    try {
      const [guild] = await sqlAgain`select name from rolepass.guilds`;
      assert(guild, "guild is missing");
      assertEquals(guild.name, "Kept");
    } finally {
      await sqlAgain.end();
      await again.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("the embedded database serves several pools with interleaved transactions and row locks", async () => {
  const database = await startEmbeddedDatabase({ dataDir: "memory://" });
  const a = postgres(database.url, { max: 3, prepare: false, onnotice: () => {} });
  const b = postgres(database.url, { max: 3, prepare: false, onnotice: () => {} });
  try {
    await a`create table jobs (id int primary key, claimed_by text)`;
    await a`insert into jobs select g, null from generate_series(1, 20) g`;
    const claim = (sql: postgres.Sql, who: string) =>
      sql.begin(async (tx) => {
        await tx`select pg_advisory_xact_lock(42)`;
        const rows = await tx<{ id: number }[]>`
          select id from jobs where claimed_by is null order by id
          for update skip locked limit 3`;
        for (const row of rows) {
          await tx`update jobs set claimed_by = ${who} where id = ${row.id}`;
        }
        return rows.length;
      });
    const claimed = await Promise.all(
      Array.from({ length: 8 }, (_, i) => claim(i % 2 ? a : b, `worker-${i}`)),
    );
    assertEquals(claimed.reduce((sum, n) => sum + n, 0), 20);
    const { unclaimed } = first(
      await a`select count(*)::int as unclaimed from jobs where claimed_by is null`,
      "a row",
    );
    assertEquals(unclaimed, 0);
    const { uuid } = first(await b`select gen_random_uuid()::text as uuid`, "a row");
    assert(/^[0-9a-f-]{36}$/.test(uuid));
    await b`create extension if not exists pgcrypto`;
    const { digest } = first(
      await b`select encode(digest('x', 'sha256'), 'hex') as digest`,
      "a row",
    );
    assertEquals(digest.length, 64);
  } finally {
    await a.end();
    await b.end();
    await database.stop();
  }
});
