/**
 * Expiry at scale: entitlements that run out together are revoked in bounded batches, each batch
 * wakes role-sync once, and those wake-ups alone drain every job.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { configureVault, ROLE_SYNC_SECRET, withRoleSync } from "./role_sync_fixtures.ts";

const MEMBERS = 5_000;
const BATCH = 1_000;

Deno.test("expiring 5,000 memberships takes bounded batches, wakes role-sync once per batch, and every job is drained", async () => {
  await withRoleSync(async (w) => {
    const sql = w.db.sql;
    // Members whose grace period ran out together; they left the guild, so each revoke is one
    // Discord call (10007) and the test spends its time on the queue, not on messages.
    await sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
        stripe_subscription_id, plan_id, status, past_due_since, payment_standing, entitled,
        entitled_role_id, entitled_until)
      select ${w.guildId}, (700000000000000000 + i)::text, 'cus_exp' || i, 'sub_exp' || i,
        ${w.goldPlanId}, 'past_due', now() - interval '1 day', 'failed', true, ${w.goldRoleId},
        now() - interval '1 minute'
      from generate_series(1, ${MEMBERS}) i`;
    await sql`update rolepass.role_jobs set status = 'done', outcome = 'applied', done_at = now()`;
    await configureVault(sql, "http://127.0.0.1:9/functions/v1/role-sync");

    const wakes: { body: unknown }[] = [];
    for (let sweep = 1; sweep <= MEMBERS / BATCH; sweep++) {
      await sql`select rolepass.sweep_role_jobs()`;
      const { revoked } = first(
        await sql<{ revoked: number }[]>`
        select count(*)::int as revoked from rolepass.memberships where not entitled`,
        "a row",
      );
      assertEquals(revoked, sweep * BATCH, `after sweep ${sweep}`);
      const queued = await sql<{ body: unknown }[]>`
        delete from net.http_request_queue returning body`;
      assertEquals(queued.length, 1, `wake-ups queued by sweep ${sweep}`);
      wakes.push(...queued);
    }

    // Delivered the way pg_net would: each wake-up drains whatever is due.
    for (const wake of wakes) {
      const response = await w.app.request("/role-sync", {
        method: "POST",
        headers: { "x-rolepass-secret": ROLE_SYNC_SECRET },
        body: JSON.stringify(wake.body),
      });
      assertEquals(response.status, 200);
    }
    const jobs = await sql<{ outcome: string; count: number }[]>`
      select coalesce(outcome, status) as outcome, count(*)::int as count from rolepass.role_jobs
      where not entitled group by 1`;
    assertEquals([...jobs], [{ outcome: "member_not_in_guild", count: MEMBERS }]);
    const deletes = w.discord.requests().filter((r) => r.method === "DELETE");
    assertEquals(deletes.length, MEMBERS);
    assertEquals(new Set(deletes.map((r) => r.path)).size, MEMBERS);
    assert(w.discord.stats().rateLimited === 0);
  }, {
    tuning: { inlineBudgetMs: 120_000, globalLimit: 10_000 },
    double: {
      rateLimits: {
        global: { limit: 10_000, resetAfterSeconds: 1 },
        buckets: { roles: { limit: 10_000, resetAfterSeconds: 1 } },
      },
    },
  });
});
