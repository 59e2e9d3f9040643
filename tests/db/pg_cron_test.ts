/**
 * The migrations' schedules under the real pg_cron (Debian's postgresql-15-cron), as on Supabase.
 *
 * pg_cron runs jobs only in the one database its scheduler serves (`cron.database_name`), and a
 * database it is connected to cannot be cloned, so these tests read that database (migrated by the
 * harness beside the template) instead of a per-test clone.
 */
import postgres from "postgres";
import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";

interface MigrationSchedule {
  jobname: string;
  schedule: string;
  command: string;
}

/**
 * Every job the migrations schedule with `cron.schedule('name', 'schedule', 'command')`, as the
 * last migration to schedule it left it (scheduling a name again replaces that job).
 */
async function migrationSchedules(): Promise<MigrationSchedule[]> {
  const folder = new URL("../../supabase/migrations/", import.meta.url);
  const files: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && entry.name.endsWith(".sql")) files.push(entry.name);
  }
  const byName = new Map<string, MigrationSchedule>();
  for (const file of files.sort()) {
    const text = await Deno.readTextFile(new URL(file, folder));
    const calls = text.matchAll(/cron\.schedule\(\s*'([^']+)'\s*,\s*'([^']+)'\s*,\s*'([^']+)'/g);
    for (const [, jobname, schedule, command] of calls) {
      byName.set(jobname!, { jobname: jobname!, schedule: schedule!, command: command! });
    }
  }
  return [...byName.values()].sort((a, b) => a.jobname < b.jobname ? -1 : 1);
}

/** Runs `fn` connected to the database pg_cron's scheduler serves on DATABASE_URL's server. */
async function withSchedulerDatabase(fn: (sql: postgres.Sql) => Promise<void>): Promise<void> {
  const url = new URL(Deno.env.get("DATABASE_URL") as string);
  const server = postgres(url.toString(), { max: 1, onnotice: () => {} });
  let database: string | null;
  try {
    ({ database } = first(
      await server<{ database: string | null }[]>`
        select current_setting('cron.database_name', true) as database`,
      "cron.database_name",
    ));
  } finally {
    await server.end();
  }
  assert(
    database,
    "pg_cron is not loaded by this PostgreSQL: install postgresql-15-cron " +
      "(apt-get install postgresql-15-cron) and run the tests again",
  );
  url.pathname = `/${database}`;
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
  try {
    await fn(sql);
  } finally {
    await sql.end();
  }
}

Deno.test("pg_cron registers every schedule the migrations make", async () => {
  const expected = await migrationSchedules();
  assert(expected.length > 0, "the migrations schedule jobs");
  await withSchedulerDatabase(async (sql) => {
    const [extension] = await sql`select extversion from pg_extension where extname = 'pg_cron'`;
    assert(extension, "the real pg_cron extension is installed in the scheduler's database");
    const jobs = await sql<(MigrationSchedule & { active: boolean })[]>`
      select jobname, schedule, command, active from cron.job
      where jobname = any(${expected.map((job) => job.jobname)}) order by jobname`;
    assertEquals([...jobs], expected.map((job) => ({ ...job, active: true })));
  });
});

Deno.test("pg_cron refuses a schedule it cannot parse, so the registered ones are valid", async () => {
  await withSchedulerDatabase(async (sql) => {
    await assertRejects(
      () =>
        sql.begin(async (tx) => {
          await tx`select cron.schedule('rolepass-invalid', '61 * * * *', 'select 1')`;
        }),
      Error,
      "invalid schedule",
    );
  });
});

Deno.test("pg_cron's worker runs the migrations' every-minute jobs in their database", async () => {
  const expected = (await migrationSchedules()).filter((job) => job.schedule === "* * * * *");
  assert(expected.length > 0, "the migrations schedule jobs every minute");
  await withSchedulerDatabase(async (sql) => {
    // The jobs have been due every minute since the harness migrated this database: wait for the
    // first run of each (at most a minute of waiting, none in a full run).
    const deadline = Date.now() + 150_000;
    let runs: { jobname: string; status: string; return_message: string }[] = [];
    while (Date.now() < deadline) {
      runs = await sql`
        select distinct on (j.jobname) j.jobname, d.status, d.return_message
        from cron.job j join cron.job_run_details d on d.jobid = j.jobid
        where j.jobname = any(${expected.map((job) => job.jobname)})
          and d.status in ('succeeded', 'failed')
        order by j.jobname, d.end_time desc`;
      if (runs.length === expected.length) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assertEquals(
      [...runs],
      expected.map(({ jobname }) => ({ jobname, status: "succeeded", return_message: "1 row" })),
    );
  });
});
