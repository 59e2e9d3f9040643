/**
 * One trial per member per guild (issue 14 item 1), across plans: a member who trialed one plan
 * of a guild is offered no trial of the guild's other plan, on the plan page or at Checkout, while
 * another member still is. checkout_trial_test.ts proves it for a second Checkout of the same plan.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { syncSubscription } from "../../functions/_shared/subscription_sync.ts";
import { createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { type CheckoutWorld, GUILD_ID, withCheckoutWorld } from "./checkout_harness.ts";

const OTHER_MEMBER_ID = "220000000000000002";
const YEARLY_ROLE_ID = "330000000000000011";

/** Opens `planId`'s Checkout for `memberId`; returns what the plan page offered and Stripe got. */
async function open(world: CheckoutWorld, planId: string, memberId?: string) {
  const token = await world.issueLink({ locale: "en", ...(memberId ? { memberId } : {}) });
  const view = await world.post("plan-view", { token });
  const shown = view.body.plans.find((item: { id: string }) => item.id === planId);
  assert(shown, "the plan page shows the plan");
  const answer = await world.post("checkout-session", { token, planId });
  assertEquals(answer.status, 200, JSON.stringify(answer.body));
  const request = world.stripeDouble.requests({ method: "POST", path: "/v1/checkout/sessions" })
    .at(-1);
  assert(request, "a Checkout Session was created");
  const data = request.params.subscription_data as Record<string, unknown>;
  return {
    offered: shown.trial ?? null,
    trialDays: data.trial_period_days ?? null,
    sessionId: new URL(answer.body.url).pathname.split("/").at(-1)!,
  };
}

Deno.test("a member who trialed one plan gets no trial of the guild's other plan", async () => {
  await withCheckoutWorld(async (world) => {
    const yearlyPrice = world.stripeDouble.createPrice({
      unitAmount: 5000,
      currency: "jpy",
      interval: "year",
      productName: "Supporter yearly",
    });
    await world.db.sql`update rolepass.plans set trial_days = 7 where id = ${world.planId}`;
    const [yearly] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, trial_days)
      values (${GUILD_ID}, ${yearlyPrice.id}, ${YEARLY_ROLE_ID},
        ${world.db.sql.json({ en: { name: "Yearly", description: "" } })}, 5000, 'jpy', 'year', 14)
      returning id`;
    assert(yearly, "plan is missing");

    const monthly = await open(world, world.planId);
    assert(monthly.offered, "the first plan's trial is offered");
    assertEquals(monthly.trialDays, "7");
    const { subscription } = world.stripeDouble.completeCheckout(monthly.sessionId);
    assertEquals(subscription.status, "trialing");
    assertEquals(
      (await world.post("checkout-complete", { sessionId: monthly.sessionId })).status,
      200,
    );

    // The member cancels during the trial; Stripe's re-read (as the webhook does it) ends it.
    world.stripeDouble.cancelNow(subscription.id);
    const sql = createSql(world.db.url, { max: 2 });
    try {
      await syncSubscription(
        {
          sql,
          stripe: createStripeGateway(world.stripe),
          now: () => new Date(),
          logger: createLogger("test"),
        },
        { subscriptionId: subscription.id },
        { cause: "test", eventId: null },
      );
    } finally {
      await sql.end();
    }

    const second = await open(world, yearly.id);
    assertEquals(second.offered, null, "the plan page offers no second trial in the guild");
    assertEquals(second.trialDays, null, "Checkout starts no second trial in the guild");

    const newcomer = await open(world, yearly.id, OTHER_MEMBER_ID);
    assert(newcomer.offered, "a member who never trialed is offered the other plan's trial");
    assertEquals(newcomer.trialDays, "14");
  });
});
