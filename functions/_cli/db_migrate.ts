/**
 * `deno task db:migrate`: brings the database at DATABASE_URL up to date.
 *
 * A bare PostgreSQL (no Supabase roles) first gets the compatibility bootstrap in
 * sql/bootstrap/supabase_compat.sql; then `supabase db push --db-url` applies the migrations and
 * keeps the CLI's own migration history, exactly as it would on a hosted project.
 *
 * All or nothing: the CLI runs each migration file as one implicit transaction with its history
 * row, but commits file by file, so a broken third file would leave the first two applied. Before
 * anything is committed, the bootstrap and every pending migration are therefore rehearsed in one
 * transaction that is rolled back; a failure there changes nothing and names the file. Only what
 * the rehearsal cannot foresee (a lost connection, a concurrent change during the push) can stop
 * the push half-way, and even then each file is applied whole or not at all, and running the task
 * again resumes.
 */
import postgres from "postgres";
import { oneRow } from "../_shared/db.ts";
import { projectRoot, runSupabase } from "./supabase_cli.ts";

export { cliDatabaseUrl } from "./supabase_cli.ts";
import { runTask, type TaskDefinition, TaskFailure, USAGE_EXIT_CODE } from "./task.ts";

type Sql = ReturnType<typeof postgres>;

const BOOTSTRAP_PATH = `${projectRoot}sql/bootstrap/supabase_compat.sql`;

async function isSupabaseDatabase(sql: Sql): Promise<boolean> {
  const { is_supabase } = oneRow(
    await sql<{ is_supabase: boolean }[]>`
      select exists (select 1 from pg_roles where rolname = 'service_role')
        and (exists (select 1 from pg_namespace where nspname = 'net')
          or exists (select 1 from pg_available_extensions where name = 'pg_net'))
        as is_supabase`,
    "whether the database is Supabase's",
  );
  return is_supabase;
}

/**
 * Applies the bootstrap when the database is not a Supabase one: the API roles are missing, or
 * pg_net is neither installed nor installable. Returns whether it did. The bootstrap is idempotent
 * and runs in one transaction, so a failure leaves none of it behind.
 */
export async function applyBootstrapIfNeeded(databaseUrl: string): Promise<boolean> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    if (await isSupabaseDatabase(sql)) return false;
    const bootstrap = await Deno.readTextFile(BOOTSTRAP_PATH);
    await sql.begin((tx) => tx.unsafe(bootstrap));
    return true;
  } finally {
    await sql.end();
  }
}

/** A migration that failed in the rehearsal; nothing was written. */
export class MigrationError extends Error {
  constructor(readonly file: string, reason: string) {
    super(
      `Cannot migrate: ${file} fails on this database (${reason}); nothing was changed. ` +
        "Fix that migration, or the database it expects, and run the task again.",
    );
    this.name = "MigrationError";
  }
}

interface MigrationFile {
  version: string;
  name: string;
  path: string;
}

async function migrationFiles(directory: string): Promise<MigrationFile[]> {
  const files: MigrationFile[] = [];
  for await (const entry of Deno.readDir(directory)) {
    const version = /^(\d+)_.*\.sql$/.exec(entry.name)?.[1];
    if (entry.isFile && version !== undefined) {
      files.push({ version, name: entry.name, path: `${directory}/${entry.name}` });
    }
  }
  return files.sort((a, b) => a.version.localeCompare(b.version));
}

async function appliedVersions(sql: Sql): Promise<Set<string>> {
  const { present } = oneRow(
    await sql<{ present: boolean }[]>`
    select to_regclass('supabase_migrations.schema_migrations') is not null as present`,
    "whether the migrations table exists",
  );
  if (!present) return new Set();
  const rows = await sql<{ version: string }[]>`
    select version from supabase_migrations.schema_migrations`;
  return new Set(rows.map((row) => row.version));
}

const ROLLED_BACK = Symbol("rehearsal rolled back");

/** Runs the bootstrap (when given) and each pending migration in one transaction, then undoes it. */
async function rehearse(sql: Sql, bootstrap: string | null, pending: MigrationFile[]) {
  try {
    await sql.begin(async (tx) => {
      if (bootstrap) await tx.unsafe(bootstrap);
      for (const file of pending) {
        try {
          await tx.unsafe(await Deno.readTextFile(file.path));
        } catch (error) {
          throw new MigrationError(
            file.name,
            error instanceof Error ? error.message : String(error),
          );
        }
      }
      throw ROLLED_BACK;
    });
  } catch (error) {
    if (error !== ROLLED_BACK) throw error;
  }
}

/** Where to migrate from. */
export interface MigrateOptions {
  /** A project folder holding supabase/migrations; default this project. */
  workdir?: string;
}

/** What {@link migrate} did. */
export interface MigrateOutcome {
  bootstrapped: boolean;
  /** The migration files applied by this run, in order. */
  applied: string[];
}

/**
 * Bootstrap if needed, then push every pending migration; all or nothing, as the module comment
 * explains. Throws MigrationError when a migration fails in the rehearsal.
 */
export async function migrate(
  databaseUrl: string,
  options: MigrateOptions = {},
): Promise<MigrateOutcome> {
  const workdir = (options.workdir ?? projectRoot).replace(/\/$/, "");
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  let bootstrap: string | null = null;
  let pending: MigrationFile[];
  try {
    if (!(await isSupabaseDatabase(sql))) bootstrap = await Deno.readTextFile(BOOTSTRAP_PATH);
    const applied = await appliedVersions(sql);
    pending = (await migrationFiles(`${workdir}/supabase/migrations`))
      .filter((file) => !applied.has(file.version));
    if (bootstrap || pending.length) await rehearse(sql, bootstrap, pending);
    if (bootstrap) await sql.begin((tx) => tx.unsafe(bootstrap!));
  } finally {
    await sql.end();
  }
  await runSupabase([
    "db",
    "push",
    "--db-url",
    databaseUrl,
    "--include-all",
    "--yes",
    "--workdir",
    workdir,
  ], { quiet: true });
  return { bootstrapped: bootstrap !== null, applied: pending.map((file) => file.name) };
}

const TASK: TaskDefinition = {
  name: "db:migrate",
  help: `Usage: deno task db:migrate

Brings the database at DATABASE_URL (or SUPABASE_DB_URL) up to date: on a plain PostgreSQL the
Supabase compatibility bootstrap first, then every pending migration with \`supabase db push\`.
All or nothing: when a migration fails, nothing is changed.
A loopback URL without sslmode is used without TLS; any other URL keeps the CLI's TLS requirement.
  --help   print this help

Reads the environment and .env (the environment wins).`,
};

if (import.meta.main) {
  await runTask(TASK, async ({ env }) => {
    const databaseUrl = env.values.DATABASE_URL || env.values.SUPABASE_DB_URL;
    if (!databaseUrl) {
      throw new TaskFailure(
        "Cannot migrate: DATABASE_URL is not set. Set it to a PostgreSQL connection string, " +
          "e.g. postgresql://postgres:postgres@127.0.0.1:54322/postgres",
        USAGE_EXIT_CODE,
      );
    }
    try {
      const outcome = await migrate(databaseUrl);
      if (outcome.bootstrapped) console.log("Applied the Supabase compatibility bootstrap.");
      console.log(
        outcome.applied.length
          ? `Applied ${outcome.applied.length} migration(s): ${outcome.applied.join(", ")}.`
          : "The database was already up to date.",
      );
      return 0;
    } catch (error) {
      if (error instanceof MigrationError) throw new TaskFailure(error.message);
      throw error;
    }
  });
}
