/**
 * The Stripe double answers the real `stripe` SDK the way Stripe does: parameter and id errors,
 * idempotency, Checkout and Billing lifecycles with their events, signed webhooks, and injected
 * faults.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { first } from "../harness/assert.ts";

const SECRET_KEY = "sk_test_double_123";

function sdkFor(double: StripeDouble, options: { maxNetworkRetries?: number } = {}): Stripe {
  return new Stripe(SECRET_KEY, {
    host: "127.0.0.1",
    port: double.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
  });
}

/** Starts a double and an SDK client for one test, and stops the double afterwards. */
async function withDouble(
  fn: (double: StripeDouble, stripe: Stripe) => Promise<void>,
  options: Parameters<typeof startStripeDouble>[0] = {},
): Promise<void> {
  const double = await startStripeDouble({ secretKey: SECRET_KEY, ...options });
  try {
    await fn(double, sdkFor(double));
  } finally {
    await double.close();
  }
}

/** Creates a customer and a subscription-mode Checkout Session for a monthly price. */
async function openCheckout(
  double: StripeDouble,
  stripe: Stripe,
  extra: Partial<Stripe.Checkout.SessionCreateParams> = {},
) {
  const price = double.createPrice({ unitAmount: 500, currency: "eur", productName: "VIP role" });
  const customer = await stripe.customers.create({
    email: "member@example.com",
    metadata: { discord_user_id: "42" },
  });
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    client_reference_id: "42:1001",
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: "https://rolepass.test/done?session={CHECKOUT_SESSION_ID}",
    cancel_url: "https://rolepass.test/plans",
    metadata: { discord_user_id: "42", guild_id: "1001" },
    subscription_data: { metadata: { discord_user_id: "42", guild_id: "1001" } },
    locale: "fr",
    ...extra,
  });
  return { price, customer, session };
}

async function rejection(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error("expected the request to fail");
}

Deno.test("an unknown parameter is rejected with parameter_unknown naming its bracket path", async () => {
  await withDouble(async (double, stripe) => {
    const top = await rejection(stripe.customers.create({ foo: "bar" } as never));
    assert.ok(top instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(top.statusCode, 400);
    assert.equal(top.code, "parameter_unknown");
    assert.equal(top.param, "foo");
    assert.equal(top.message, "Received unknown parameter: foo");
    assert.equal(top.doc_url, "https://stripe.com/docs/error-codes/parameter-unknown");

    const price = double.createPrice({ unitAmount: 500 });
    const nested = await rejection(stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://rolepass.test/done",
      subscription_data: { metadata: {}, colour: "red" } as never,
    }));
    assert.equal(nested.code, "parameter_unknown");
    assert.equal(nested.param, "subscription_data[colour]");
  });
});

Deno.test("a missing required parameter is rejected with parameter_missing", async () => {
  await withDouble(async (double, stripe) => {
    const price = double.createPrice({ unitAmount: 500 });
    const error = await rejection(stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id }],
      success_url: "https://rolepass.test/done",
    }));
    assert.equal(error.code, "parameter_missing");
    assert.equal(error.param, "line_items[0][quantity]");
    assert.equal(error.message, "Missing required param: line_items[0][quantity].");
  });
});

Deno.test("an unknown id is a 404 resource_missing naming the object", async () => {
  await withDouble(async (_double, stripe) => {
    const error = await rejection(stripe.customers.retrieve("cus_missing"));
    assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(error.statusCode, 404);
    assert.equal(error.code, "resource_missing");
    assert.equal(error.message, "No such customer: 'cus_missing'");
    const subscription = await rejection(stripe.subscriptions.retrieve("sub_missing"));
    assert.equal(subscription.message, "No such subscription: 'sub_missing'");
  });
});

Deno.test("a wrong API key gets 401 and an unknown path gets Stripe's 404", async () => {
  await withDouble(async (double) => {
    const wrong = new Stripe("sk_test_wrong", {
      host: "127.0.0.1",
      port: double.port,
      protocol: "http",
      maxNetworkRetries: 0,
    });
    const error = await rejection(wrong.customers.list());
    assert.ok(error instanceof Stripe.errors.StripeAuthenticationError);
    assert.equal(error.statusCode, 401);

    const response = await fetch(`${double.url}/v1/unicorns`, {
      headers: { authorization: `Bearer ${SECRET_KEY}` },
    });
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /^Unrecognized request URL \(GET: \/v1\/unicorns\)/);
  });
});

Deno.test("the same idempotency key and parameters replay the first answer", async () => {
  await withDouble(async (double, stripe) => {
    const params = { email: "member@example.com", metadata: { discord_user_id: "42" } };
    const first = await stripe.customers.create(params, { idempotencyKey: "customer:42" });
    const second = await stripe.customers.create(params, { idempotencyKey: "customer:42" });
    assert.equal(second.id, first.id);
    const replay = await fetch(`${double.url}/v1/customers`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${SECRET_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
        "idempotency-key": "raw:1",
      },
      body: "email=raw%40example.com",
    });
    const again = await fetch(`${double.url}/v1/customers`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${SECRET_KEY}`,
        "content-type": "application/x-www-form-urlencoded",
        "idempotency-key": "raw:1",
      },
      body: "email=raw%40example.com",
    });
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal((await again.json()).id, (await replay.json()).id);
    assert.equal(double.events({ type: "customer.created" }).length, 2);
    assert.equal((await stripe.customers.list()).data.length, 2);

    const conflict = await rejection(
      stripe.customers.create({ email: "other@example.com" }, { idempotencyKey: "customer:42" }),
    );
    assert.ok(conflict instanceof Stripe.errors.StripeIdempotencyError);
    assert.equal(conflict.statusCode, 400);
    assert.match(conflict.message, /same parameters they were first used with/);
  });
});

Deno.test("completing Checkout creates an active subscription and the purchase events", async () => {
  await withDouble(async (double, stripe) => {
    const { customer, session, price } = await openCheckout(double, stripe);
    assert.equal(session.status, "open");
    assert.equal(session.url, `${double.url}/__double/checkout/${session.id}`);
    assert.equal(session.locale, "fr");
    assert.equal(session.client_reference_id, "42:1001");

    const { subscription } = double.completeCheckout(session.id, { outcome: "paid" });
    const retrieved = await stripe.subscriptions.retrieve(subscription.id, {
      expand: ["items.data.price.product", "latest_invoice"],
    });
    assert.equal(retrieved.status, "active");
    assert.equal(retrieved.customer, customer.id);
    assert.deepEqual(retrieved.metadata, { discord_user_id: "42", guild_id: "1001" });
    const item = retrieved.items.data[0];
    assert(item, "item is missing");
    assert.equal(item.price.id, price.id);
    assert.equal((item.price.product as Stripe.Product).name, "VIP role");
    assert.ok(item.current_period_end > item.current_period_start);
    assert.equal("current_period_end" in retrieved, false);
    const invoice = retrieved.latest_invoice as Stripe.Invoice;
    assert.equal(invoice.status, "paid");
    assert.equal(invoice.billing_reason, "subscription_create");
    assert.equal(invoice.parent?.subscription_details?.subscription, subscription.id);
    assert.deepEqual(invoice.parent?.subscription_details?.metadata, retrieved.metadata);
    assert.equal("subscription" in invoice, false);

    const completed = await stripe.checkout.sessions.retrieve(session.id);
    assert.equal(completed.status, "complete");
    assert.equal(completed.subscription, subscription.id);

    const listed = await stripe.subscriptions.list({
      customer: customer.id,
      status: "all",
      limit: 1,
    });
    assert.deepEqual(listed.data.map((s) => s.id), [subscription.id]);

    const types = double.events().map((e) => e.type);
    const purchase = [
      "charge.succeeded",
      "checkout.session.completed",
      "customer.subscription.created",
      "payment_intent.created",
      "payment_intent.succeeded",
      "invoice.created",
      "invoice.finalized",
      "invoice.paid",
      "invoice.payment_succeeded",
      "invoice_payment.paid",
    ];
    assert.deepEqual(types.filter((t) => purchase.includes(t)), purchase);
    const created = double.events({ type: "invoice.created" })[0];
    assert(created, "created is missing");
    assert.equal((created.data.object as Stripe.Invoice).status, "draft");
    for (const event of double.events()) {
      assert.match(event.id, /^evt_/);
      assert.equal(event.api_version, double.apiVersion);
    }
  });
});

Deno.test("a declined first payment leaves an incomplete subscription and an open session", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe);
    const { subscription } = double.completeCheckout(session.id, { outcome: "payment_failed" });
    assert.equal(subscription.status, "incomplete");
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, "open");
    assert.equal(double.events({ type: "invoice.payment_failed" }).length, 1);
    assert.equal(double.events({ type: "checkout.session.completed" }).length, 0);

    const retry = double.completeCheckout(session.id, { outcome: "paid" });
    assert.equal(retry.subscription.id, subscription.id);
    assert.equal(retry.subscription.status, "active");
    assert.equal(retry.session.status, "complete");
  });
});

Deno.test("signed events verify with constructEventAsync and fail with another secret", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe);
    double.completeCheckout(session.id);
    const event = double.events({ type: "checkout.session.completed" })[0];
    assert(event, "event is missing");
    const secret = "whsec_test_secret_for_the_double";
    const { body, header } = await double.signEvent(event, secret);
    assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.ok(body.includes('\n  "id": '), "body is pretty-printed like Stripe's");

    const verified = await stripe.webhooks.constructEventAsync(body, header, secret);
    assert.equal(verified.id, event.id);
    assert.equal((verified.data.object as Stripe.Checkout.Session).id, session.id);

    await assert.rejects(
      stripe.webhooks.constructEventAsync(body, header, "whsec_another_secret"),
      Stripe.errors.StripeSignatureVerificationError,
    );
    const stale = await double.signEvent(event, secret, Math.floor(Date.now() / 1000) - 3600);
    await assert.rejects(
      stripe.webhooks.constructEventAsync(stale.body, stale.header, secret),
      Stripe.errors.StripeSignatureVerificationError,
    );
  });
});

Deno.test("deliverEvents POSTs signed events to the webhook, shuffled and duplicated on request", async () => {
  const secret = "whsec_delivery_test";
  const received: Stripe.Event[] = [];
  const verifier = new Stripe(SECRET_KEY);
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = await req.text();
    try {
      received.push(
        await verifier.webhooks.constructEventAsync(
          body,
          req.headers.get("stripe-signature")!,
          secret,
        ),
      );
      return new Response("ok");
    } catch {
      return new Response("bad signature", { status: 400 });
    }
  });
  try {
    await withDouble(async (double, stripe) => {
      const { session } = await openCheckout(double, stripe);
      double.completeCheckout(session.id);
      const total = double.events().length;

      const attempts = await double.deliverEvents({ shuffle: true, duplicate: true });
      assert.equal(attempts.length, total * 2);
      assert.ok(attempts.every((a) => a.status === 200));
      assert.equal(new Set(received.map((e) => e.id)).size, total);
      assert.equal(received.length, total * 2);

      assert.equal((await double.deliverEvents()).length, 0, "delivered events are not resent");
    }, { webhook: { url: `http://127.0.0.1:${receiver.addr.port}/stripe-webhook`, secret } });
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("an injected status fails the matching request the given number of times", async () => {
  await withDouble(async (double, stripe) => {
    double.inject({ method: "POST", path: "/v1/customers", status: 500, times: 1 });
    const error = await rejection(stripe.customers.create({ email: "a@example.com" }));
    assert.ok(error instanceof Stripe.errors.StripeAPIError);
    assert.equal(error.statusCode, 500);
    const customer = await stripe.customers.create({ email: "a@example.com" });
    assert.match(customer.id, /^cus_/);

    double.inject({ path: /^\/v1\/subscriptions\//, status: 429 });
    const limited = await rejection(stripe.subscriptions.retrieve("sub_anything"));
    assert.ok(limited instanceof Stripe.errors.StripeRateLimitError);
    double.clearFaults();
    const missing = await rejection(stripe.subscriptions.retrieve("sub_anything"));
    assert.equal(missing.code, "resource_missing");
  });
});

Deno.test("an injected delay slows the answer down", async () => {
  await withDouble(async (double, stripe) => {
    double.inject({ path: "/v1/customers", delayMs: 300, times: 1 });
    const started = performance.now();
    await stripe.customers.list();
    assert.ok(performance.now() - started >= 290);
  });
});

Deno.test("a dropped connection is retried by the SDK with the same idempotency key", async () => {
  await withDouble(async (double) => {
    const retrying = sdkFor(double, { maxNetworkRetries: 1 });
    double.inject({
      method: "POST",
      path: "/v1/customers",
      drop: true,
      dropPhase: "after",
      times: 1,
    });
    const customer = await retrying.customers.create({ email: "retry@example.com" });
    const posts = double.requests({ method: "POST", path: "/v1/customers" });
    assert.equal(posts.length, 2);
    const [original, retried] = posts;
    assert(original && retried, "two POSTs");
    assert.equal(original.idempotencyKey, retried.idempotencyKey);
    assert.equal(original.status, null);
    assert.equal(retried.replayed, true);
    assert.equal(double.events({ type: "customer.created" }).length, 1);
    assert.equal(double.get<Stripe.Customer>(customer.id)?.email, "retry@example.com");

    double.inject({ method: "POST", path: "/v1/customers", drop: true });
    const error = await rejection(sdkFor(double).customers.create({ email: "lost@example.com" }));
    assert.ok(error instanceof Stripe.errors.StripeConnectionError);
  });
});

Deno.test("cancel at period end has the classic shape in classic billing mode", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe, {
      subscription_data: { metadata: { guild_id: "1001" }, billing_mode: { type: "classic" } },
    });
    const { subscription } = double.completeCheckout(session.id);
    const periodEnd =
      first(subscription.items.data, "an item of subscription.items.data").current_period_end;

    const canceled = await stripe.subscriptions.update(subscription.id, {
      cancel_at_period_end: true,
    });
    assert.equal(canceled.billing_mode.type, "classic");
    assert.equal(canceled.cancel_at_period_end, true);
    assert.equal(canceled.cancel_at, periodEnd);
    assert.equal(canceled.status, "active");
    assert.equal(canceled.cancellation_details?.reason, "cancellation_requested");

    const updated = double.events({ type: "customer.subscription.updated" }).at(-1)!;
    assert.deepEqual(updated.data.previous_attributes, {
      cancel_at: null,
      cancel_at_period_end: false,
      canceled_at: null,
      cancellation_details: { reason: null },
    });
    assert.ok(updated.request?.id?.startsWith("req_"));

    const ended = double.advanceToPeriodEnd(subscription.id);
    assert.equal(ended.status, "canceled");
    assert.equal(ended.ended_at, periodEnd);
    assert.equal(double.events({ type: "customer.subscription.deleted" }).length, 1);
  });
});

Deno.test("cancel at period end has the flexible shape in flexible billing mode", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe);
    const { subscription } = double.completeCheckout(session.id);
    assert.equal(subscription.billing_mode.type, "flexible");
    const maxEnd = Math.max(...subscription.items.data.map((i) => i.current_period_end));

    const scheduled = double.cancelAtPeriodEnd(subscription.id);
    assert.equal(scheduled.cancel_at_period_end, false);
    assert.equal(scheduled.cancel_at, maxEnd);
    assert.equal(scheduled.cancellation_details?.reason, "cancellation_requested");
    assert.equal(scheduled.status, "active");

    const kept = await stripe.subscriptions.update(subscription.id, { cancel_at: "" as never });
    assert.equal(kept.cancel_at, null);
    assert.equal(kept.cancellation_details?.reason, null);

    const viaApi = await stripe.subscriptions.update(subscription.id, {
      cancel_at_period_end: true,
    });
    assert.equal(viaApi.cancel_at_period_end, false);
    assert.equal(viaApi.cancel_at, maxEnd);
  });
});

Deno.test("renewals move the period; a declined renewal goes past_due until recovered", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe);
    const { subscription } = double.completeCheckout(session.id);
    const firstEnd =
      first(subscription.items.data, "an item of subscription.items.data").current_period_end;

    const renewed = double.advanceToPeriodEnd(subscription.id);
    assert.equal(
      first(renewed.items.data, "an item of renewed.items.data").current_period_start,
      firstEnd,
    );
    assert.ok(
      first(renewed.items.data, "an item of renewed.items.data").current_period_end > firstEnd,
    );
    const update = double.events({ type: "customer.subscription.updated" }).at(-1)!;
    assert.ok("items" in (update.data.previous_attributes ?? {}));
    const cycle = await stripe.invoices.retrieve(String(renewed.latest_invoice));
    assert.equal(cycle.billing_reason, "subscription_cycle");
    assert.equal(cycle.status, "paid");

    const failed = double.failRenewal(subscription.id);
    assert.equal(failed.status, "past_due");
    const failedInvoice = double.events({ type: "invoice.payment_failed" }).at(-1)!
      .data.object as Stripe.Invoice;
    assert.equal(failedInvoice.attempt_count, 1);
    assert.ok(failedInvoice.next_payment_attempt);

    assert.equal(double.recoverRenewal(subscription.id).status, "active");
    double.failRenewal(subscription.id);
    assert.equal(double.endDunning(subscription.id, "canceled").status, "canceled");
    assert.equal(
      (await stripe.subscriptions.retrieve(subscription.id)).cancellation_details?.reason,
      "payment_failed",
    );
  });
});

Deno.test("a charge leads to its subscription through invoice payments, and refunds and disputes emit events", async () => {
  await withDouble(async (double, stripe) => {
    const { session } = await openCheckout(double, stripe);
    const { subscription } = double.completeCheckout(session.id);

    const { charge } = double.refundLatestCharge(subscription.id, { full: false });
    assert.equal(charge.refunded, false);
    assert.equal(charge.amount_refunded, 250);
    const refunded = double.events({ type: "charge.refunded" })[0];
    assert(refunded, "refunded is missing");
    assert.deepEqual(
      (refunded.data.previous_attributes as Partial<Stripe.Charge>).amount_refunded,
      0,
    );

    const dispute = double.openDispute(subscription.id);
    assert.match(dispute.id, /^dp_/);
    assert.equal(double.events({ type: "charge.dispute.created" }).length, 1);

    // Since basil a charge names no invoice: follow payment_intent → invoice_payment → invoice.
    const cannot = await rejection(stripe.charges.retrieve(charge.id, { expand: ["invoice"] }));
    assert.match(cannot.message, /cannot be expanded/);
    const payments = await stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: String(charge.payment_intent) },
      expand: ["data.invoice"],
    });
    const invoice = first(payments.data, "an item of payments.data").invoice as Stripe.Invoice;
    assert.equal(invoice.parent?.subscription_details?.subscription, subscription.id);
  });
});

Deno.test("the hosted Checkout and portal pages drive the flow from a browser form", async () => {
  await withDouble(async (double, stripe) => {
    const { session, customer } = await openCheckout(double, stripe);
    const page = await fetch(session.url!);
    const html = await page.text();
    assert.ok(html.includes("rolepass local sandbox – Stripe test double, no real payment"));
    assert.ok(html.includes('href="https://rolepass.test/plans"'));

    const paid = await fetch(`${double.url}/__double/checkout/${session.id}/pay`, {
      method: "POST",
      body: new URLSearchParams({ outcome: "paid" }),
      redirect: "manual",
    });
    await paid.body?.cancel();
    assert.equal(paid.status, 303);
    assert.equal(
      paid.headers.get("location"),
      `https://rolepass.test/done?session=${session.id}`,
    );

    const portal = await stripe.billingPortal.sessions.create({
      customer: customer.id,
      return_url: "https://rolepass.test/account",
      locale: "fr",
    });
    assert.equal(portal.url, `${double.url}/__double/portal/${portal.id}`);
    const subscriptionId = String(
      (await stripe.checkout.sessions.retrieve(session.id)).subscription,
    );
    const portalHtml = await (await fetch(portal.url)).text();
    assert.ok(portalHtml.includes("Cancel at period end"));
    const cancel = await fetch(`${portal.url}/cancel_at_period_end`, {
      method: "POST",
      body: new URLSearchParams({ subscription: subscriptionId }),
      redirect: "manual",
    });
    await cancel.body?.cancel();
    assert.equal(cancel.status, 303);
    const scheduled = await stripe.subscriptions.retrieve(subscriptionId);
    assert.ok(scheduled.cancel_at !== null);

    double.configurePortal(false);
    const unconfigured = await rejection(
      stripe.billingPortal.sessions.create({ customer: customer.id, return_url: "https://x.test" }),
    );
    assert.match(unconfigured.message, /default configuration has not been created/);
  });
});

Deno.test("the control API works over HTTP for a separate process", async () => {
  await withDouble(async (double) => {
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${double.url}/__double${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    const price = await post("/prices", { unitAmount: 900, productName: "Gold" });
    assert.match(price.body.id, /^price_/);
    const foreign = await post("/foreign_subscriptions", {});
    assert.deepEqual(foreign.body.metadata, {});
    const advanced = await post(`/subscriptions/${foreign.body.id}/advance`, {});
    assert.equal(advanced.body.status, "active");
    const missing = await post("/subscriptions/sub_nope/cancel_now", {});
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "resource_missing");
    await post("/faults", { path: { regex: "^/v1/customers" }, status: 503, times: 1 });
    const faulted = await fetch(`${double.url}/v1/customers`, {
      headers: { authorization: `Bearer ${SECRET_KEY}` },
    });
    await faulted.body?.cancel();
    assert.equal(faulted.status, 503);
    const events = await (await fetch(`${double.url}/__double/events`)).json();
    assert.ok(events.some((e: Stripe.Event) => e.type === "customer.subscription.created"));
  });
});

Deno.test("with automatic delivery on, events reach the webhook without being asked", async () => {
  const secret = "whsec_auto_delivery";
  const received: string[] = [];
  const verifier = new Stripe(SECRET_KEY);
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const event = await verifier.webhooks.constructEventAsync(
      await req.text(),
      req.headers.get("stripe-signature")!,
      secret,
    );
    received.push(event.type);
    return new Response("ok");
  });
  try {
    await withDouble(async (double, stripe) => {
      const { session } = await openCheckout(double, stripe);
      double.completeCheckout(session.id);
      const expected = double.events().length;
      for (let i = 0; i < 100 && received.length < expected; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(received.length, expected);
      assert.ok(received.includes("checkout.session.completed"));
    }, {
      webhook: { url: `http://127.0.0.1:${receiver.addr.port}/`, secret },
      autoDeliver: true,
    });
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("timestamps follow the injected clock", async () => {
  const now = Date.UTC(2026, 0, 31, 12) / 1000;
  await withDouble(async (double, stripe) => {
    const { customer, session } = await openCheckout(double, stripe);
    assert.equal(customer.created, now);

    const { subscription } = double.completeCheckout(session.id);
    // Monthly periods keep the anchor day, clamped to the month's last day (31 Jan → 28 Feb).
    assert.equal(
      first(subscription.items.data, "an item of subscription.items.data").current_period_end,
      Date.UTC(2026, 1, 28, 12) / 1000,
    );
  }, { clock: () => now * 1000 });
});

Deno.test("pause and resume emit their events; canceled subscriptions leave the default list", async () => {
  await withDouble(async (double, stripe) => {
    const { session, customer } = await openCheckout(double, stripe);
    const { subscription } = double.completeCheckout(session.id);
    assert.equal(double.pause(subscription.id).status, "paused");
    assert.equal(double.events({ type: "customer.subscription.paused" }).length, 1);
    const resumed = double.resume(subscription.id);
    assert.equal(resumed.status, "active");
    assert.equal(double.events({ type: "customer.subscription.resumed" }).length, 1);

    await stripe.subscriptions.cancel(subscription.id);
    const deleted = double.events({ type: "customer.subscription.deleted" })[0];
    assert(deleted, "deleted is missing");
    assert.equal((deleted.data.object as Stripe.Subscription).status, "canceled");
    assert.equal(deleted.data.previous_attributes, undefined);
    assert.equal((await stripe.subscriptions.list({ customer: customer.id })).data.length, 0);
    assert.equal(
      (await stripe.subscriptions.list({ customer: customer.id, status: "all" })).data.length,
      1,
    );
    const refused = await rejection(
      stripe.subscriptions.update(subscription.id, { cancel_at_period_end: true }),
    );
    assert.equal(refused.statusCode, 400);
  });
});
