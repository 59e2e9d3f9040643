/**
 * Plans that grant several roles (issue 14 item 4), through the real webhook, role-sync and the
 * Stripe and Discord doubles: the roles are granted and revoked together, and a role that another
 * plan or a comp still gives is never removed.
 */
import { assertEquals } from "../harness/assert.ts";
import { withPlanRolesWorld } from "./plan_roles_world.ts";

const MEMBER = "400000000000000001";

Deno.test("a plan's roles are granted together and a cancellation removes them together", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    const member = await world.subscribe(MEMBER, world.gold);
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort());

    world.web.stripeDouble.cancelNow(member.subscriptionId);
    await world.deliver();
    assertEquals(world.memberRoles(MEMBER), []);

    const told = (await world.memberNotices(MEMBER)).map((notice) => notice.payload.kind);
    assertEquals(told, ["grant", "revoke"], "one message per change, not one per role");
    const [grant] = await world.memberNotices(MEMBER);
    assertEquals(
      [grant?.payload.roleId, ...(grant?.payload.otherRoleIds as string[] ?? [])].sort(),
      [roles.gold, roles.shared].sort(),
      "the message names every role of the plan",
    );
  });
});

Deno.test("a role another subscription still grants is kept when one plan ends", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    const member = await world.subscribe(MEMBER, world.gold);
    // A second subscription of the same customer (made outside rolepass's Checkout guard).
    const metadata = {
      rolepass_guild_id: world.guildId,
      rolepass_discord_user_id: MEMBER,
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
    const { subscription: silver } = world.web.stripeDouble.completeCheckout(session.id);
    await world.deliver();
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared, roles.silver].sort());

    world.web.stripeDouble.cancelNow(silver.id);
    await world.deliver();
    assertEquals(
      world.memberRoles(MEMBER),
      [roles.gold, roles.shared].sort(),
      "the shared role stays: gold still grants it",
    );

    world.web.stripeDouble.cancelNow(member.subscriptionId);
    await world.deliver();
    assertEquals(world.memberRoles(MEMBER), []);
  });
});

Deno.test("a role a comp holds is kept when the paid plan that also grants it ends", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    await world.addPlan("Supporters", [roles.shared], 300);
    const member = await world.subscribe(MEMBER, world.gold);
    await world.db.sql`
      select rolepass.grant_role_comp(${world.guildId}, ${MEMBER}, ${roles.shared}, 'helper', null)`;
    await world.settle();
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort());

    world.web.stripeDouble.cancelNow(member.subscriptionId);
    await world.deliver();
    assertEquals(world.memberRoles(MEMBER), [roles.shared], "the comp keeps the shared role");

    await world.db.sql`select rolepass.revoke_role_comp(${world.guildId}, ${MEMBER})`;
    await world.settle();
    assertEquals(world.memberRoles(MEMBER), []);
  });
});

Deno.test("a plan whose role set changes moves its members, keeping the roles both sets hold", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    await world.subscribe(MEMBER, world.gold);
    await world.db.sql`
      update rolepass.plans set discord_role_ids = ${[roles.shared, roles.trial]}
      where id = ${world.gold.id}`;
    await world.settle();
    assertEquals(world.memberRoles(MEMBER), [roles.shared, roles.trial].sort());
    const removals = world.discord.requests().filter((request) =>
      request.method === "DELETE" && request.path.endsWith(`/roles/${roles.shared}`)
    );
    assertEquals(removals.length, 0, "the shared role was never removed");
  });
});
