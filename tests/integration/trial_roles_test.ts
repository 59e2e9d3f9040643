/**
 * Trials and their roles (issue 14 item 1), through the Stripe double's trial Checkout, the real
 * webhook and role-sync: a trial with a role of its own swaps to the paid roles when it converts, a
 * trial that grants nothing grants the paid roles at the first payment, and a trial that ends
 * without a card ends the role.
 */
import { assertEquals } from "../harness/assert.ts";
import { type PlanRolesWorld, withPlanRolesWorld } from "./plan_roles_world.ts";

const MEMBER = "400000000000000003";

async function trialPlan(world: PlanRolesWorld, trialRoleIds: string[] | null) {
  const plan = await world.addPlan("Gold with a trial", [world.roles.gold, world.roles.shared]);
  await world.db.sql`
    update rolepass.plans set trial_days = 7, trial_role_ids = ${trialRoleIds}::text[]
    where id = ${plan.id}`;
  return plan;
}

async function told(world: PlanRolesWorld): Promise<unknown[]> {
  return (await world.memberNotices(MEMBER)).filter((notice) => notice.kind === "role_change")
    .map((notice) => notice.payload.kind);
}

Deno.test("a trial with its own role converts to the paid roles at its end", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    const plan = await trialPlan(world, [roles.trial]);
    const member = await world.subscribe(MEMBER, plan, {
      trialPeriodDays: 7,
      paymentMethodCollection: "always",
      missingPaymentMethod: "cancel",
    });
    assertEquals((await world.web.membership(member.membershipId)).status, "trialing");
    assertEquals(world.memberRoles(MEMBER), [roles.trial]);

    world.web.stripeDouble.advanceToPeriodEnd(member.subscriptionId);
    await world.deliver();
    assertEquals((await world.web.membership(member.membershipId)).status, "active");
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort());
    assertEquals(await told(world), ["grant", "swap"]);
  });
});

Deno.test("a trial that grants nothing until the first payment grants the paid roles then", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    const plan = await trialPlan(world, []);
    const member = await world.subscribe(MEMBER, plan, {
      trialPeriodDays: 7,
      paymentMethodCollection: "always",
      missingPaymentMethod: "cancel",
    });
    const trialing = await world.web.membership(member.membershipId);
    assertEquals([trialing.status, trialing.entitled], ["trialing", false]);
    assertEquals(world.memberRoles(MEMBER), []);

    world.web.stripeDouble.advanceToPeriodEnd(member.subscriptionId);
    await world.deliver();
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort());
    assertEquals(await told(world), ["grant"]);
  });
});

Deno.test("a trial that ends without a card ends the role", async () => {
  await withPlanRolesWorld(async (world) => {
    const { roles } = world;
    const plan = await trialPlan(world, null);
    const member = await world.subscribe(MEMBER, plan, {
      trialPeriodDays: 7,
      paymentMethodCollection: "if_required",
      missingPaymentMethod: "cancel",
    });
    assertEquals(world.memberRoles(MEMBER), [roles.gold, roles.shared].sort(), "the paid roles");

    world.web.stripeDouble.advanceToPeriodEnd(member.subscriptionId);
    await world.deliver();
    const ended = await world.web.membership(member.membershipId);
    assertEquals([ended.status, ended.entitled], ["canceled", false]);
    assertEquals(world.memberRoles(MEMBER), []);
    assertEquals(await told(world), ["grant", "revoke"]);
  });
});
