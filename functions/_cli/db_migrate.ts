/**
 * `deno task db:migrate`: brings the database at DATABASE_URL up to date.
 *
 * A bare PostgreSQL (no Supabase roles) first gets the compatibility bootstrap in
 * sql/bootstrap/supabase_compat.sql; then `supabase db push --db-url` applies the migrations and
 * keeps the CLI's own migration history, exactly as it would on a hosted project.
 */
import postgres from "postgres";
import { projectRoot, runSupabase } from "./supabase_cli.ts";

/**
 * Applies the bootstrap when the database is not a Supabase one: the API roles are missing, or
 * pg_net is neither installed nor installable. Returns whether it did. The bootstrap is idempotent.
 */
export async function applyBootstrapIfNeeded(databaseUrl: string): Promise<boolean> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ is_supabase }] = await sql<{ is_supabase: boolean }[]>`
      select exists (select 1 from pg_roles where rolname = 'service_role')
        and (exists (select 1 from pg_namespace where nspname = 'net')
          or exists (select 1 from pg_available_extensions where name = 'pg_net'))
        as is_supabase`;
    if (is_supabase) return false;
    const bootstrap = await Deno.readTextFile(`${projectRoot}sql/bootstrap/supabase_compat.sql`);
    await sql.unsafe(bootstrap);
    return true;
  } finally {
    await sql.end();
  }
}

/** Bootstrap if needed, then push every pending migration. */
export async function migrate(databaseUrl: string): Promise<void> {
  await applyBootstrapIfNeeded(databaseUrl);
  await runSupabase(["db", "push", "--db-url", databaseUrl, "--include-all", "--yes"], {
    quiet: true,
  });
}

if (import.meta.main) {
  const databaseUrl = Deno.env.get("DATABASE_URL") ?? Deno.env.get("SUPABASE_DB_URL");
  if (!databaseUrl) {
    console.error(
      "Cannot migrate: DATABASE_URL is not set. Set it to a PostgreSQL connection string, " +
        "e.g. postgresql://postgres:postgres@127.0.0.1:54322/postgres",
    );
    Deno.exit(2);
  }
  try {
    const bootstrapped = await applyBootstrapIfNeeded(databaseUrl);
    if (bootstrapped) console.log("Applied the Supabase compatibility bootstrap.");
    await runSupabase(["db", "push", "--db-url", databaseUrl, "--include-all", "--yes"]);
    console.log("Migrations applied.");
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(1);
  }
}
