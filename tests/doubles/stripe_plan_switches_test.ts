/**
 * The Stripe double changes a subscription's price as Stripe does
 * (https://docs.stripe.com/billing/subscriptions/change-price, .../prorations): `items[0][id]` with
 * `items[0][price]`, prorations per `proration_behavior`, `customer.subscription.updated` with
 * `previous_attributes`, and the Customer Portal's plan switching limited to the prices its
 * configuration lists.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_double_switch";
const DAY = 86_400;
/** 1 March 2027 12:00 UTC: a 31-day month, so ten days in is 21/31 of it left. */
const START = Date.UTC(2027, 2, 1, 12) / 1000;

interface World {
  double: StripeDouble;
  stripe: Stripe;
  clock: { now: number };
  gold: Stripe.Price;
  silver: Stripe.Price;
  subscription: Stripe.Subscription;
}

async function withSubscriber(fn: (world: World) => Promise<void>): Promise<void> {
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
    const gold = double.createPrice({ unitAmount: 3100, currency: "jpy", productName: "Gold" });
    const silver = double.createPrice({ unitAmount: 620, currency: "jpy", productName: "Silver" });
    const customer = await stripe.customers.create({ email: "member@example.com" });
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: silver.id, quantity: 1 }],
      success_url: "https://rolepass.test/done",
      cancel_url: "https://rolepass.test/plans",
    });
    const { subscription } = double.completeCheckout(session.id);
    clock.now = START + 10 * DAY;
    await fn({ double, stripe, clock, gold, silver, subscription });
  } finally {
    await double.close();
  }
}

function itemOf(subscription: Stripe.Subscription): Stripe.SubscriptionItem {
  return first(subscription.items.data, "the subscription's item");
}

function eventsSince(double: StripeDouble, count: number): Stripe.Event[] {
  return double.events().slice(count);
}

Deno.test("an upgrade with create_prorations leaves both prorations pending for the renewal", async () => {
  await withSubscriber(async ({ double, stripe, gold, subscription }) => {
    const before = double.events().length;
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: itemOf(subscription).id, price: gold.id }],
      proration_behavior: "create_prorations",
    });
    assert.equal(itemOf(updated).price.id, gold.id);
    assert.equal(itemOf(updated).current_period_end, itemOf(subscription).current_period_end);

    const events = eventsSince(double, before);
    assert.deepEqual(events.map((e) => e.type), [
      "invoiceitem.created",
      "invoiceitem.created",
      "customer.subscription.updated",
    ]);
    const [credit, charge] = events.slice(0, 2).map((e) => e.data.object as Stripe.InvoiceItem);
    assert.ok(credit && charge);
    // 21 of the period's 31 days are left.
    assert.equal(credit.amount, -Math.round(620 * 21 / 31));
    assert.equal(charge.amount, Math.round(3100 * 21 / 31));
    assert.equal(credit.proration, true);
    assert.equal(credit.invoice, null);
    const update = first(events.slice(2), "the update event");
    const previous = update.data.previous_attributes as {
      items?: { data: { price: { id: string } }[] };
    };
    assert.equal(previous.items?.data[0]?.price.id, subscription.items.data[0]?.price.id);

    const renewed = double.advanceToPeriodEnd(subscription.id);
    const invoice = await stripe.invoices.retrieve(String(renewed.latest_invoice));
    assert.equal(invoice.billing_reason, "subscription_cycle");
    assert.deepEqual(
      invoice.lines.data.map((line) => line.amount),
      [3100, credit.amount, charge.amount],
    );
    assert.equal(invoice.amount_paid, 3100 + credit.amount + charge.amount);
  });
});

Deno.test("always_invoice bills an upgrade's prorations at once and a downgrade's credit without a charge", async () => {
  await withSubscriber(async ({ double, stripe, gold, silver, subscription }) => {
    let before = double.events().length;
    const upgraded = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: itemOf(subscription).id, price: gold.id }],
      proration_behavior: "always_invoice",
    });
    const types = eventsSince(double, before).map((e) => e.type);
    assert.deepEqual(types.slice(0, 3), [
      "invoiceitem.created",
      "invoiceitem.created",
      "customer.subscription.updated",
    ]);
    assert.ok(types.includes("invoice.paid") && types.includes("charge.succeeded"));
    const invoice = await stripe.invoices.retrieve(String(upgraded.latest_invoice));
    assert.equal(invoice.billing_reason, "subscription_update");
    const net = Math.round(3100 * 21 / 31) - Math.round(620 * 21 / 31);
    assert.equal(invoice.amount_paid, net);
    assert.equal(invoice.lines.data.length, 2);

    before = double.events().length;
    const downgraded = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: itemOf(upgraded).id, price: silver.id }],
      proration_behavior: "always_invoice",
    });
    const credit = await stripe.invoices.retrieve(String(downgraded.latest_invoice));
    assert.equal(credit.status, "paid");
    assert.equal(credit.amount_paid, 0);
    assert.ok(credit.total < 0, "the credit is larger than the charge");
    const downgradeTypes = eventsSince(double, before).map((e) => e.type);
    assert.ok(!downgradeTypes.includes("charge.succeeded"), "nothing is charged");
    assert.ok(downgradeTypes.includes("invoice.paid"));
  });
});

Deno.test("proration_behavior none changes the price with no proration and bills it from the renewal", async () => {
  await withSubscriber(async ({ double, stripe, gold, subscription }) => {
    const before = double.events().length;
    await stripe.subscriptions.update(subscription.id, {
      items: [{ id: itemOf(subscription).id, price: gold.id }],
      proration_behavior: "none",
    });
    assert.deepEqual(eventsSince(double, before).map((e) => e.type), [
      "customer.subscription.updated",
    ]);
    const renewed = double.advanceToPeriodEnd(subscription.id);
    const invoice = await stripe.invoices.retrieve(String(renewed.latest_invoice));
    assert.deepEqual(invoice.lines.data.map((line) => line.amount), [3100]);
  });
});

Deno.test("a price of another interval starts a new billing cycle, invoiced at once", async () => {
  await withSubscriber(async ({ double, stripe, clock, subscription }) => {
    const yearly = double.createPrice({
      unitAmount: 30000,
      currency: "jpy",
      interval: "year",
      productName: "Gold yearly",
    });
    const updated = await stripe.subscriptions.update(subscription.id, {
      items: [{ id: itemOf(subscription).id, price: yearly.id }],
    });
    assert.equal(itemOf(updated).current_period_start, clock.now);
    assert.equal(updated.billing_cycle_anchor, clock.now);
    const invoice = await stripe.invoices.retrieve(String(updated.latest_invoice));
    assert.equal(invoice.billing_reason, "subscription_update");
    assert.deepEqual(invoice.lines.data.map((line) => line.amount), [
      30000,
      -Math.round(620 * 21 / 31),
    ]);
  });
});

Deno.test("a price change is refused for an unknown item or price, a one-time price or another currency", async () => {
  await withSubscriber(async ({ double, stripe, gold, subscription }) => {
    const item = itemOf(subscription).id;
    const refused = async (params: Stripe.SubscriptionUpdateParams) => {
      try {
        await stripe.subscriptions.update(subscription.id, params);
      } catch (error) {
        return error as Stripe.errors.StripeError;
      }
      throw new Error("expected a refusal");
    };
    const unknownItem = await refused({ items: [{ id: "si_nope", price: gold.id }] });
    assert.equal(unknownItem.code, "resource_missing");
    assert.equal(unknownItem.param, "items[0][id]");
    const unknownPrice = await refused({ items: [{ id: item, price: "price_nope" }] });
    assert.equal(unknownPrice.code, "resource_missing");
    const once = double.createPrice({ unitAmount: 100, currency: "jpy", recurring: false });
    assert.equal((await refused({ items: [{ id: item, price: once.id }] })).statusCode, 400);
    const dollars = double.createPrice({ unitAmount: 100, currency: "usd" });
    assert.equal((await refused({ items: [{ id: item, price: dollars.id }] })).statusCode, 400);
    const unknownParam = await refused(
      { items: [{ id: item, price: gold.id, colour: "x" }] } as never,
    );
    assert.equal(unknownParam.code, "parameter_unknown");
    assert.equal(
      itemOf(await stripe.subscriptions.retrieve(subscription.id)).price.id,
      itemOf(subscription).price.id,
    );
  });
});

Deno.test("the portal lets a member switch only between the prices its configuration lists", async () => {
  await withSubscriber(async ({ double, stripe, gold, silver, subscription }) => {
    const other = double.createPrice({ unitAmount: 9999, currency: "jpy", productName: "Other" });
    const before = await stripe.billingPortal.configurations.list({
      expand: ["data.features.subscription_update.products"],
    });
    const initial = first(before.data, "the default configuration").features.subscription_update;
    assert.equal(initial.enabled, false);
    assert.deepEqual(initial.products, []);

    double.configurePortalPlanSwitching({
      enabled: true,
      prices: [silver.id, gold.id],
      prorationBehavior: "always_invoice",
    });
    const [plain] = (await stripe.billingPortal.configurations.list()).data;
    assert.ok(
      plain && !("products" in plain.features.subscription_update),
      "products is includable",
    );
    const [expanded] = (await stripe.billingPortal.configurations.list({
      expand: ["data.features.subscription_update.products"],
    })).data;
    assert.deepEqual(
      expanded?.features.subscription_update.products?.flatMap((p) => p.prices).sort(),
      [gold.id, silver.id].sort(),
    );
    assert.equal(expanded?.features.subscription_update.proration_behavior, "always_invoice");

    const portal = await stripe.billingPortal.sessions.create({
      customer: String(subscription.customer),
      return_url: "https://rolepass.test/account",
    });
    const html = await (await fetch(portal.url)).text();
    assert.ok(html.includes("Switch to Gold"));
    assert.ok(!html.includes("Switch to Other"), "a price the configuration does not list");

    const refused = await fetch(`${portal.url}/switch`, {
      method: "POST",
      body: new URLSearchParams({ subscription: subscription.id, price: other.id }),
      redirect: "manual",
    });
    await refused.body?.cancel();
    assert.equal(refused.status, 400);

    const switched = await fetch(`${portal.url}/switch`, {
      method: "POST",
      body: new URLSearchParams({ subscription: subscription.id, price: gold.id }),
      redirect: "manual",
    });
    await switched.body?.cancel();
    assert.equal(switched.status, 303);
    const after = await stripe.subscriptions.retrieve(subscription.id);
    assert.equal(itemOf(after).price.id, gold.id);
    const invoice = await stripe.invoices.retrieve(String(after.latest_invoice));
    assert.equal(
      invoice.billing_reason,
      "subscription_update",
      "the configuration's always_invoice",
    );
    void other;
  });
});
