/**
 * The hot statements of the role-job queue read through their indexes at 100,000 jobs, so their
 * cost does not grow with the queue or with the jobs finished long ago. Plans are read from
 * PostgreSQL's own EXPLAIN (auto_explain for the statements inside PL/pgSQL functions); node types
 * and index names are asserted, never times.
 */
import type postgres from "postgres";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import {
  type ExplainedStatement,
  explainedStatements,
  flatten,
  type PlanNode,
} from "../harness/query_plans.ts";

const JOBS = 100_000;
const GUILDS = 100;

/** Runs `statement` and returns the plans of every statement it executed, nested ones included. */
function explainNested(db: TestDatabase, statement: string): Promise<ExplainedStatement[]> {
  return explainedStatements(db.url, (sql) => sql.unsafe(statement), { nested: true });
}

function seqScansOfRoleJobs(statements: ExplainedStatement[]): string[] {
  return statements.filter((s) =>
    s.nodes.some((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "role_jobs")
  ).map((s) => s.query.trim());
}

function indexesUsed(statements: ExplainedStatement[]): Set<string> {
  return new Set(statements.flatMap((s) => s.nodes.flatMap((n) => n["Index Name"] ?? [])));
}

/**
 * One membership per job across `GUILDS` guilds, and `count` role jobs in `status`; triggers are
 * off while arranging (the plans, not the triggers, are under test).
 */
async function arrangeJobs(sql: postgres.Sql, count: number, status: "pending" | "done") {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.guilds (id, name, refund_policy, dispute_policy)
      select (100000000000000000 + g)::text, 'Guild ' || g, 'revoke_and_cancel', 'revoke_and_cancel'
      from generate_series(1, ${GUILDS}) g`;
    // The role set too: the trigger that keeps it in step with the role is off here.
    await tx`insert into rolepass.memberships (guild_id, discord_user_id, entitled,
        entitled_role_id, entitled_role_ids, status)
      select (100000000000000000 + 1 + i % ${GUILDS})::text, (200000000000000000 + i)::text,
        true, '300000000000000001', array['300000000000000001'], 'active'
      from generate_series(1, ${count}) i`;
    await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, cause, status, next_attempt_at, created_at, done_at, outcome)
      select m.id, m.guild_id, m.discord_user_id, true, '300000000000000001', 'test',
        ${status}, now() - interval '1 hour', now() - interval '1 hour',
        case when ${status} = 'done' then now() - interval '50 minutes' end,
        case when ${status} = 'done' then 'applied' end
      from rolepass.memberships m`;
  });
  await sql`analyze rolepass.role_jobs`;
  await sql`analyze rolepass.memberships`;
}

Deno.test("with 100,000 queued jobs the claim reads each guild's first due jobs through its index", async () => {
  await withTestDatabase(async (db) => {
    await arrangeJobs(db.sql, JOBS, "pending");
    const statements = await explainNested(db, "select * from rolepass.claim_role_jobs(8, 60)");
    assertEquals(seqScansOfRoleJobs(statements), []);
    const used = indexesUsed(statements);
    assert(used.has("role_jobs_open_by_guild_idx"), [...used].join(", "));
    assert(used.has("role_jobs_open_by_membership_idx"), [...used].join(", "));
    const { running, guilds } = first(
      await db.sql`
      select count(*)::int as running, count(distinct guild_id)::int as guilds
      from rolepass.role_jobs where status = 'running'`,
      "a row",
    );
    assertEquals([running, guilds], [8, 8], "one job from each of eight guilds");
  });
});

Deno.test("with 100,000 queued bulk jobs the claim finds a live job through its partial index", async () => {
  await withTestDatabase(async (db) => {
    await arrangeJobs(db.sql, JOBS, "pending");
    // One member's own change (a webhook's), queued after the bulk backlog.
    const [live] = await db.sql`
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, cause)
      select m.id, m.guild_id, m.discord_user_id, true, '300000000000000001', 'evt_live'
      from rolepass.memberships m order by m.discord_user_id desc limit 1
      returning membership_id`;
    assert(live, "live job is missing");
    await db.sql`analyze rolepass.role_jobs`;
    const statements = await explainNested(db, "select * from rolepass.claim_role_jobs(8, 60)");
    assertEquals(seqScansOfRoleJobs(statements), []);
    const liveFirst = statements.find((s) => /where j\.live/.test(s.query));
    assert(liveFirst, statements.map((s) => s.query).join("\n---\n"));
    const used = indexesUsed([liveFirst]);
    assert(used.has("role_jobs_live_due_idx"), [...used].join(", "));
    const claimed = await db.sql`select membership_id, cause from rolepass.role_jobs
      where status = 'running' and live`;
    assertEquals(claimed.map((j) => ({ ...j })), [{
      membership_id: live.membership_id,
      cause: "evt_live",
    }]);
  });
});

/**
 * The plan of the health view: its counts come from the kept counters and the oldest open job
 * from one read of the open jobs' created_at index, whatever the number of jobs in `role_jobs`.
 */
async function assertHealthReadsKeptCounts(db: TestDatabase) {
  const [view] = await db.sql<{ "QUERY PLAN": { Plan: PlanNode }[] }[]>`
    explain (format json) select * from rolepass.role_job_queue_status`;
  assert(view, "view is missing");
  const health = [{
    query: "role_job_queue_status",
    nodes: flatten(first(view["QUERY PLAN"], "a query plan").Plan),
  }];
  assertEquals(seqScansOfRoleJobs(health), []);
  const used = indexesUsed(health);
  assertEquals([...used].sort(), ["role_jobs_open_created_at_idx"]);
  const jobReads = first(health, "an item of health").nodes.filter((n) =>
    n["Relation Name"] === "role_jobs"
  );
  assertEquals(jobReads.length, 1, "role_jobs is read once, for the oldest open job");
  assert(
    first(health, "an item of health").nodes.some((n) => n["Relation Name"] === "role_job_counts"),
  );
  return first(health, "an item of health").nodes;
}

Deno.test("with 100,000 queued jobs the queue health view reads kept counts and one index entry", async () => {
  await withTestDatabase(async (db) => {
    await arrangeJobs(db.sql, JOBS, "pending");
    const nodes = await assertHealthReadsKeptCounts(db);
    assert(
      nodes.some((n) => n["Node Type"] === "Limit"),
      "the oldest open job is the first index entry, not an aggregate over the open jobs",
    );
    const [status] = await db.sql`select pending::int, failing::int, failed::int, running::int
      from rolepass.role_job_queue_status`;
    assert(status, "status is missing");
    assertEquals([status.pending, status.failing, status.failed, status.running], [JOBS, 0, 0, 0]);
  });
});

Deno.test("with 100,000 finished jobs the queue health view and the sweep read only open and failed jobs", async () => {
  await withTestDatabase(async (db) => {
    await arrangeJobs(db.sql, JOBS, "done");
    await assertHealthReadsKeptCounts(db);

    const sweep = await explainNested(db, "select rolepass.sweep_role_jobs()");
    assert(sweep.length > 1, "the sweep's own statements were explained");
    assertEquals(seqScansOfRoleJobs(sweep), []);

    const [status] = await db.sql`select pending::int, failed::int
      from rolepass.role_job_queue_status`;
    assert(status, "status is missing");
    assertEquals([status.pending, status.failed], [0, 0]);
  });
});
