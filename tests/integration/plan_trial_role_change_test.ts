/**
 * A plan whose trial roles change (plans:apply rewriting `trial_role_ids`) moves the members
 * trialing it now, through the Stripe double's trial Checkout, the real webhook and role-sync: a
 * trial that granted nothing until the first payment and now grants roles gives them at once.
 */
import { assertEquals } from "../harness/assert.ts";
import { type PlanRolesWorld, type Subscriber, withPlanRolesWorld } from "./plan_roles_world.ts";

const TRIALING = "400000000000000004";

/** A member trialing a plan whose trial grants no role until the first payment. */
async function trialingWithoutRoles(world: PlanRolesWorld) {
  const plan = await world.addPlan("Gold with a trial", [world.roles.gold, world.roles.shared]);
  await world.db.sql`
    update rolepass.plans set trial_days = 7, trial_role_ids = '{}' where id = ${plan.id}`;
  const member: Subscriber = await world.subscribe(TRIALING, plan, {
    trialPeriodDays: 7,
    paymentMethodCollection: "always",
    missingPaymentMethod: "cancel",
  });
  const trialing = await world.web.membership(member.membershipId);
  assertEquals([trialing.status, trialing.entitled], ["trialing", false]);
  assertEquals(world.memberRoles(TRIALING), []);
  return { plan, member };
}

Deno.test("trialers get the trial role their plan newly grants", async () => {
  await withPlanRolesWorld(async (world) => {
    const { plan, member } = await trialingWithoutRoles(world);

    await world.db.sql`
      update rolepass.plans set trial_role_ids = ${[world.roles.trial]} where id = ${plan.id}`;
    await world.settle();

    assertEquals(world.memberRoles(TRIALING), [world.roles.trial]);
    const moved = await world.web.membership(member.membershipId);
    assertEquals([moved.status, moved.entitled], ["trialing", true]);
  });
});

Deno.test("trialers get the paid roles once their plan's trial stops withholding", async () => {
  await withPlanRolesWorld(async (world) => {
    const { plan } = await trialingWithoutRoles(world);

    await world.db.sql`update rolepass.plans set trial_role_ids = null where id = ${plan.id}`;
    await world.settle();

    assertEquals(world.memberRoles(TRIALING), [world.roles.gold, world.roles.shared].sort());
  });
});
