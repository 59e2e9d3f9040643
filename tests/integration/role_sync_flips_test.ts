/**
 * A member's entitlement that flips twice before role-sync runs again: Discord ends matching the
 * last entitlement, and the member hears of the changes Discord saw, in order, each once.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000011";

function told(w: RoleSyncWorld): string[] {
  return w.discord.messages({ userId: ALICE }).map((message) => message.content);
}

function holdsGold(w: RoleSyncWorld): boolean {
  return w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId) ?? false;
}

Deno.test("grant, revoke, grant before a drain: the member holds the role and is told of it once", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold", "evt_subscribed");
    await w.entitle(alice, null, "evt_canceled");
    await w.entitle(alice, "gold", "evt_resubscribed");
    await w.settle();
    assertEquals(holdsGold(w), true);
    const messages = told(w);
    assertEquals(messages.length, 1, messages.join("\n"));
    assert(messages[0]?.includes("Gold") && !messages[0].includes("removed"), messages[0]);
  });
});

Deno.test("revoke, grant, revoke before a drain: the role goes, told after the grant, in order", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold", "evt_subscribed");
    await w.settle();
    await w.entitle(alice, null, "evt_canceled");
    await w.entitle(alice, "gold", "evt_resubscribed");
    await w.entitle(alice, null, "evt_canceled_again");
    await w.settle();
    assertEquals(holdsGold(w), false);
    const messages = told(w);
    assertEquals(messages.length, 2, messages.join("\n"));
    assert(!messages[0]?.includes("removed"), messages[0]);
    assert(messages[1]?.includes("has been removed"), messages[1]);
  });
});

Deno.test("revoke then grant before a drain, for a member who holds the role: nothing to tell twice", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold", "evt_subscribed");
    await w.settle();
    await w.entitle(alice, null, "evt_canceled");
    await w.entitle(alice, "gold", "evt_resubscribed");
    await w.settle();
    assertEquals(holdsGold(w), true);
    const messages = told(w);
    assertEquals(messages.length, 1, `the grant once, not again:\n${messages.join("\n")}`);
  });
});

Deno.test("grant then revoke before a drain, for a member without the role: nothing changes, nothing is told", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold", "evt_subscribed");
    await w.entitle(alice, null, "evt_canceled");
    await w.settle();
    assertEquals(holdsGold(w), false);
    assertEquals(told(w), []);
  });
});
