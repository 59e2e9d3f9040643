import postgres from "postgres";
import { assertEquals } from "../harness/assert.ts";
import { migrate } from "../../functions/_cli/db_migrate.ts";

async function migrationVersions(): Promise<string[]> {
  const versions: string[] = [];
  for await (const entry of Deno.readDir(new URL("../../supabase/migrations/", import.meta.url))) {
    if (entry.isFile && entry.name.endsWith(".sql")) versions.push(entry.name.replace(/_.*$/s, ""));
  }
  return versions.sort();
}

Deno.test("the migrations apply from an empty database and a second run changes nothing", async () => {
  const server = new URL(Deno.env.get("DATABASE_URL")!);
  const name = `rp_empty_${Date.now().toString(36)}`;
  server.pathname = "/postgres";
  const admin = postgres(server.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const target = new URL(server);
  target.pathname = `/${name}`;
  try {
    await migrate(target.toString());
    await migrate(target.toString());
    const sql = postgres(target.toString(), { max: 1, onnotice: () => {} });
    try {
      const applied = await sql<{ version: string }[]>`
        select version from supabase_migrations.schema_migrations order by version`;
      assertEquals(applied.map((row) => row.version), await migrationVersions());
    } finally {
      await sql.end();
    }
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
});
