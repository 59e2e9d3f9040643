/**
 * The runner's database: DATABASE_URL when given, otherwise the embedded PGlite database; either
 * way brought up to date on start with the same code path as `deno task db:migrate` (the
 * compatibility bootstrap when the database is not a Supabase one, then `supabase db push`).
 */
import { migrate } from "../db_migrate.ts";
import { startEmbeddedDatabase } from "./embedded_database.ts";

/** A migrated database the runner can use. */
export interface RunnerDatabase {
  url: string;
  /** "external" for DATABASE_URL, "embedded" for PGlite. */
  kind: "external" | "embedded";
  stop(): Promise<void>;
}

/** Opens and migrates the database. `dataDir` is where PGlite persists ("memory://" for none). */
export async function openRunnerDatabase(
  databaseUrl: string | undefined,
  dataDir: string,
): Promise<RunnerDatabase> {
  if (databaseUrl) {
    await migrate(databaseUrl);
    return { url: databaseUrl, kind: "external", stop: () => Promise.resolve() };
  }
  const embedded = await startEmbeddedDatabase({ dataDir });
  try {
    await migrate(embedded.url);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  return { url: embedded.url, kind: "embedded", stop: () => embedded.stop() };
}
