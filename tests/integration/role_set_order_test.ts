/**
 * A membership's roles are a set: a change that only reorders `entitled_role_ids` (the named role
 * moving from one grant's role to another's) changes nothing on Discord, so it queues no role job
 * and tells the member nothing; a change of the set still does both.
 */
import { assertEquals } from "../harness/assert.ts";
import { type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000021";

function told(w: RoleSyncWorld): string[] {
  return w.discord.messages({ userId: ALICE }).map((message) => message.content);
}

async function memberNotices(w: RoleSyncWorld): Promise<string[]> {
  const rows = await w.db.sql<{ kind: string }[]>`
    select kind from rolepass.notices
    where audience = 'member' and discord_user_id = ${ALICE} order by id`;
  return rows.map((row) => row.kind);
}

/** Writes the membership's roles and plan as the Stripe sync does, with the event's cause. */
async function holdRoles(
  w: RoleSyncWorld,
  membershipId: string,
  roleIds: string[],
  planId: string,
  cause: string,
): Promise<void> {
  await w.db.sql`
    update rolepass.memberships
    set entitled = true, entitled_role_ids = ${roleIds}::text[], plan_id = ${planId},
      status = 'active', subscription_live = true, change_cause = ${cause}
    where id = ${membershipId}`;
}

Deno.test("reordered roles queue no role job and tell nothing; a new set does both", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await holdRoles(w, alice, [w.goldRoleId, w.silverRoleId], w.goldPlanId, "evt_subscribed");
    await w.settle();
    assertEquals((await w.jobs()).length, 1);
    assertEquals(told(w).length, 1, told(w).join("\n"));

    await holdRoles(w, alice, [w.silverRoleId, w.goldRoleId], w.goldPlanId, "evt_reordered");
    assertEquals((await w.jobs()).length, 1, "a reorder queues no role job");
    await w.settle();
    assertEquals(await memberNotices(w), ["role_change"], "a reorder queues no notice");
    assertEquals(told(w).length, 1, told(w).join("\n"));

    await holdRoles(w, alice, [w.silverRoleId], w.goldPlanId, "evt_gold_dropped");
    assertEquals((await w.jobs()).length, 2, "a change of the set queues a role job");
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.silverRoleId]);
    assertEquals(told(w).length, 2, told(w).join("\n"));
  });
});

Deno.test("a plan change that only reorders the roles is told as a plan change", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await holdRoles(w, alice, [w.goldRoleId, w.silverRoleId], w.goldPlanId, "evt_subscribed");
    await w.settle();

    await holdRoles(w, alice, [w.silverRoleId, w.goldRoleId], w.silverPlanId, "evt_plan_changed");
    assertEquals((await w.jobs()).length, 1, "the roles stay: no role job");
    await w.settle();
    assertEquals((await memberNotices(w)).slice(1), ["plan_changed"]);
    const messages = told(w);
    assertEquals(messages.length, 2, messages.join("\n"));
    assertEquals(messages[1], 'Your plan in Test guild is now "Silver".');
  });
});
