/**
 * The Stripe double's free trials from Checkout, as Stripe documents them
 * (https://docs.stripe.com/payments/checkout/free-trials, .../billing/subscriptions/trials):
 * `subscription_data[trial_period_days]`, `payment_method_collection`, the trial's $0 invoice,
 * conversion at the trial's end on the simulated clock, `customer.subscription.trial_will_end`,
 * and `trial_settings.end_behavior.missing_payment_method` when no card was given.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_double_trials";
const DAY = 86_400;
const START = Date.UTC(2027, 3, 1, 9) / 1000;

interface TrialWorld {
  double: StripeDouble;
  stripe: Stripe;
  clock: { now: number };
  price: Stripe.Price;
  /** Opens and pays a trial Checkout. */
  startTrial(
    options: {
      days?: number;
      collection?: "always" | "if_required";
      missing?: "cancel" | "pause" | "create_invoice";
    },
  ): Promise<{ session: Stripe.Checkout.Session; subscription: Stripe.Subscription }>;
}

async function withTrials(fn: (world: TrialWorld) => Promise<void>) {
  const clock = { now: START };
  const double = await startStripeDouble({ secretKey: SECRET_KEY, clock: () => clock.now * 1000 });
  try {
    const stripe = new Stripe(SECRET_KEY, {
      host: "127.0.0.1",
      port: double.port,
      protocol: "http",
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: 0,
    });
    const price = double.createPrice({ unitAmount: 980, currency: "jpy", productName: "Gold" });
    await fn({
      double,
      stripe,
      clock,
      price,
      async startTrial({ days = 7, collection, missing }) {
        const customer = await stripe.customers.create({ email: "member@example.com" });
        const session = await stripe.checkout.sessions.create({
          mode: "subscription",
          customer: customer.id,
          line_items: [{ price: price.id, quantity: 1 }],
          subscription_data: {
            trial_period_days: days,
            ...(missing
              ? { trial_settings: { end_behavior: { missing_payment_method: missing } } }
              : {}),
          },
          ...(collection ? { payment_method_collection: collection } : {}),
          success_url: "https://rolepass.test/done",
          cancel_url: "https://rolepass.test/plans",
        });
        return double.completeCheckout(session.id);
      },
    });
  } finally {
    await double.close();
  }
}

Deno.test("a trial Checkout starts a trialing subscription with a $0 invoice and no charge", async () => {
  await withTrials(async ({ double, stripe, startTrial }) => {
    const before = double.events().length;
    const { session, subscription } = await startTrial({ days: 7 });
    assert.equal(subscription.status, "trialing");
    assert.equal(subscription.trial_start, START);
    assert.equal(subscription.trial_end, START + 7 * DAY);
    assert.equal(first(subscription.items.data, "item").current_period_end, START + 7 * DAY);
    assert.ok(subscription.default_payment_method, "Checkout saved the card");
    assert.equal(session.payment_status, "no_payment_required");
    const invoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    assert.equal(invoice.amount_paid, 0);
    assert.equal(invoice.status, "paid");
    const types = double.events().slice(before).map((e) => e.type);
    assert.ok(types.includes("customer.subscription.created"));
    assert.ok(!types.includes("charge.succeeded"), "nothing is charged during a trial");

    double.trialWillEnd(subscription.id);
    assert.equal(double.events().at(-1)?.type, "customer.subscription.trial_will_end");
  });
});

Deno.test("a trial with a card converts at its end: active, the first period charged", async () => {
  await withTrials(async ({ double, stripe, clock, startTrial }) => {
    const { subscription } = await startTrial({});
    clock.now = START + 7 * DAY;
    const before = double.events().length;
    const converted = double.advanceToPeriodEnd(subscription.id);
    assert.equal(converted.status, "active");
    const invoice = await stripe.invoices.retrieve(String(converted.latest_invoice));
    assert.equal(invoice.amount_paid, 980);
    const update = double.events().slice(before).find((e) =>
      e.type === "customer.subscription.updated"
    );
    assert.equal((update?.data.previous_attributes as { status?: string }).status, "trialing");
  });
});

for (
  const [missing, status, event] of [
    ["cancel", "canceled", "customer.subscription.deleted"],
    ["pause", "paused", "customer.subscription.paused"],
    ["create_invoice", "past_due", "invoice.payment_failed"],
  ] as const
) {
  Deno.test(`a trial without a card ends as trial_settings says: ${missing} → ${status}`, async () => {
    await withTrials(async ({ double, startTrial }) => {
      const { subscription } = await startTrial({ collection: "if_required", missing });
      assert.equal(subscription.default_payment_method, null, "no card was asked for");
      const before = double.events().length;
      const ended = double.advanceToPeriodEnd(subscription.id);
      assert.equal(ended.status, status);
      assert.ok(double.events().slice(before).some((e) => e.type === event), event);
    });
  });
}

Deno.test("a trial longer than 730 days and payment_method_collection outside subscription mode are refused", async () => {
  await withTrials(async ({ stripe, price, startTrial }) => {
    await assert.rejects(startTrial({ days: 731 }), /730/);
    await assert.rejects(
      stripe.checkout.sessions.create({
        mode: "payment",
        line_items: [{ price: price.id, quantity: 1 }],
        payment_method_collection: "if_required",
        success_url: "https://rolepass.test/done",
      }),
      /subscription/,
    );
  });
});
