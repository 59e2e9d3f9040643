/**
 * Retention: pg_cron prunes what nobody needs any more, in bounded batches, and never what the
 * Stripe dedupe window, an open role job, role-sync's record of managed roles or the books need.
 */
import type postgres from "postgres";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership, ROLE_ID } from "./fixtures.ts";

async function insertJob(
  sql: postgres.Sql,
  membershipId: string,
  job: { status: string; outcome?: string; daysAgo: number },
): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
      cause, status, outcome, created_at, done_at)
    select id, guild_id, discord_user_id, true, ${ROLE_ID}, 'test', ${job.status},
      ${job.outcome ?? null}, now() - make_interval(days => ${job.daysAgo}),
      case when ${job.status} = 'done' then now() - make_interval(days => ${job.daysAgo}) end
    from rolepass.memberships where id = ${membershipId}
    returning id::int`;
  assert(row, "row is missing");
  return row.id;
}

async function ids(sql: postgres.Sql, query: string): Promise<string[]> {
  const rows = await sql.unsafe<{ id: string }[]>(query);
  return rows.map((row) => String(row.id)).sort();
}

Deno.test("pruning keeps what the dedupe window, open jobs and the books need, and deletes the rest in batches", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const member = (n: number) => insertMembership(sql, `2000000000000000${10 + n}`);

    // Role jobs. A: an old applied job followed by a newer applied one (the old one goes).
    const a = await member(1);
    await insertJob(sql, a, { status: "done", outcome: "applied", daysAgo: 40 });
    const aNewest = await insertJob(sql, a, { status: "done", outcome: "applied", daysAgo: 35 });
    // B: an old applied job whose successor was superseded and whose newest job is still open:
    // its role id is what tells role-sync the member may still hold that role.
    const b = await member(2);
    const bApplied = await insertJob(sql, b, { status: "done", outcome: "applied", daysAgo: 40 });
    const bSuperseded = await insertJob(sql, b, {
      status: "done",
      outcome: "superseded",
      daysAgo: 39,
    });
    const bOpen = await insertJob(sql, b, { status: "pending", daysAgo: 38 });
    // C: a failed job, however old, waits for the operator.
    const cFailed = await insertJob(sql, await member(3), {
      status: "failed",
      outcome: "unknown_role",
      daysAgo: 100,
    });
    // D: finished jobs inside the 30 days.
    const d = await member(4);
    const dFirst = await insertJob(sql, d, { status: "done", outcome: "applied", daysAgo: 10 });
    const dSecond = await insertJob(sql, d, { status: "done", outcome: "applied", daysAgo: 5 });
    // E: three old applied jobs; the two older ones go.
    const e = await member(5);
    await insertJob(sql, e, { status: "done", outcome: "applied", daysAgo: 60 });
    await insertJob(sql, e, { status: "done", outcome: "applied", daysAgo: 50 });
    const eNewest = await insertJob(sql, e, { status: "done", outcome: "applied", daysAgo: 45 });

    // Stripe events: processed beyond the 35-day window go; inside it, or unprocessed, stay.
    await sql`insert into rolepass.stripe_events (id, type, status, received_at, processed_at)
      values
      ('evt_old_processed', 'invoice.paid', 'processed', now() - interval '40 days',
        now() - interval '40 days'),
      ('evt_old_processed_2', 'invoice.paid', 'processed', now() - interval '36 days',
        now() - interval '36 days'),
      ('evt_in_window', 'invoice.paid', 'processed', now() - interval '30 days',
        now() - interval '30 days'),
      ('evt_never_processed', 'invoice.paid', 'received', now() - interval '60 days', null)`;

    // Checkout attempts: 180 days after their last change.
    await sql`insert into rolepass.checkout_attempts (membership_id, kind, stripe_session_id,
        status, created_at, updated_at) values
      (${a}, 'checkout', 'cs_test_old', 'completed', now() - interval '200 days',
        now() - interval '200 days'),
      (${a}, 'portal', 'bps_test_recent', 'expired', now() - interval '100 days',
        now() - interval '100 days')`;

    // Membership history: 7 years.
    await sql`insert into rolepass.membership_history (membership_id, guild_id, discord_user_id,
        operation, cause, changes, changed_at) values
      (${a}, ${GUILD_ID}, '200000000000000011', 'UPDATE', 'eight_years_ago', '{}',
        now() - interval '8 years'),
      (${a}, ${GUILD_ID}, '200000000000000011', 'UPDATE', 'six_years_ago', '{}',
        now() - interval '6 years')`;

    const { has_run_log } = first(
      await sql`
      select to_regclass('cron.job_run_details') is not null as has_run_log`,
      "a row",
    );
    if (has_run_log) {
      await sql.unsafe(`insert into cron.job_run_details (jobid, command, status, start_time,
          end_time) values
        (1, 'old run', 'succeeded', now() - interval '8 days', now() - interval '8 days'),
        (1, 'recent run', 'succeeded', now() - interval '6 days', now() - interval '6 days')`);
    }

    // One row per table and run: a run is a short transaction, whatever the backlog.
    const { first: firstRun } = first(
      await sql<{ first: Record<string, number> }[]>`
      select rolepass.prune_retained_rows(1) as first`,
      "a row",
    );
    assertEquals(firstRun.role_jobs, 1);
    assertEquals(firstRun.stripe_events, 1);
    for (const [table, count] of Object.entries(firstRun)) assert(count <= 1, `${table}: ${count}`);
    for (let run = 0; run < 5; run++) await sql`select rolepass.prune_retained_rows(1)`;
    const { last } = first(
      await sql<{ last: Record<string, number> }[]>`
      select rolepass.prune_retained_rows() as last`,
      "a row",
    );
    assert(Object.values(last).every((count) => count === 0), JSON.stringify(last));

    assertEquals(
      await ids(sql, "select id from rolepass.role_jobs"),
      [aNewest, bApplied, bSuperseded, bOpen, cFailed, dFirst, dSecond, eNewest].map(String)
        .sort(),
    );
    assertEquals(await ids(sql, "select id from rolepass.stripe_events"), [
      "evt_in_window",
      "evt_never_processed",
    ]);
    assertEquals(await ids(sql, "select stripe_session_id as id from rolepass.checkout_attempts"), [
      "bps_test_recent",
    ]);
    assertEquals(
      await ids(sql, "select cause as id from rolepass.membership_history where cause like '%ago'"),
      ["six_years_ago"],
    );
    if (has_run_log) {
      assertEquals(await ids(sql, "select command as id from cron.job_run_details"), [
        "recent run",
      ]);
    }
  });
});

Deno.test("pruning is scheduled with pg_cron", async () => {
  await withTestDatabase(async ({ sql }) => {
    const jobs = await sql`select schedule, command from cron.job
      where jobname = 'rolepass-prune-retained-rows'`;
    assertEquals(jobs.length, 1);
    assertEquals(first(jobs, "an item of jobs").command, "select rolepass.prune_retained_rows()");
  });
});
