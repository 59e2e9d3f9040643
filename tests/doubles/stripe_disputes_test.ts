/**
 * The Stripe double's disputes, read through the real `stripe` SDK: a dispute opened on a
 * subscription's charge closes won or lost with `charge.dispute.closed` (its `previous_attributes`
 * naming the status before), Stripe's API then answers the closed status, a won dispute gives the
 * disputed amount back in its balance transactions and a lost one does not, and the charge's
 * disputes are listed by charge.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_double_disputes";

async function withSubscription(
  fn: (double: StripeDouble, stripe: Stripe, subscriptionId: string) => Promise<void>,
): Promise<void> {
  const double = await startStripeDouble({ secretKey: SECRET_KEY });
  try {
    const stripe = new Stripe(SECRET_KEY, {
      host: "127.0.0.1",
      port: double.port,
      protocol: "http",
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: 0,
    });
    const price = double.createPrice({ unitAmount: 980, currency: "jpy", productName: "Gold" });
    const customer = await stripe.customers.create({ metadata: {} });
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://rolepass.test/done",
      cancel_url: "https://rolepass.test/plans",
    });
    const { subscription } = double.completeCheckout(session.id);
    await fn(double, stripe, subscription.id);
  } finally {
    await double.close();
  }
}

for (const result of ["won", "lost"] as const) {
  Deno.test(`a dispute closes ${result} with its event, as the API then reads it`, async () => {
    await withSubscription(async (double, stripe, subscriptionId) => {
      const opened = double.openDispute(subscriptionId);
      assert.match(opened.status, /needs_response/);
      double.closeDispute(opened.id, result);

      const [closed] = double.events({ type: "charge.dispute.closed" });
      assert(closed, "charge.dispute.closed was emitted");
      assert.equal((closed.data.object as Stripe.Dispute).status, result);
      assert.equal(
        (closed.data.previous_attributes as Partial<Stripe.Dispute>).status,
        opened.status,
      );

      const read = await stripe.disputes.retrieve(opened.id);
      assert.equal(read.status, result);
      const net = read.balance_transactions.reduce((sum, txn) => sum + txn.amount, 0);
      assert.equal(net, result === "won" ? 0 : -opened.amount, "won gives the money back");

      const listed = await stripe.disputes.list({ charge: String(opened.charge) });
      assert.equal(first(listed.data, "the charge's dispute").id, opened.id);
    });
  });
}
