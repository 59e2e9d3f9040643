/**
 * Check: the database has every migration of supabase/migrations applied, as recorded by the
 * Supabase CLI in supabase_migrations.schema_migrations.
 */
import type { Sql } from "../../_shared/db.ts";
import { fail, type Finding, pass, warn } from "./finding.ts";
import { answered, type Probe, refused } from "./probe.ts";

/** The versions (timestamp prefixes) of the migration files in `directory`, sorted. */
export async function migrationFileVersions(directory: string | URL): Promise<string[]> {
  const versions: string[] = [];
  for await (const entry of Deno.readDir(directory)) {
    const version = /^(\d+)_.*\.sql$/.exec(entry.name)?.[1];
    if (entry.isFile && version !== undefined) versions.push(version);
  }
  return versions.sort();
}

/** The versions the database has applied; `42P01`/`3F000` mean none ever were. */
export async function fetchAppliedVersions(sql: Sql): Promise<Probe<string[]>> {
  try {
    const rows = await sql<{ version: string }[]>`
      select version from supabase_migrations.schema_migrations order by version`;
    return answered(rows.map((row) => row.version));
  } catch (error) {
    const code = (error as { code?: string }).code ?? null;
    return refused(null, code, error instanceof Error ? error.message : String(error));
  }
}

/** Judges applied versions against the files. */
export function checkMigrations(files: readonly string[], applied: Probe<string[]>): Finding[] {
  const push = "supabase link && supabase db push (or `deno task db:migrate` with DATABASE_URL)";
  if (!applied.ok) {
    if (applied.code === "42P01" || applied.code === "3F000") {
      return [fail("database.migrations", "The database has never been migrated", push)];
    }
    return [fail(
      "database.migrations",
      `Cannot read the database's migration history: ${applied.error}`,
      "check DATABASE_URL (use the postgres user's connection string)",
    )];
  }
  const done = new Set(applied.value);
  const missing = files.filter((version) => !done.has(version));
  if (missing.length) {
    return [fail(
      "database.migrations",
      `The database lacks ${missing.length} of ${files.length} migrations: ${missing.join(", ")}`,
      push,
    )];
  }
  const findings = [pass(
    "database.migrations",
    `The database has all ${files.length} migrations applied`,
  )];
  const known = new Set(files);
  const unknown = applied.value.filter((version) => !known.has(version));
  if (unknown.length) {
    findings.push(warn(
      "database.migrations",
      `The database has migrations this checkout does not know: ${unknown.join(", ")}`,
      "update this checkout (git pull) before deploying functions from it",
    ));
  }
  return findings;
}
