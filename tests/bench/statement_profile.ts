/**
 * Where a load's database time goes: pg_stat_statements of the current database (the benchmark
 * cluster preloads it with track=all, so statements inside functions and triggers count too),
 * per unit of work (an event, a job).
 */
import type postgres from "postgres";
import { first } from "../harness/assert.ts";

/** A started profile: `report` prints the statements by total time since the start. */
export interface StatementProfile {
  /** Prints the top statements per `unit`, `units` of which were done since the start. */
  report(units: number, unit: string): Promise<void>;
}

/**
 * Resets the statistics of `sql`'s database and returns the profile, or null when the cluster
 * does not preload pg_stat_statements (a DATABASE_URL of another cluster).
 */
export async function startStatementProfile(sql: postgres.Sql): Promise<StatementProfile | null> {
  try {
    await sql`create extension if not exists pg_stat_statements with schema extensions`;
    await sql`select extensions.pg_stat_statements_reset()`;
  } catch {
    return null;
  }
  return {
    async report(units, unit) {
      const ofThisDatabase =
        sql`dbid = (select oid from pg_database where datname = current_database())
        and query not like '%pg_stat_%'`;
      const top = await sql<{ query: string; calls: number; mean_ms: number; total_ms: number }[]>`
        select regexp_replace(query, '[[:space:]]+', ' ', 'g') as query, calls::float8 as calls,
          mean_exec_time as mean_ms, total_exec_time as total_ms
        from extensions.pg_stat_statements
        where ${ofThisDatabase}
        order by total_exec_time desc limit 12`;
      const all = first(
        await sql<{ total_ms: number; calls: number }[]>`
          select coalesce(sum(total_exec_time), 0)::float8 as total_ms,
            coalesce(sum(calls), 0)::float8 as calls
          from extensions.pg_stat_statements
          where ${ofThisDatabase} and toplevel`,
        "the statements' total",
      );
      console.log(
        `server time (pg_stat_statements): ${(all.total_ms / units).toFixed(2)} ms and ` +
          `${(all.calls / units).toFixed(1)} top-level statements (round trips) per ${unit}; ` +
          `the statements that took most (nested ones included):`,
      );
      console.table(top.map((row) => ({
        statement: row.query.slice(0, 90),
        [`calls/${unit}`]: (row.calls / units).toFixed(2),
        "mean ms": row.mean_ms.toFixed(2),
        [`ms/${unit}`]: (row.total_ms / units).toFixed(2),
      })));
    },
  };
}
