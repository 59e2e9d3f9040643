/**
 * `deno task db:types`: regenerates functions/_shared/database.types.ts from a migrated database
 * with `supabase gen types typescript`. Without DATABASE_URL it migrates a throwaway cluster first.
 */
import { migrate } from "./db_migrate.ts";
import { startPgCluster } from "./pg_cluster.ts";
import { projectRoot, runSupabase } from "./supabase_cli.ts";
import { runTask, type TaskDefinition } from "./task.ts";

/** Where the generated types are checked in, relative to the project root. */
export const TYPES_PATH = "functions/_shared/database.types.ts";

/** The types the Supabase CLI generates for the `rolepass` schema of the database at `url`. */
export function generateDatabaseTypes(databaseUrl: string): Promise<string> {
  return runSupabase(
    ["gen", "types", "typescript", "--db-url", databaseUrl, "--schema", "rolepass"],
    {
      quiet: true,
    },
  );
}

/** The task's command line. */
export const DB_TYPES_TASK: TaskDefinition = {
  name: "db:types",
  help: `Usage: deno task db:types

Regenerates ${TYPES_PATH} with \`supabase gen types typescript\` from the database at
DATABASE_URL, which must already be migrated. Without DATABASE_URL it starts a throwaway
PostgreSQL (PostgreSQL 15-17 from Debian, or PG_BIN), migrates it and reads that one.
  --help   print this help

Reads the environment and .env (the environment wins).`,
};

if (import.meta.main) {
  await runTask(DB_TYPES_TASK, async ({ env }) => {
    const given = env.values.DATABASE_URL || undefined;
    const cluster = given ? null : await startPgCluster();
    try {
      const url = given ?? cluster!.url;
      if (!given) await migrate(url);
      await Deno.writeTextFile(`${projectRoot}${TYPES_PATH}`, await generateDatabaseTypes(url));
      console.log(`Wrote ${TYPES_PATH}`);
      return 0;
    } finally {
      await cluster?.stop();
    }
  });
}
