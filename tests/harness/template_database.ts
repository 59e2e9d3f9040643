/**
 * The migrated database tests clone from: DATABASE_URL when given (migrated in place), otherwise
 * `rolepass_template` in a throwaway cluster started for the run.
 *
 * When the cluster runs the real pg_cron, its scheduler's database is migrated too, so that the
 * migrations' schedules are parsed and run by pg_cron itself (tests/db/pg_cron_test.ts). The
 * template, which pg_cron cannot serve, keeps the bootstrap's stand-in.
 */
import postgres from "postgres";
import { applyBootstrapIfNeeded, migrate } from "../../functions/_cli/db_migrate.ts";
import { supabaseCli } from "../../functions/_cli/supabase_cli.ts";
import { PG_CRON_DATABASE, type PgClusterOptions, startPgCluster } from "./pg_cluster.ts";

/** A migrated template database and how to release it. */
export interface TemplateDatabase {
  url: string;
  release(): Promise<void>;
}

async function createEmptyDatabase(serverUrl: string, name: string): Promise<string> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
    await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Prepares the template: bootstrap if needed, then every migration via `supabase db push`.
 * `clusterOptions` chooses how a throwaway cluster is started (benchmarks ask for a durable one).
 */
export async function prepareTemplateDatabase(
  clusterOptions: PgClusterOptions = {},
): Promise<TemplateDatabase> {
  const given = Deno.env.get("DATABASE_URL");
  if (given) {
    await migrate(given);
    return { url: given, release: () => Promise.resolve() };
  }
  const cluster = await startPgCluster(clusterOptions);
  try {
    const url = await createEmptyDatabase(cluster.url, "rolepass_template");
    if (cluster.pgCron) {
      const scheduler = new URL(cluster.url);
      scheduler.pathname = `/${PG_CRON_DATABASE}`;
      // The roles are the cluster's, not a database's, and a first run installs the CLI: both
      // happen once, before the two migrations run side by side.
      await applyBootstrapIfNeeded(scheduler.toString());
      await supabaseCli();
      await Promise.all([migrate(scheduler.toString()), migrate(url)]);
    } else {
      await migrate(url);
    }
    return { url, release: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
