/**
 * Trials at Checkout (issue 14 item 1), through the real checkout function and the Stripe double:
 * a plan's trial reaches Checkout with its card rule, the sync keeps when the member's first trial
 * began, and the member's next Checkout in the guild starts no trial.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { syncSubscription } from "../../functions/_shared/subscription_sync.ts";
import { createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { checkoutRecords, type CheckoutWorld, withCheckoutWorld } from "./checkout_harness.ts";

async function checkoutParams(world: CheckoutWorld): Promise<Record<string, unknown>> {
  const token = await world.issueLink({ locale: "en" });
  const answer = await world.post("checkout-session", { token, planId: world.planId });
  assertEquals(answer.status, 200, JSON.stringify(answer.body));
  const requests = world.stripeDouble.requests({ method: "POST", path: "/v1/checkout/sessions" });
  const last = requests.at(-1);
  assert(last, "a Checkout Session was created");
  return last.params;
}

async function latestSessionId(world: CheckoutWorld): Promise<string> {
  const attempts = (await checkoutRecords(world.db)).attempts;
  const attempt = attempts.at(-1);
  assert(attempt, "an attempt was recorded");
  return attempt.stripe_session_id;
}

Deno.test("a plan's trial starts at Checkout once per member and guild; the second Checkout pays from the start", async () => {
  await withCheckoutWorld(async (world) => {
    await world.db.sql`
      update rolepass.plans set trial_days = 7, trial_payment_method = 'if_required',
        trial_missing_payment_method = 'pause'
      where id = ${world.planId}`;

    const first = await checkoutParams(world);
    const subscriptionData = first.subscription_data as Record<string, unknown>;
    assertEquals(subscriptionData.trial_period_days, "7");
    assertEquals(subscriptionData.trial_settings, {
      end_behavior: { missing_payment_method: "pause" },
    });
    assertEquals(first.payment_method_collection, "if_required");

    const sessionId = await latestSessionId(world);
    const { subscription } = world.stripeDouble.completeCheckout(sessionId);
    assertEquals(subscription.status, "trialing");
    assertEquals((await world.post("checkout-complete", { sessionId })).status, 200);
    const [trialing] = await world.db.sql<{ status: string; trial_started_at: Date | null }[]>`
      select status, trial_started_at from rolepass.memberships`;
    assertEquals(trialing?.status, "trialing");
    assertEquals(trialing?.trial_started_at?.getTime(), (subscription.trial_start ?? 0) * 1000);

    // The trial ends without a card; Stripe's re-read (as the webhook does it) ends the membership.
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

    const second = await checkoutParams(world);
    const secondData = second.subscription_data as Record<string, unknown>;
    assertEquals(secondData.trial_period_days, undefined, "no second trial");
    assertEquals(second.payment_method_collection, undefined);
  });
});
