/**
 * Live role jobs (one member's own change) are claimed before bulk work (plan role swaps,
 * reconciliation repairs, expiry sweeps), whatever the bulk backlog, while bulk work keeps its
 * round-robin by guild and a member keeps one job in flight.
 */
import type postgres from "postgres";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership, ROLE_ID } from "./fixtures.ts";

const BULK_JOBS = 10_000;
const GUILDS = 100;

/** `count` members across `GUILDS` guilds, each with a due bulk job queued an hour ago. */
async function arrangeBulkBacklog(sql: postgres.Sql, count: number) {
  await sql.begin(async (tx) => {
    await tx`insert into rolepass.guilds (id, name)
      select (110000000000000000 + g)::text, 'Guild ' || g from generate_series(1, ${GUILDS}) g`;
    await tx`insert into rolepass.memberships (guild_id, discord_user_id)
      select (110000000000000000 + 1 + i % ${GUILDS})::text, (210000000000000000 + i)::text
      from generate_series(1, ${count}) i`;
    // The plan swap's cause, as plans:apply queues it through the membership trigger.
    await tx`update rolepass.memberships set entitled = true, entitled_role_id = ${ROLE_ID},
        status = 'active', change_cause = 'plan_role_changed'
      where guild_id like '11%'`;
    await tx`update rolepass.role_jobs set next_attempt_at = now() - interval '1 hour',
      created_at = now() - interval '1 hour'`;
  });
  await sql`analyze rolepass.role_jobs`;
}

Deno.test("with 10,000 bulk jobs due across 100 guilds, a live job queued now is in the very next claim", async () => {
  await withTestDatabase(async ({ sql }) => {
    await arrangeBulkBacklog(sql, BULK_JOBS);
    await insertGuildWithPlan(sql);
    const member = await insertMembership(sql);
    // A webhook's subscription change for one member.
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID}, change_cause = 'customer.subscription.created',
      change_event_id = 'evt_paid_just_now' where id = ${member}`;
    const claimed = await sql`select membership_id, live, cause
      from rolepass.claim_role_jobs(8, 60)`;
    assertEquals(claimed.length, 8);
    assertEquals(
      { ...first(claimed, "the first claimed job") },
      { membership_id: member, live: true, cause: "evt_paid_just_now" },
    );
    const bulkGuilds = await sql`select count(distinct guild_id)::int as n from rolepass.role_jobs
      where status = 'running' and not live`;
    assertEquals(first(bulkGuilds, "a row").n, 7, "the rest of the batch stays one per guild");
  });
});

Deno.test("a live job whose member already has a job in flight waits for it", async () => {
  await withTestDatabase(async ({ sql }) => {
    await arrangeBulkBacklog(sql, 200);
    await insertGuildWithPlan(sql);
    const member = await insertMembership(sql);
    await sql`update rolepass.memberships set status = 'active', entitled = true,
      entitled_role_id = ${ROLE_ID}, change_cause = 'checkout_success_page' where id = ${member}`;
    const [taken] = await sql`select membership_id from rolepass.claim_role_jobs(1, 60)`;
    assertEquals(taken?.membership_id, member);
    await sql`update rolepass.memberships set entitled = false, entitled_role_id = null,
      change_cause = 'customer.subscription.deleted', change_event_id = 'evt_gone'
      where id = ${member}`;
    const next = await sql`select membership_id from rolepass.claim_role_jobs(8, 60)`;
    assertEquals(next.length, 8);
    assert(!next.some((job) => job.membership_id === member), "one job per member in flight");
    await sql`update rolepass.role_jobs set status = 'done', outcome = 'applied', done_at = now(),
      lease_expires_at = null where membership_id = ${member} and status = 'running'`;
    const [after] = await sql`select membership_id, cause from rolepass.claim_role_jobs(1, 60)`;
    assertEquals({ ...after }, { membership_id: member, cause: "evt_gone" });
  });
});

Deno.test("jobs are live for one member's own change and bulk for plan swaps, repairs and sweeps", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await insertMembership(sql, `20000000000000000${i}`));
    const [webhook, checkout, swapped, expired, resynced, repaired] = ids;
    const entitle = (id: string | undefined, cause: string, eventId: string | null = null) =>
      sql`update rolepass.memberships set status = 'active', entitled = true,
        entitled_role_id = ${ROLE_ID}, plan_id = ${planId},
        entitled_until = now() + interval '1 hour',
        change_cause = ${cause}, change_event_id = ${eventId} where id = ${id!}`;
    await entitle(webhook, "customer.subscription.created", "evt_1");
    await entitle(checkout, "checkout_success_page");
    await entitle(swapped, "test");
    await entitle(expired, "test");
    await entitle(resynced, "admin_resync");
    await entitle(repaired, "stripe_resync");
    await sql`update rolepass.role_jobs set status = 'done', done_at = now(), outcome = 'applied'`;

    await sql`update rolepass.plans set discord_role_ids = array['300000000000000009']`;
    await sql`update rolepass.memberships set entitled_until = now() - interval '1 second'
      where id = ${expired!}`;
    await sql`select rolepass.expire_entitlements(10)`;
    await sql`select rolepass.grant_role_comp(${GUILD_ID}, '200000000000000009',
      '300000000000000009', 'thanks', null)`;
    await sql`select rolepass.revoke_role_comp(${GUILD_ID}, '200000000000000009')`;
    await sql`update rolepass.role_jobs set status = 'done', done_at = now(), outcome = 'applied'
      where status = 'pending'`;
    await sql`select rolepass.enqueue_role_repairs(${GUILD_ID},
      ${sql.json([{ action: "remove", userId: "200000000000000008", roleId: ROLE_ID }])}, 1, 0)`;
    await sql`select rolepass.enqueue_role_repairs(${GUILD_ID},
      ${sql.json([{ action: "remove", userId: "200000000000000007", roleId: ROLE_ID }])}, 1, 0,
      true)`;

    const jobs = await sql<{ cause: string; live: boolean }[]>`
      select cause, live from rolepass.role_jobs order by id`;
    assertEquals(jobs.map((job) => [job.cause, job.live]), [
      ["evt_1", true],
      ["checkout_success_page", true],
      ["test", false],
      ["test", false],
      ["admin_resync", true],
      ["stripe_resync", false],
      ["plan_role_changed", false],
      ["plan_role_changed", false],
      ["plan_role_changed", false],
      ["plan_role_changed", false],
      ["plan_role_changed", false],
      ["plan_role_changed", false],
      ["scheduled_cancel_took_effect", false],
      ["comp_granted", true],
      ["comp_revoked", true],
      ["reconciliation_unpaid_role", false],
      ["reconciliation_unpaid_role", true],
    ]);
  });
});

Deno.test("live jobs of several guilds are claimed a guild at a time, not all of the busiest guild's first", async () => {
  await withTestDatabase(async ({ sql }) => {
    await sql`insert into rolepass.guilds (id, name) values
      ('120000000000000001', 'Busy guild'), ('120000000000000002', 'Quiet guild')`;
    // Five members of the busy guild paid a minute ago, one of the quiet guild just now.
    await sql`insert into rolepass.memberships (guild_id, discord_user_id)
      select '120000000000000001', (220000000000000000 + i)::text from generate_series(1, 5) i
      union all select '120000000000000002', '220000000000000099'`;
    await sql`update rolepass.memberships set entitled = true, entitled_role_id = ${ROLE_ID},
        status = 'active', change_cause = 'checkout_success_page'
      where guild_id like '12%'`;
    await sql`update rolepass.role_jobs set next_attempt_at = now() - interval '1 minute'
      where guild_id = '120000000000000001'`;
    const claimed = await sql<{ guild_id: string }[]>`select guild_id
      from rolepass.claim_role_jobs(2, 60)`;
    assertEquals(
      claimed.map((job) => job.guild_id).sort(),
      ["120000000000000001", "120000000000000002"],
    );
  });
});
