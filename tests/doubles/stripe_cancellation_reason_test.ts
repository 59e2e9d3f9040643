/**
 * The Stripe double says why a subscription ended as Stripe does (`cancellation_details.reason`),
 * in the deleted event and on the API: `payment_failed` when the renewal's retries ran out and it
 * cancels the subscription, `cancellation_requested` when the API (or the portal) cancels it, also
 * while a renewal is past due. rolepass tells the member why from this word.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";

const SECRET_KEY = "sk_test_double_123";

async function withDouble(fn: (double: StripeDouble, stripe: Stripe) => Promise<void>) {
  const double = await startStripeDouble({ secretKey: SECRET_KEY });
  try {
    await fn(
      double,
      new Stripe(SECRET_KEY, {
        host: "127.0.0.1",
        port: double.port,
        protocol: "http",
        httpClient: Stripe.createFetchHttpClient(),
        maxNetworkRetries: 0,
      }),
    );
  } finally {
    await double.close();
  }
}

/** A paid monthly subscription whose renewal was declined: `past_due`. */
async function pastDueSubscription(double: StripeDouble, stripe: Stripe): Promise<string> {
  const price = double.createPrice({ unitAmount: 500, currency: "jpy", productName: "Gold" });
  const customer = await stripe.customers.create({ email: "member@example.com" });
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: "https://rolepass.test/done?session={CHECKOUT_SESSION_ID}",
    cancel_url: "https://rolepass.test/plans",
  });
  const { subscription } = double.completeCheckout(session.id);
  assert.equal(double.failRenewal(subscription.id).status, "past_due");
  return subscription.id;
}

/** The reason the last customer.subscription.deleted event carries. */
function deletedReason(double: StripeDouble): string | null | undefined {
  const deleted = double.events({ type: "customer.subscription.deleted" });
  assert.equal(deleted.length, 1);
  return (deleted[0]?.data.object as Stripe.Subscription).cancellation_details?.reason;
}

Deno.test("retries that ran out cancel the subscription for payment_failed", async () => {
  await withDouble(async (double, stripe) => {
    const id = await pastDueSubscription(double, stripe);
    double.endDunning(id, "canceled");
    assert.equal(deletedReason(double), "payment_failed");
    const read = await stripe.subscriptions.retrieve(id);
    assert.equal(read.status, "canceled");
    assert.equal(read.cancellation_details?.reason, "payment_failed");
  });
});

Deno.test("a past-due subscription cancelled through the API ended as requested", async () => {
  await withDouble(async (double, stripe) => {
    const id = await pastDueSubscription(double, stripe);
    const canceled = await stripe.subscriptions.cancel(id);
    assert.equal(canceled.status, "canceled");
    assert.equal(canceled.cancellation_details?.reason, "cancellation_requested");
    assert.equal(deletedReason(double), "cancellation_requested");
  });
});

Deno.test("unpaid at the end of dunning: not ended, and no reason", async () => {
  await withDouble(async (double, stripe) => {
    const id = await pastDueSubscription(double, stripe);
    double.endDunning(id, "unpaid");
    const read = await stripe.subscriptions.retrieve(id);
    assert.equal(read.status, "unpaid");
    assert.equal(read.cancellation_details?.reason, null);
  });
});
