/**
 * The Stripe double sells as Stripe does beyond subscriptions: Checkout in payment mode with
 * one-time prices, promotion codes and coupons, and Stripe Tax with the address it needs.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_double_selling";

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

async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error("expected the request to fail");
}

const URLS = {
  success_url: "https://rolepass.test/thanks?session={CHECKOUT_SESSION_ID}",
  cancel_url: "https://rolepass.test/plans",
};

Deno.test("a payment-mode Checkout of a one-time price charges once and completes with its invoice", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const customer = await stripe.customers.create({ email: "member@example.com" });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      payment_intent_data: { metadata: { rolepass_membership_id: "m-1" } },
      invoice_creation: { enabled: true },
      metadata: { rolepass_membership_id: "m-1" },
      ...URLS,
    });
    assert.equal(session.payment_status, "unpaid");
    assert.equal(session.invoice_creation?.enabled, true);

    const declined = double.completePayment(session.id, { outcome: "payment_failed" });
    assert.equal(declined.session.status, "open");
    assert.equal(declined.charge.status, "failed");

    const paid = double.completePayment(session.id);
    assert.equal(paid.paymentIntent.id, declined.paymentIntent.id, "a retry reuses the intent");
    const completed = await stripe.checkout.sessions.retrieve(session.id, {
      expand: ["payment_intent.latest_charge"],
    });
    assert.equal(completed.status, "complete");
    assert.equal(completed.payment_status, "paid");
    assert.equal(completed.amount_total, 3000);
    assert.equal(completed.subscription, null);
    const intent = completed.payment_intent as Stripe.PaymentIntent;
    assert.equal(intent.status, "succeeded");
    assert.deepEqual(intent.metadata, { rolepass_membership_id: "m-1" });
    assert.equal((intent.latest_charge as Stripe.Charge).amount, 3000);

    const invoice = await stripe.invoices.retrieve(String(completed.invoice));
    assert.equal(invoice.status, "paid");
    assert.equal(invoice.parent, null, "a one-time payment's invoice has no subscription");
    assert.equal(invoice.amount_paid, 3000);
    assert.equal(first(invoice.lines.data, "line").pricing?.price_details?.price, price.id);
    const payments = await stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: intent.id },
    });
    assert.equal(first(payments.data, "invoice payment").invoice, invoice.id);

    const types: string[] = double.events().map((event) => event.type);
    const order = [
      "payment_intent.created",
      "charge.succeeded",
      "payment_intent.succeeded",
      "checkout.session.completed",
      "invoice.paid",
    ].map((type) => types.lastIndexOf(type));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), types.join(", "));
    assert.ok(!types.includes("customer.subscription.created"));
  });
});

Deno.test("Checkout refuses a mode that does not fit its prices, as Stripe does", async () => {
  await withDouble(async (double, stripe) => {
    const monthly = double.createPrice({ unitAmount: 500, currency: "jpy" });
    const once = double.createPrice({ unitAmount: 500, currency: "jpy", recurring: false });
    const recurringInPayment = await rejection(stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [{ price: monthly.id, quantity: 1 }],
      ...URLS,
    }));
    assert.equal(recurringInPayment.param, "line_items[0][price]");
    assert.match(recurringInPayment.message, /`payment` mode but passed a recurring price/);
    const oneTimeInSubscription = await rejection(stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: once.id, quantity: 1 }],
      ...URLS,
    }));
    assert.match(oneTimeInSubscription.message, /at least one recurring price/);
    const invoiceInSubscription = await rejection(stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: monthly.id, quantity: 1 }],
      invoice_creation: { enabled: true },
      ...URLS,
    }));
    assert.equal(invoiceInSubscription.param, "invoice_creation");
    const subscriptionPayment = double.createPrice({ unitAmount: 500, recurring: false });
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      line_items: [{ price: subscriptionPayment.id, quantity: 1 }],
      ...URLS,
    });
    assert.throws(() => double.completeCheckout(session.id), /completePayment/);
  });
});

Deno.test("a promotion code typed at Checkout takes its coupon off the payment and its invoice", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const coupon = double.createCoupon({ percentOff: 20 });
    const code = double.createPromotionCode({ coupon: coupon.id, code: "LAUNCH20" });
    const customer = await stripe.customers.create({});
    const both = await rejection(stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      allow_promotion_codes: true,
      discounts: [{ promotion_code: code.id }],
      ...URLS,
    }));
    assert.match(both.message, /only specify one of these parameters: allow_promotion_codes/);

    const open = (allow: boolean) =>
      stripe.checkout.sessions.create({
        mode: "payment",
        customer: customer.id,
        line_items: [{ price: price.id, quantity: 1 }],
        invoice_creation: { enabled: true },
        ...(allow ? { allow_promotion_codes: true } : {}),
        ...URLS,
      });
    const closed = await open(false);
    assert.throws(
      () => double.completePayment(closed.id, { promotionCode: "LAUNCH20" }),
      /does not accept promotion codes/,
    );
    const session = await open(true);
    assert.throws(
      () => double.completePayment(session.id, { promotionCode: "NOPE" }),
      /This code is invalid/,
    );
    const paid = double.completePayment(session.id, { promotionCode: "launch20" });
    assert.equal(paid.session.amount_subtotal, 3000);
    assert.equal(paid.session.amount_total, 2400);
    assert.equal(paid.session.total_details?.amount_discount, 600);
    assert.deepEqual(paid.session.discounts, [{ coupon: coupon.id, promotion_code: code.id }]);
    assert.equal(paid.charge.amount, 2400);
    assert.equal(paid.invoice?.total, 2400);
    assert.equal(first(paid.invoice?.total_discount_amounts ?? [], "discount").amount, 600);
    const redeemed = await stripe.promotionCodes.retrieve(code.id);
    assert.equal(redeemed.times_redeemed, 1);
    const listed = await stripe.promotionCodes.list({ code: "LAUNCH20" });
    assert.equal(first(listed.data, "code").promotion.coupon, coupon.id);
  });
});

Deno.test("a subscription's once-only promotion code discounts its first invoice, not the renewal", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 1000, currency: "usd" });
    const coupon = double.createCoupon({ amountOff: 300, currency: "usd", duration: "once" });
    const code = double.createPromotionCode({ coupon: coupon.id, code: "WELCOME" });
    const customer = await stripe.customers.create({});
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      discounts: [{ promotion_code: code.id }],
      ...URLS,
    });
    const { subscription, session: paid } = double.completeCheckout(session.id);
    assert.equal(paid.amount_total, 700);
    assert.equal(paid.total_details?.amount_discount, 300);
    const firstInvoice = await stripe.invoices.retrieve(String(subscription.latest_invoice));
    assert.equal(firstInvoice.amount_paid, 700);
    const renewed = double.advanceToPeriodEnd(subscription.id);
    const renewal = await stripe.invoices.retrieve(String(renewed.latest_invoice));
    assert.equal(renewal.amount_paid, 1000);
  });
});

Deno.test("Stripe Tax needs the address Checkout saves, and a tax-inclusive yen price keeps its total", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({
      unitAmount: 1100,
      currency: "jpy",
      recurring: false,
      taxBehavior: "inclusive",
    });
    const customer = await stripe.customers.create({});
    const base = {
      mode: "payment" as const,
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      automatic_tax: { enabled: true },
      ...URLS,
    };
    const noAddress = await rejection(stripe.checkout.sessions.create(base));
    assert.equal(noAddress.param, "customer_update");
    assert.match(noAddress.message, /requires a valid address on the Customer/);
    const noCustomer = await rejection(stripe.checkout.sessions.create({
      ...base,
      customer: undefined,
      customer_update: { address: "auto" },
    }));
    assert.equal(noCustomer.param, "customer_update");

    const session = await stripe.checkout.sessions.create({
      ...base,
      billing_address_collection: "required",
      customer_update: { address: "auto" },
    });
    assert.throws(() => double.completePayment(session.id), /billing address/);
    const paid = double.completePayment(session.id, {
      address: { country: "JP", postal_code: "100-0001" },
    });
    assert.equal(paid.session.amount_total, 1100, "the price includes the tax");
    assert.equal(paid.session.total_details?.amount_tax, 100);
    assert.equal(paid.session.automatic_tax.status, "complete");
    assert.equal(
      (await stripe.customers.retrieve(customer.id) as Stripe.Customer).address?.country,
      "JP",
    );

    const usd = double.createPrice({
      unitAmount: 1000,
      currency: "usd",
      recurring: false,
      taxBehavior: "exclusive",
    });
    const exclusive = await stripe.checkout.sessions.create({
      ...base,
      line_items: [{ price: usd.id, quantity: 1 }],
    });
    const added = double.completePayment(exclusive.id, { address: { country: "GB" } });
    assert.equal(added.session.amount_total, 1200, "exclusive tax is added");
    assert.equal(added.session.total_details?.amount_tax, 200);
  });
});

Deno.test("a one-time payment is refunded and disputed by its PaymentIntent", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const customer = await stripe.customers.create({});
    const session = await stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      ...URLS,
    });
    const paid = double.completePayment(session.id);
    const refund = await stripe.refunds.create({ payment_intent: paid.paymentIntent.id });
    assert.equal(refund.amount, 3000);
    assert.equal((await stripe.charges.retrieve(paid.charge.id)).refunded, true);

    const second = await stripe.checkout.sessions.create({
      mode: "payment",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      ...URLS,
    });
    const other = double.completePayment(second.id);
    const dispute = double.openDispute(other.paymentIntent.id);
    assert.equal(dispute.charge, other.charge.id);
    assert.equal(dispute.amount, 3000);
  });
});
