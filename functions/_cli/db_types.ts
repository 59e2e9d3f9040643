/**
 * `deno task db:types`: regenerates functions/_shared/database.types.ts from a migrated database
 * with `supabase gen types typescript`. Without DATABASE_URL it migrates a throwaway cluster first.
 */
import { projectRoot, runSupabase } from "./supabase_cli.ts";

/** Where the generated types are checked in, relative to the project root. */
export const TYPES_PATH = "functions/_shared/database.types.ts";

/** The types the Supabase CLI generates for the `public` schema of the database at `url`. */
export function generateDatabaseTypes(databaseUrl: string): Promise<string> {
  return runSupabase(
    ["gen", "types", "typescript", "--db-url", databaseUrl, "--schema", "public"],
    {
      quiet: true,
    },
  );
}

if (import.meta.main) {
  const { startPgCluster } = await import("../../tests/harness/pg_cluster.ts");
  const { migrate } = await import("./db_migrate.ts");
  const given = Deno.env.get("DATABASE_URL");
  const cluster = given ? null : await startPgCluster();
  try {
    const url = given ?? cluster!.url;
    if (!given) await migrate(url);
    await Deno.writeTextFile(`${projectRoot}${TYPES_PATH}`, await generateDatabaseTypes(url));
    console.log(`Wrote ${TYPES_PATH}`);
  } finally {
    await cluster?.stop();
  }
}
