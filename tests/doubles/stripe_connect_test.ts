/**
 * The Stripe double's Connect: Express accounts and their hosted onboarding, login links, the
 * Stripe-Account header keeping each account's objects to itself, Connect endpoints, and
 * destination charges with their transfers, application fees, reversals and fee refunds.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_connect_double_123";

function sdkFor(double: StripeDouble): Stripe {
  return new Stripe(SECRET_KEY, {
    host: "127.0.0.1",
    port: double.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
}

async function withDouble(fn: (double: StripeDouble, stripe: Stripe) => Promise<void>) {
  const double = await startStripeDouble({ secretKey: SECRET_KEY });
  try {
    await fn(double, sdkFor(double));
  } finally {
    await double.close();
  }
}

async function expressAccount(stripe: Stripe): Promise<Stripe.Account> {
  return await stripe.accounts.create({
    type: "express",
    country: "JP",
    capabilities: { card_payments: { requested: true }, transfers: { requested: true } },
    metadata: { guild_id: "1001" },
  });
}

/** Walks the hosted onboarding page of a fresh Account Link; returns where it sent the browser. */
async function onboard(stripe: Stripe, accountId: string): Promise<string> {
  const link = await stripe.accountLinks.create({
    account: accountId,
    type: "account_onboarding",
    refresh_url: "https://rolepass.test/connect/refresh",
    return_url: "https://rolepass.test/connect/return",
  });
  const submitted = await fetch(link.url, { method: "POST", redirect: "manual" });
  await submitted.body?.cancel();
  return submitted.headers.get("location") ?? "";
}

/** The charge of the latest successful payment, as the SDK retrieves it. */
async function latestCharge(double: StripeDouble, stripe: Stripe): Promise<Stripe.Charge> {
  const succeeded = double.events({ type: "charge.succeeded" }).at(-1);
  if (!succeeded) throw new Error("Expected a charge.succeeded event, found none");
  return await stripe.charges.retrieve((succeeded.data.object as Stripe.Charge).id);
}

async function destinationCheckout(
  double: StripeDouble,
  stripe: Stripe,
  accountId: string,
  feePercent: number,
) {
  const price = double.createPrice({ unitAmount: 1000, currency: "jpy", productName: "VIP" });
  const customer = await stripe.customers.create({ email: "member@example.com" });
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: "https://rolepass.test/done",
    subscription_data: {
      transfer_data: { destination: accountId },
      on_behalf_of: accountId,
      application_fee_percent: feePercent,
    },
  });
  return { price, customer, session };
}

Deno.test("an Express account starts unable to take charges and its hosted onboarding enables it", async () => {
  await withDouble(async (_double, stripe) => {
    const account = await expressAccount(stripe);
    assert.equal(account.type, "express");
    assert.equal(account.details_submitted, false);
    assert.equal(account.charges_enabled, false);
    assert.equal(account.payouts_enabled, false);
    assert.ok((account.requirements?.currently_due ?? []).length > 0);

    const link = await stripe.accountLinks.create({
      account: account.id,
      type: "account_onboarding",
      refresh_url: "https://rolepass.test/connect/refresh",
      return_url: "https://rolepass.test/connect/return",
    });
    assert.equal(link.object, "account_link");
    assert.ok(link.expires_at > link.created);
    const page = await fetch(link.url);
    assert.match(await page.text(), /Submit details/);
    const submitted = await fetch(link.url, { method: "POST", redirect: "manual" });
    await submitted.body?.cancel();
    assert.equal(submitted.status, 303);
    assert.equal(submitted.headers.get("location"), "https://rolepass.test/connect/return");

    const done = await stripe.accounts.retrieve(account.id);
    assert.equal(done.details_submitted, true);
    assert.equal(done.charges_enabled, true);
    assert.equal(done.payouts_enabled, true);
    assert.deepEqual(done.requirements?.currently_due, []);

    const again = await fetch(link.url, { redirect: "manual" });
    await again.body?.cancel();
    assert.equal(again.status, 303, "an Account Link is single-use");
    assert.equal(again.headers.get("location"), "https://rolepass.test/connect/refresh");
  });
});

Deno.test("account_update links are refused for Express accounts and links need both URLs", async () => {
  await withDouble(async (_double, stripe) => {
    const account = await expressAccount(stripe);
    await assert.rejects(
      stripe.accountLinks.create({
        account: account.id,
        type: "account_update",
        refresh_url: "https://rolepass.test/r",
        return_url: "https://rolepass.test/b",
      }),
      /account_update/,
    );
    await assert.rejects(
      stripe.accountLinks.create({ account: account.id, type: "account_onboarding" }),
      /refresh_url/,
    );
    await assert.rejects(
      stripe.accountLinks.create({
        account: "acct_1Missing00000000",
        type: "account_onboarding",
        refresh_url: "https://rolepass.test/r",
        return_url: "https://rolepass.test/b",
      }),
      (error: unknown) =>
        error instanceof Stripe.errors.StripeError && error.code === "resource_missing",
    );
  });
});

Deno.test("a login link to the Express Dashboard exists only once onboarding is done", async () => {
  await withDouble(async (_double, stripe) => {
    const account = await expressAccount(stripe);
    await assert.rejects(stripe.accounts.createLoginLink(account.id), /not completed onboarding/);
    await onboard(stripe, account.id);
    const login = await stripe.accounts.createLoginLink(account.id);
    assert.equal(login.object, "login_link");
    const dashboard = await fetch(login.url);
    assert.match(await dashboard.text(), /Express Dashboard/);
  });
});

Deno.test("an object of one connected account is missing from the platform and from another account", async () => {
  await withDouble(async (_double, stripe) => {
    const a = await expressAccount(stripe);
    const b = await expressAccount(stripe);
    const customer = await stripe.customers.create(
      { email: "member@example.com" },
      { stripeAccount: a.id },
    );
    const seen = await stripe.customers.retrieve(customer.id, {}, { stripeAccount: a.id });
    assert.equal(seen.id, customer.id);
    for (const options of [{ stripeAccount: b.id }, {}]) {
      await assert.rejects(
        stripe.customers.retrieve(customer.id, {}, options),
        (error: unknown) =>
          error instanceof Stripe.errors.StripeError && error.code === "resource_missing",
      );
    }
    const platformCustomers = await stripe.customers.list();
    assert.equal(platformCustomers.data.some((c) => c.id === customer.id), false);
    await assert.rejects(
      stripe.customers.list({}, { stripeAccount: "acct_1NotConnected0000" }),
      (error: unknown) =>
        error instanceof Stripe.errors.StripeError && error.code === "account_invalid" &&
        error.statusCode === 403,
    );
  });
});

Deno.test("account.updated goes to the Connect endpoint with its own secret and the account on the event", async () => {
  const received: { path: string; body: string; signature: string }[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received.push({
      path: new URL(req.url).pathname,
      body: await req.text(),
      signature: req.headers.get("stripe-signature") ?? "",
    });
    return new Response("ok");
  });
  const base = `http://127.0.0.1:${receiver.addr.port}`;
  const double = await startStripeDouble({
    secretKey: SECRET_KEY,
    webhook: { url: `${base}/platform`, secret: "whsec_platform_secret" },
    connectWebhook: { url: `${base}/connect`, secret: "whsec_connect_secret" },
  });
  try {
    const stripe = sdkFor(double);
    const account = await expressAccount(stripe);
    await onboard(stripe, account.id);
    await double.deliverEvents();
    await double.connect.deliverEvents();
    assert.equal(received.filter((r) => r.path === "/platform").length, 0);
    const delivery = first(received.filter((r) => r.path === "/connect"), "a Connect delivery");
    const event = await stripe.webhooks.constructEventAsync(
      delivery.body,
      delivery.signature,
      "whsec_connect_secret",
    );
    assert.equal(event.type, "account.updated");
    assert.equal(event.account, account.id);
    const updated = event.data.object as Stripe.Account;
    assert.equal(updated.charges_enabled, true);
    assert.equal(
      (event.data.previous_attributes as { charges_enabled?: boolean }).charges_enabled,
      false,
    );
    await assert.rejects(
      stripe.webhooks.constructEventAsync(
        delivery.body,
        delivery.signature,
        "whsec_platform_secret",
      ),
    );
  } finally {
    await double.close();
    await receiver.shutdown();
  }
});

Deno.test("Checkout refuses a destination that cannot take transfers yet and a fee with no destination", async () => {
  await withDouble(async (double, stripe) => {
    const account = await expressAccount(stripe);
    await assert.rejects(
      destinationCheckout(double, stripe, account.id, 10),
      /capabilities enabled: transfers/,
    );
    const price = double.createPrice({ unitAmount: 1000, currency: "jpy" });
    await assert.rejects(
      stripe.checkout.sessions.create({
        mode: "subscription",
        line_items: [{ price: price.id, quantity: 1 }],
        success_url: "https://rolepass.test/done",
        subscription_data: { application_fee_percent: 10 },
      }),
      /application_fee_percent/,
    );
  });
});

Deno.test("a paid destination charge transfers the amount and takes the application fee back", async () => {
  await withDouble(async (double, stripe) => {
    const account = await expressAccount(stripe);
    await onboard(stripe, account.id);
    const { session } = await destinationCheckout(double, stripe, account.id, 10);
    const { subscription } = double.completeCheckout(session.id);
    assert.equal(subscription.transfer_data?.destination, account.id);
    assert.equal(subscription.application_fee_percent, 10);
    assert.equal(subscription.on_behalf_of, account.id);

    const charge = await latestCharge(double, stripe);
    assert.equal(charge.transfer_data?.destination, account.id);
    assert.equal(charge.application_fee_amount, 100);
    const transfer = await stripe.transfers.retrieve(String(charge.transfer));
    assert.equal(transfer.amount, 1000);
    assert.equal(transfer.destination, account.id);
    const fee = await stripe.applicationFees.retrieve(String(charge.application_fee));
    assert.equal(fee.amount, 100);
    assert.equal(fee.account, account.id);
    const types = double.events().map((e) => e.type);
    assert.ok(types.includes("transfer.created") && types.includes("application_fee.created"));
  });
});

Deno.test("a refund reverses the transfer and refunds the fee only as its two flags ask", async () => {
  await withDouble(async (double, stripe) => {
    const account = await expressAccount(stripe);
    await onboard(stripe, account.id);
    const { session } = await destinationCheckout(double, stripe, account.id, 10);
    double.completeCheckout(session.id);
    const charge = await latestCharge(double, stripe);

    const platformPays = await stripe.refunds.create({ charge: charge.id, amount: 200 });
    assert.equal(platformPays.transfer_reversal, null);
    assert.equal((await stripe.transfers.retrieve(String(charge.transfer))).amount_reversed, 0);

    const communityPays = await stripe.refunds.create({
      charge: charge.id,
      amount: 300,
      reverse_transfer: true,
    });
    assert.ok(communityPays.transfer_reversal);
    assert.equal((await stripe.transfers.retrieve(String(charge.transfer))).amount_reversed, 300);
    assert.equal(
      (await stripe.applicationFees.retrieve(String(charge.application_fee))).amount_refunded,
      0,
    );

    await stripe.refunds.create({
      charge: charge.id,
      amount: 500,
      reverse_transfer: true,
      refund_application_fee: true,
    });
    const transfer = await stripe.transfers.retrieve(String(charge.transfer));
    assert.equal(transfer.amount_reversed, 800);
    const fee = await stripe.applicationFees.retrieve(String(charge.application_fee));
    assert.equal(fee.amount_refunded, 50, "the fee is refunded in proportion to the refund");
    assert.ok(double.events().some((e) => e.type === "transfer.reversed"));
    assert.ok(double.events().some((e) => e.type === "application_fee.refunded"));
  });
});

Deno.test("reverse_transfer is refused on a charge that is not a destination charge", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 500, currency: "jpy" });
    const customer = await stripe.customers.create({ email: "member@example.com" });
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://rolepass.test/done",
    });
    double.completeCheckout(session.id);
    const charge = await latestCharge(double, stripe);
    await assert.rejects(
      stripe.refunds.create({ charge: charge.id, reverse_transfer: true }),
      /reverse_transfer/,
    );
    assert.equal((await stripe.charges.retrieve(charge.id)).amount_refunded, 0);
  });
});

Deno.test("a lost dispute's money is recovered by reversing the transfer", async () => {
  await withDouble(async (double, stripe) => {
    const account = await expressAccount(stripe);
    await onboard(stripe, account.id);
    const { session } = await destinationCheckout(double, stripe, account.id, 10);
    double.completeCheckout(session.id);
    const charge = await latestCharge(double, stripe);
    const reversal = await stripe.transfers.createReversal(String(charge.transfer), {
      refund_application_fee: true,
    });
    assert.equal(reversal.amount, 1000);
    const fee = await stripe.applicationFees.retrieve(String(charge.application_fee));
    assert.equal(fee.amount_refunded, 100);
  });
});

Deno.test("a portal session opens on behalf of known accounts only", async () => {
  await withDouble(async (_double, stripe) => {
    const account = await expressAccount(stripe);
    const customer = await stripe.customers.create({ email: "member@example.com" });
    const portal = (onBehalfOf: string) =>
      stripe.billingPortal.sessions.create({
        customer: customer.id,
        on_behalf_of: onBehalfOf,
        return_url: "https://rolepass.test/manage/done",
      });
    assert.equal((await portal(account.id)).on_behalf_of, account.id);
    await assert.rejects(
      portal("acct_1Missing00000000"),
      (error: unknown) =>
        error instanceof Stripe.errors.StripeError && error.code === "resource_missing" &&
        error.type === "StripeInvalidRequestError" && error.param === "on_behalf_of",
    );
  });
});
