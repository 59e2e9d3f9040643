/**
 * A plan whose role set changes (plans:apply rewriting `discord_role_ids`) moves every member it
 * entitles at once, through the real webhook, role-sync and the Stripe and Discord doubles: the
 * added roles are granted, the removed ones revoked unless another grant of the member still
 * holds them, whatever else the member holds.
 */
import { assertEquals } from "../harness/assert.ts";
import { type PlanRolesWorld, type Subscriber, withPlanRolesWorld } from "./plan_roles_world.ts";

const BOTH = "400000000000000001";
const GOLD_ONLY = "400000000000000002";

/** A second subscription of the member's customer, to silver (made outside Checkout's guard). */
async function alsoSubscribeToSilver(world: PlanRolesWorld, member: Subscriber): Promise<void> {
  const metadata = {
    rolepass_guild_id: world.guildId,
    rolepass_discord_user_id: member.userId,
    rolepass_membership_id: member.membershipId,
  };
  const session = await world.web.stripe.checkout.sessions.create({
    mode: "subscription",
    customer: member.customerId,
    line_items: [{ price: world.silver.priceId, quantity: 1 }],
    metadata,
    subscription_data: { metadata },
    success_url: "https://example.com/done",
    cancel_url: "https://example.com/cancel",
  });
  world.web.stripeDouble.completeCheckout(session.id);
  await world.deliver();
}

Deno.test("a plan's new role set reaches members who hold more than the plan, keeping a role another plan gives", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    await alsoSubscribeToSilver(world, await world.subscribe(BOTH, world.gold));
    await world.subscribe(GOLD_ONLY, world.gold);
    assertEquals(world.memberRoles(BOTH), [roles.gold, roles.shared, roles.silver].sort());

    await world.db.sql`
      update rolepass.plans set discord_role_ids = ${[roles.gold, roles.trial]}
      where id = ${world.gold.id}`;
    await world.settle();

    assertEquals(
      world.memberRoles(BOTH),
      [roles.gold, roles.shared, roles.silver, roles.trial].sort(),
      "trial added; shared kept, silver still gives it",
    );
    assertEquals(world.memberRoles(GOLD_ONLY), [roles.gold, roles.trial].sort());
    const sharedRemovals = world.discord.requests().filter((request) =>
      request.method === "DELETE" && request.path.endsWith(`/roles/${roles.shared}`)
    );
    assertEquals(sharedRemovals.length, 1, "only the gold-only member loses shared");
  });
});
