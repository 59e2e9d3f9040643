/**
 * `deno task db:migrate` on an ordinary local PostgreSQL: the README's URL form works without
 * TLS, and a migration that fails leaves the database exactly as it was.
 */
import postgres from "postgres";
import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";
import { cliDatabaseUrl, migrate, MigrationError } from "../../functions/_cli/db_migrate.ts";

const PROJECT_ROOT = new URL("../../", import.meta.url);

/** A fresh empty database on the harness's cluster, dropped afterwards. */
async function withEmptyDatabase(fn: (url: string) => Promise<void>) {
  const server = new URL(Deno.env.get("DATABASE_URL")!);
  server.pathname = "/postgres";
  const name = `rp_migrate_${crypto.randomUUID().slice(0, 8)}`;
  const admin = postgres(server.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const target = new URL(server);
  target.pathname = `/${name}`;
  try {
    await fn(target.toString());
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

async function query<T>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await sql.unsafe(text) as unknown as T[];
  } finally {
    await sql.end();
  }
}

/** Every schema and relation of the database: what a half-applied run would change. */
async function objects(url: string): Promise<string[]> {
  const rows = await query<{ name: string }>(
    url,
    `select n.nspname || '.' || coalesce(c.relname, '') as name
       from pg_namespace n left join pg_class c on c.relnamespace = n.oid
      where n.nspname not like 'pg\\_%' and n.nspname <> 'information_schema'
      order by 1`,
  );
  return rows.map((row) => row.name);
}

Deno.test("db:migrate accepts the README's URL form (no sslmode) for a PostgreSQL without TLS", async () => {
  await withEmptyDatabase(async (url) => {
    const readmeForm = new URL(url);
    readmeForm.searchParams.delete("sslmode");
    readmeForm.username = "postgres";
    readmeForm.password = "postgres";
    const cwd = await Deno.makeTempDir();
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-check",
          `--config=${new URL("deno.json", PROJECT_ROOT).pathname}`,
          new URL("functions/_cli/db_migrate.ts", PROJECT_ROOT).pathname,
        ],
        cwd,
        clearEnv: true,
        env: {
          DATABASE_URL: readmeForm.toString(),
          PATH: Deno.env.get("PATH") ?? "",
          HOME: Deno.env.get("HOME") ?? cwd,
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr);
      const stdout = new TextDecoder().decode(output.stdout);
      assert(stdout.includes("migration(s)"), stdout);
      const applied = await query<{ count: number }>(
        url,
        "select count(*)::int as count from supabase_migrations.schema_migrations",
      );
      assert(first(applied, "an item of applied").count > 0);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
});

Deno.test("only a loopback URL without sslmode is told to skip TLS", () => {
  assertEquals(
    cliDatabaseUrl("postgresql://postgres:postgres@127.0.0.1:5432/rolepass"),
    "postgresql://postgres:postgres@127.0.0.1:5432/rolepass?sslmode=disable",
  );
  assertEquals(
    cliDatabaseUrl("postgresql://postgres@localhost:5432/postgres?sslmode=require"),
    "postgresql://postgres@localhost:5432/postgres?sslmode=require",
  );
  const remote =
    "postgresql://postgres.abc:pw@aws-0-ap-northeast-1.pooler.supabase.com:5432/postgres";
  assertEquals(cliDatabaseUrl(remote), remote);
});

Deno.test("a failing migration leaves nothing applied, not the bootstrap nor the migrations before it", async () => {
  await withEmptyDatabase(async (url) => {
    const workdir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${workdir}/supabase/migrations`, { recursive: true });
      await Deno.copyFile(
        new URL("supabase/config.toml", PROJECT_ROOT),
        `${workdir}/supabase/config.toml`,
      );
      for await (const entry of Deno.readDir(new URL("supabase/migrations/", PROJECT_ROOT))) {
        await Deno.copyFile(
          new URL(`supabase/migrations/${entry.name}`, PROJECT_ROOT),
          `${workdir}/supabase/migrations/${entry.name}`,
        );
      }
      await Deno.writeTextFile(
        `${workdir}/supabase/migrations/29991231000000_good.sql`,
        "create table rolepass.applied_before_the_broken_one (id int);",
      );
      await Deno.writeTextFile(
        `${workdir}/supabase/migrations/29991231000100_broken.sql`,
        "alter table rolepass.no_such_table add column x int;",
      );
      const before = await objects(url);

      await assertRejects(
        () => migrate(url, { workdir }),
        MigrationError,
        "29991231000100_broken.sql fails on this database",
      );
      assertEquals(await objects(url), before);

      await Deno.remove(`${workdir}/supabase/migrations/29991231000100_broken.sql`);
      const outcome = await migrate(url, { workdir });
      assertEquals(outcome.applied.at(-1), "29991231000000_good.sql");
      assert((await objects(url)).includes("rolepass.applied_before_the_broken_one"));
    } finally {
      await Deno.remove(workdir, { recursive: true });
    }
  });
});
