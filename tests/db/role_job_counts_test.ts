/**
 * The queue health view reads counters kept by triggers on role_jobs; whatever changes the jobs
 * (inserts, claims, failures, retries, deletes, a truncate, bulk loads with triggers off, several
 * backends at once), the view says what counting the jobs themselves says.
 */
import postgres from "postgres";
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";

const GUILD = "100000000000000321";

async function countedFromJobs(sql: postgres.Sql) {
  const [row] = await sql`
    select
      count(*) filter (where status in ('pending', 'running') and last_error is null)::int
        as pending,
      count(*) filter (where status in ('pending', 'running') and last_error is not null)::int
        as failing,
      count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'running')::int as running
    from rolepass.role_jobs`;
  assert(row, "row is missing");
  return row;
}

async function shownByView(sql: postgres.Sql) {
  const [row] = await sql`
    select pending::int, failing::int, failed::int, running::int
    from rolepass.role_job_queue_status`;
  assert(row, "row is missing");
  return row;
}

Deno.test("the queue health view's kept counts follow every change to role jobs", async () => {
  await withTestDatabase(async (db) => {
    const sql = db.sql;
    await sql.begin(async (tx) => {
      // A bulk load with triggers off, as the benchmarks and repairs do: the counters still follow.
      await tx`set local session_replication_role = replica`;
      await tx`insert into rolepass.guilds (id, name, refund_policy, dispute_policy)
        values (${GUILD}, 'Counted', 'revoke_and_cancel', 'revoke_and_cancel')`;
      await tx`insert into rolepass.memberships (guild_id, discord_user_id, entitled,
          entitled_role_id, entitled_role_ids, status)
        select ${GUILD}, (200000000000000000 + i)::text, true, '300000000000000001',
          array['300000000000000001'], 'active'
        from generate_series(1, 40) i`;
      await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
          role_id, cause, status, last_error, done_at, outcome)
        select m.id, m.guild_id, m.discord_user_id, true, '300000000000000001', 'test',
          s.status, case when n % 4 = 0 and s.status <> 'done' then 'HTTP 500' end,
          case when s.status = 'done' then now() end,
          case when s.status = 'done' then 'applied' end
        from (select *, row_number() over (order by discord_user_id) as n
          from rolepass.memberships) m
        join (values (0, 'pending'), (1, 'running'), (2, 'failed'), (3, 'done'))
          as s(slot, status) on s.slot = m.n % 4`;
    });
    assertEquals(await shownByView(sql), await countedFromJobs(sql));
    assertEquals((await shownByView(sql)).pending > 0, true);

    // Changes from another backend land in another shard; the view sums them all.
    const other = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await other`update rolepass.role_jobs set status = 'running'
        where id in (select id from rolepass.role_jobs where status = 'pending' limit 3)`;
      await sql`update rolepass.role_jobs set status = 'done', done_at = now(), outcome = 'applied'
        where id in (select id from rolepass.role_jobs where status = 'running' limit 2)`;
      await other`update rolepass.role_jobs set last_error = 'HTTP 429'
        where id in (select id from rolepass.role_jobs
          where status = 'pending' and last_error is null limit 2)`;
      await sql`update rolepass.role_jobs set status = 'failed'
        where id in (select id from rolepass.role_jobs where last_error is not null
          and status in ('pending', 'running') limit 1)`;
      await other`update rolepass.role_jobs set status = 'pending', last_error = null
        where id in (select id from rolepass.role_jobs where status = 'failed' limit 2)`;
      // A change no count depends on.
      await sql`update rolepass.role_jobs set notified_at = now()`;
      assertEquals(await shownByView(sql), await countedFromJobs(sql));

      await other`delete from rolepass.role_jobs
        where id in (select id from rolepass.role_jobs order by id limit 7)`;
      assertEquals(await shownByView(sql), await countedFromJobs(sql));
    } finally {
      await other.end();
    }

    await sql`delete from rolepass.memberships`;
    assertEquals(await shownByView(sql), { pending: 0, failing: 0, failed: 0, running: 0 });
  });
});

Deno.test("a truncate of role jobs empties the kept counts", async () => {
  await withTestDatabase(async (db) => {
    await db.sql.begin(async (tx) => {
      await tx`set local session_replication_role = replica`;
      await tx`insert into rolepass.guilds (id, name, refund_policy, dispute_policy)
        values (${GUILD}, 'Counted', 'revoke_and_cancel', 'revoke_and_cancel')`;
      await tx`insert into rolepass.memberships (guild_id, discord_user_id, entitled,
          entitled_role_id, entitled_role_ids, status)
        values (${GUILD}, '200000000000000001', true, '300000000000000001',
          array['300000000000000001'], 'active')`;
      await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
          role_id, cause)
        select id, guild_id, discord_user_id, true, '300000000000000001', 'test'
        from rolepass.memberships`;
    });
    assertEquals((await shownByView(db.sql)).pending, 1);
    await db.sql`truncate rolepass.role_jobs cascade`;
    assertEquals(await shownByView(db.sql), { pending: 0, failing: 0, failed: 0, running: 0 });
  });
});
