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
