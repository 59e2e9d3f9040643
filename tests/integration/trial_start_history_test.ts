/**
 * A first trial's start recorded on its own (the membership otherwise unchanged) is written in the
 * membership's own update, so its history row names the event that recorded it. It was written by
 * an update of its own that kept the cause of the change before: the history said a trial began
 * because, say, a pass ended, and the money property expected that pass's message again.
 */
import { assertEquals } from "../harness/assert.ts";
import { type PlanRolesWorld, withPlanRolesWorld } from "./plan_roles_world.ts";

const MEMBER = "400000000000000011";

/** A trialing member whose trial start is not stored yet and whose last change was a pass's end. */
async function trialingWithoutItsStart(world: PlanRolesWorld) {
  const plan = await world.addPlan("Gold with a trial", [world.roles.gold]);
  await world.db.sql`update rolepass.plans set trial_days = 7 where id = ${plan.id}`;
  const member = await world.subscribe(MEMBER, plan, {
    trialPeriodDays: 7,
    paymentMethodCollection: "always",
    missingPaymentMethod: "cancel",
  });
  await world.db.sql`
    update rolepass.memberships set trial_started_at = null, change_cause = 'pass_ended',
      change_event_id = null
    where id = ${member.membershipId}`;
  return member;
}

async function latestChange(world: PlanRolesWorld, membershipId: string) {
  const [row] = await world.db.sql<
    { cause: string; stripe_event_id: string | null; changed: string[] }[]
  >`
    select cause, stripe_event_id, array(select jsonb_object_keys(changes) order by 1) as changed
    from rolepass.membership_history
    where membership_id = ${membershipId} order by id desc limit 1`;
  return row;
}

for (
  const [how, event, act] of [
    [
      "by the webhook's one-statement apply",
      "customer.subscription.updated",
      (world: PlanRolesWorld, subscriptionId: string) =>
        world.web.stripeDouble.keepSubscription(subscriptionId),
    ],
    [
      "by the webhook's transaction (trial_will_end)",
      "customer.subscription.trial_will_end",
      (world: PlanRolesWorld, subscriptionId: string) =>
        world.web.stripeDouble.trialWillEnd(subscriptionId),
    ],
  ] as const
) {
  Deno.test(`a trial's start recorded ${how} names its own event in the history`, async () => {
    await withPlanRolesWorld(async (world) => {
      const member = await trialingWithoutItsStart(world);
      act(world, member.subscriptionId);
      await world.deliver();

      const [stored] = await world.db.sql<{ trial_started_at: Date | null }[]>`
        select trial_started_at from rolepass.memberships where id = ${member.membershipId}`;
      assertEquals(stored?.trial_started_at instanceof Date, true, "the trial's start is stored");
      const change = await latestChange(world, member.membershipId);
      assertEquals(change?.cause, event);
      assertEquals(change?.stripe_event_id?.startsWith("evt_"), true);
      assertEquals(change?.changed.includes("trial_started_at"), true);
    });
  });
}
