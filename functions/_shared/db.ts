/**
 * The Postgres adapter's connection: postgres.js on SUPABASE_DB_URL (or DATABASE_URL).
 *
 * `prepare: false` because Supabase's transaction pooler (port 6543) cannot keep prepared
 * statements across transactions (https://supabase.com/docs/guides/functions/connect-to-postgres).
 */
import postgres from "postgres";

/** A postgres.js client. */
export type Sql = postgres.Sql;

/** Opens a pooled client; create it once per worker, not per request. */
export function createSql(databaseUrl: string, options: { max?: number } = {}): Sql {
  return postgres(databaseUrl, {
    prepare: false,
    max: options.max ?? 5,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "rolepass" },
  });
}

/**
 * The row of a statement that always returns one (a `select` of a function's result, an
 * aggregate): an empty result means the database broke that promise, so this throws and names
 * `what` was being read.
 */
export function oneRow<T>(rows: readonly T[], what: string): T {
  const [row] = rows;
  if (row === undefined) throw new Error(`Cannot read ${what}: the statement returned no row`);
  return row;
}
