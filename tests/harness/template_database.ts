/**
 * The migrated database tests clone from: DATABASE_URL when given (migrated in place), otherwise
 * `rolepass_template` in a throwaway cluster started for the run.
 */
import postgres from "postgres";
import { migrate } from "../../functions/_cli/db_migrate.ts";
import { startPgCluster } from "./pg_cluster.ts";

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

/** Prepares the template: bootstrap if needed, then every migration via `supabase db push`. */
export async function prepareTemplateDatabase(): Promise<TemplateDatabase> {
  const given = Deno.env.get("DATABASE_URL");
  if (given) {
    await migrate(given);
    return { url: given, release: () => Promise.resolve() };
  }
  const cluster = await startPgCluster();
  try {
    const url = await createEmptyDatabase(cluster.url, "rolepass_template");
    await migrate(url);
    return { url, release: () => cluster.stop() };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}
