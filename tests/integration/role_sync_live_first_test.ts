/**
 * A member's own change reaches Discord before a bulk backlog queued earlier (issue 16 item 1).
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withRoleSync } from "./role_sync_fixtures.ts";

const member = (n: number) => `9200000000000${String(n).padStart(5, "0")}`;

Deno.test("a member who just paid gets their role before a plan swap's backlog queued earlier", async () => {
  await withRoleSync(async (w) => {
    // A plan swap's backlog (bulk), queued an hour ago.
    const bulk = 12;
    for (let i = 0; i < bulk; i++) {
      await w.entitle(await w.addMember(member(i)), "gold", "plan_role_changed");
    }
    await w.db.sql`update rolepass.role_jobs set next_attempt_at = now() - interval '1 hour',
      created_at = now() - interval '1 hour'`;
    // The member who just paid: the checkout success page's sync.
    const payer = member(99);
    await w.entitle(await w.addMember(payer), "gold", "checkout_success_page");

    await w.drain();
    const puts = w.discord.requests().filter((r) => r.method === "PUT" && r.status === 204);
    assert(puts.length > 0, "no role was given");
    // One worker: Discord sees the jobs in the order they were claimed.
    assertEquals(puts[0]?.path, `/guilds/${w.guildId}/members/${payer}/roles/${w.goldRoleId}`);
  }, { tuning: { concurrency: 1 } });
});

Deno.test("a live job in a guild with a backlog is sent before every bulk job still queued, in its guild and others, once a global slot frees", async () => {
  await withRoleSync(async (w) => {
    // A second guild with its own backlog.
    const other = w.discord.addGuild({ botRolePosition: 10 });
    const otherRole = w.discord.addRole(other.id, { name: "Gold", position: 5 });
    await w.db.sql`insert into rolepass.guilds (id, name) values (${other.id}, 'Other guild')`;
    const [otherPlan] = await w.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval)
      values (${other.id}, 'price_other', ${otherRole.id}, ${
      w.db.sql.json({ en: { name: "Gold" } })
    },
        500, 'jpy', 'month')
      returning id`;
    assert(otherPlan, "the other guild's plan is missing");
    // More bulk jobs than workers: every worker could hold one while the window is full.
    const bulk = 15;
    for (let i = 0; i < bulk; i++) {
      await w.entitle(await w.addMember(member(i)), "gold", "plan_role_changed");
      const userId = member(100 + i);
      w.discord.addMember(other.id, userId);
      await w.db.sql`insert into rolepass.memberships (guild_id, discord_user_id, plan_id, status,
          entitled, entitled_role_id, subscription_live, change_cause)
        values (${other.id}, ${userId}, ${otherPlan.id}, 'active', true, ${otherRole.id}, true,
          'plan_role_changed')`;
    }
    const payer = member(99);
    const payerMembership = await w.addMember(payer);

    const roleCalls = () =>
      w.discord.requests().filter((r) => r.path.includes("/roles/") && r.status === 204);
    const draining = w.drain(60_000);
    // Wait (up to a generous bound) until the backlog has filled the global window.
    const until = Date.now() + 30_000;
    while (roleCalls().length < 2 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert(roleCalls().length >= 2, "the backlog never started");
    // A Stripe event's change for one member of the first guild: a live job.
    await w.entitle(payerMembership, "gold", "evt_paid_while_the_backlog_drains");
    const sentBefore = roleCalls().length;
    await draining;

    const calls = roleCalls().map((r) => r.path);
    const live = calls.findIndex((path) => path.includes(`/members/${payer}/`));
    assert(live >= 0, "the live job never reached Discord");
    // The jobs already taken for the window when the live job was queued (a process keeps four
    // ready) may go first; no bulk job taken after it does.
    assert(
      live - sentBefore <= 4,
      `${live - sentBefore} bulk calls went between the live job's commit and its call`,
    );
    assert(calls.length - live - 1 >= 3, "bulk jobs of both guilds were still queued");
    assertEquals(calls.length, 2 * bulk + 1);
  }, {
    tuning: { concurrency: 16, globalLimit: 1, globalWindowMs: 300 },
    double: { rateLimits: { buckets: { roles: { limit: 100, resetAfterSeconds: 1 } } } },
  });
});
