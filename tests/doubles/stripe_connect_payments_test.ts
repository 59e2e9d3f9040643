/**
 * The Stripe double's payment-mode destination charges: a one-time Checkout whose
 * `payment_intent_data` names the connected account and a fixed `application_fee_amount`, refused
 * as Stripe refuses it before the account can take charges, and settled as Stripe settles it (the
 * whole amount transferred, the fee taken back, both undone by a refund's two flags).
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";

const SECRET_KEY = "sk_test_connect_payments_double";

async function withDouble(fn: (double: StripeDouble, stripe: Stripe) => Promise<void>) {
  const double = await startStripeDouble({ secretKey: SECRET_KEY });
  const stripe = new Stripe(SECRET_KEY, {
    host: "127.0.0.1",
    port: double.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
  try {
    await fn(double, stripe);
  } finally {
    await double.close();
  }
}

async function expressAccount(stripe: Stripe): Promise<string> {
  const account = await stripe.accounts.create({
    type: "express",
    country: "JP",
    capabilities: { card_payments: { requested: true }, transfers: { requested: true } },
  });
  return account.id;
}

/** A payment-mode Checkout of a ¥3,000 pass whose PaymentIntent carries `paymentIntentData`. */
async function passCheckout(
  double: StripeDouble,
  stripe: Stripe,
  paymentIntentData: Stripe.Checkout.SessionCreateParams.PaymentIntentData,
) {
  const price = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
  const customer = await stripe.customers.create({ email: "member@example.com" });
  return await stripe.checkout.sessions.create({
    mode: "payment",
    customer: customer.id,
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: "https://rolepass.test/done",
    payment_intent_data: paymentIntentData,
    invoice_creation: { enabled: true },
  });
}

Deno.test("a one-time destination charge is refused before the account can take charges", async () => {
  await withDouble(async (double, stripe) => {
    const accountId = await expressAccount(stripe);
    await assert.rejects(
      passCheckout(double, stripe, {
        transfer_data: { destination: accountId },
        on_behalf_of: accountId,
        application_fee_amount: 300,
      }),
      /capabilities enabled: transfers/,
    );
    await assert.rejects(
      passCheckout(double, stripe, { on_behalf_of: accountId }),
      (error: Stripe.errors.StripeError) =>
        /cannot take charges yet/.test(error.message) &&
        error.param === "payment_intent_data[on_behalf_of]",
    );
    assert.equal(double.connect.transfers.size, 0);
  });
});

Deno.test("a one-time fee needs a destination and may not exceed the payment", async () => {
  await withDouble(async (double, stripe) => {
    const accountId = await expressAccount(stripe);
    double.connect.completeOnboarding(accountId);
    await assert.rejects(
      passCheckout(double, stripe, { application_fee_amount: 300 }),
      /Can only apply an application_fee_amount/,
    );
    await assert.rejects(
      passCheckout(double, stripe, {
        transfer_data: { destination: accountId },
        application_fee_amount: 3001,
      }),
      (error: Stripe.errors.StripeError) =>
        error.param === "payment_intent_data[application_fee_amount]",
    );
  });
});

Deno.test("a paid one-time destination charge transfers the whole amount and takes the fixed fee", async () => {
  await withDouble(async (double, stripe) => {
    const accountId = await expressAccount(stripe);
    double.connect.completeOnboarding(accountId);
    const session = await passCheckout(double, stripe, {
      transfer_data: { destination: accountId },
      on_behalf_of: accountId,
      application_fee_amount: 375,
    });
    const paid = double.completePayment(session.id);

    const charge = await stripe.charges.retrieve(paid.charge.id);
    assert.equal(charge.transfer_data?.destination, accountId);
    assert.equal(charge.on_behalf_of, accountId);
    assert.equal(charge.application_fee_amount, 375);
    const intent = await stripe.paymentIntents.retrieve(paid.paymentIntent.id);
    assert.equal(intent.application_fee_amount, 375);
    assert.equal(intent.transfer_data?.destination, accountId);
    const transfer = await stripe.transfers.retrieve(String(charge.transfer));
    assert.equal(transfer.amount, 3000);
    assert.equal(transfer.destination, accountId);
    const fee = await stripe.applicationFees.retrieve(String(charge.application_fee));
    assert.equal(fee.amount, 375);
    assert.equal(fee.account, accountId);

    await stripe.refunds.create({
      charge: charge.id,
      reverse_transfer: true,
      refund_application_fee: true,
    });
    assert.equal((await stripe.transfers.retrieve(transfer.id)).amount_reversed, 3000);
    assert.equal((await stripe.applicationFees.retrieve(fee.id)).amount_refunded, 375);
  });
});

Deno.test("a declined one-time destination charge moves no money", async () => {
  await withDouble(async (double, stripe) => {
    const accountId = await expressAccount(stripe);
    double.connect.completeOnboarding(accountId);
    const session = await passCheckout(double, stripe, {
      transfer_data: { destination: accountId },
      application_fee_amount: 300,
    });
    double.completePayment(session.id, { outcome: "payment_failed" });
    assert.equal(double.connect.transfers.size, 0);
    assert.equal(double.connect.applicationFees.size, 0);
  });
});
