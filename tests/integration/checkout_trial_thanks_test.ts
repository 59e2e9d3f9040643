/**
 * The thank-you page's answer after a trial's Checkout (issue 14): nothing was charged, so it says
 * the trial started, with its role now or none until the first payment, never that a payment went
 * through. Through the real checkout function and the Stripe double; no webhook is delivered.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withCheckoutWorld } from "./checkout_harness.ts";

const TRIAL_ROLE_ID = "330000000000000008";

for (
  const [trialRoles, answer] of [
    [[TRIAL_ROLE_ID], "trial_granting"],
    [[], "trial_started"],
  ] as const
) {
  Deno.test(`a trial with trial roles ${JSON.stringify(trialRoles)} is answered ${answer}, and again from the record`, async () => {
    await withCheckoutWorld(async (world) => {
      await world.db.sql`
        update rolepass.plans set trial_days = 7, trial_role_ids = ${[...trialRoles]}::text[]
        where id = ${world.planId}`;
      const token = await world.issueLink({ locale: "en" });
      assertEquals(
        (await world.post("checkout-session", { token, planId: world.planId })).status,
        200,
      );
      const [attempt] = await world.db.sql<{ stripe_session_id: string }[]>`
        select stripe_session_id from rolepass.checkout_attempts`;
      assert(attempt, "an attempt was recorded");
      const sessionId = attempt.stripe_session_id;
      assertEquals(world.stripeDouble.completeCheckout(sessionId).subscription.status, "trialing");

      const first = await world.post("checkout-complete", { sessionId });
      assertEquals(first, { status: 200, body: { status: answer } });
      const again = await world.post("checkout-complete", { sessionId });
      assertEquals(again.body, { status: answer }, "a reload is answered from the record");
      assertEquals(world.stripeDouble.deliveries(), []);
    });
  });
}
