/**
 * The control surface of the double: seeding, simulating what Stripe and customers do, events and
 * webhooks, fault injection and the request log. {@link StripeDoubleControl} is the in-process API;
 * {@link createControlApp} serves the same operations over HTTP under `/__double/...` for the dev
 * runner and the browser, together with the hosted Checkout and Customer Portal pages.
 */
import { type Context, Hono } from "hono";
import type Stripe from "stripe";
import type { ProrationBehavior } from "./plan_switches.ts";
import type {
  Billing,
  CheckoutPayment,
  CreatePriceOptions,
  CreateWebhookEndpointOptions,
  PaymentOutcome,
  PortalPlanSwitching,
} from "./billing.ts";
import type {
  CompletedPayment,
  CreateCouponOptions,
  CreatePromotionCodeOptions,
} from "./selling.ts";
import { StripeApiError } from "./errors.ts";
import type { DeliverOptions, DeliveryAttempt, EventLog } from "./events.ts";
import {
  type FaultInjector,
  type FaultRule,
  faultRuleFromJson,
  type FaultRuleJson,
} from "./faults.ts";
import type { CustomerFields } from "./objects.ts";
import { checkoutPage, indexPage, portalPage } from "./pages.ts";
import type { LoggedRequest, RequestFilter, RequestLog } from "./request_log.ts";
import type { BillingModeType, StoredObject, StripeState } from "./state.ts";

/** The in-process control API of a running double. */
export class StripeDoubleControl {
  /** @internal */
  constructor(
    private readonly state: StripeState,
    private readonly eventLog: EventLog,
    private readonly billing: Billing,
    private readonly faults: FaultInjector,
    private readonly log: RequestLog,
  ) {}

  /** The `api_version` of the events this double emits. */
  get apiVersion(): string {
    return this.eventLog.apiVersion;
  }

  /** Creates a product and a recurring (or one-time) price; returns the price. */
  createPrice(options: CreatePriceOptions): Stripe.Price {
    return copy(this.billing.createPrice(options));
  }

  /** Creates a customer, as `POST /v1/customers` would. */
  createCustomer(fields: CustomerFields = {}): Stripe.Customer {
    return copy(this.billing.createCustomer(fields));
  }

  /** Registers a webhook endpoint; the result includes its signing `secret`. */
  createWebhookEndpoint(
    options: CreateWebhookEndpointOptions,
  ): Stripe.WebhookEndpoint & { secret: string } {
    return this.billing.createWebhookEndpoint(options);
  }

  /** Whether the Customer Portal is configured (false makes portal sessions fail as in Stripe). */
  configurePortal(enabled: boolean): void {
    this.billing.configurePortal(enabled);
  }

  /** Lets members switch between `prices` in the Customer Portal (features.subscription_update). */
  configurePortalPlanSwitching(options: PortalPlanSwitching): Stripe.BillingPortal.Configuration {
    return copy(this.billing.configurePortalPlanSwitching(options));
  }

  /**
   * Changes the subscription's price as a member's switch in the portal or an API update does:
   * prorations as `prorationBehavior` says (default create_prorations), then
   * customer.subscription.updated and, when billed at once, the invoice events.
   */
  switchPrice(
    subscriptionId: string,
    priceId: string,
    options: { prorationBehavior?: ProrationBehavior } = {},
  ): Stripe.Subscription {
    return copy(
      this.billing.switchPrice(
        subscriptionId,
        priceId,
        options.prorationBehavior ?? "create_prorations",
      ),
    );
  }

  /** Billing mode of subscriptions Checkout creates when the session does not choose one. */
  setDefaultBillingMode(mode: BillingModeType): void {
    this.state.defaultBillingMode = mode;
  }

  /** Prefix of the ids of charges made from now on (Stripe's own fixtures hold a `py_` charge). */
  setChargeIdPrefix(prefix: "ch" | "py"): void {
    this.state.chargeIdPrefix = prefix;
  }

  /** Pays an open Checkout Session in subscription mode (see {@link Billing.completeCheckout}). */
  completeCheckout(
    sessionId: string,
    options: CheckoutPayment = {},
  ): { session: Stripe.Checkout.Session; subscription: Stripe.Subscription } {
    const { session, subscription } = this.billing.completeCheckout(sessionId, options);
    return { session: copy(session), subscription: copy(subscription) };
  }

  /** Pays an open Checkout Session in payment mode (one-time prices; see selling.ts). */
  completePayment(sessionId: string, options: CheckoutPayment = {}): CompletedPayment {
    const paid = this.billing.selling.completePayment(sessionId, options);
    return {
      session: copy(paid.session),
      paymentIntent: copy(paid.paymentIntent),
      charge: copy(paid.charge),
      invoice: paid.invoice && copy(paid.invoice),
    };
  }

  /** Pays an open Checkout Session of either mode, as its hosted page does. */
  payCheckout(sessionId: string, options: CheckoutPayment = {}): Stripe.Checkout.Session {
    const session = this.state.checkoutSessions.get(sessionId);
    return session?.mode === "payment"
      ? this.completePayment(sessionId, options).session
      : this.completeCheckout(sessionId, options).session;
  }

  /** Creates a coupon, as the Dashboard does. */
  createCoupon(options: CreateCouponOptions): Stripe.Coupon {
    return copy(this.billing.selling.createCoupon(options));
  }

  /** Creates a promotion code (the code a customer types) for a coupon. */
  createPromotionCode(options: CreatePromotionCodeOptions): Stripe.PromotionCode {
    return copy(this.billing.selling.createPromotionCode(options));
  }

  /**
   * Refunds a one-time payment (a PaymentIntent `pi_...` or its charge), fully unless `amount`
   * says otherwise, as the Dashboard's refund does (refund.created, charge.refunded).
   */
  refundPayment(id: string, options: { amount?: number } = {}): {
    charge: Stripe.Charge;
    refund: Stripe.Refund;
  } {
    const charge = this.billing.selling.chargeOf(id);
    const { refund } = this.billing.refundCharge(charge.id, options);
    return { charge: copy(this.billing.selling.chargeOf(charge.id)), refund: copy(refund) };
  }

  /** Expires an open Checkout Session. */
  expireCheckout(sessionId: string): Stripe.Checkout.Session {
    return copy(this.billing.expireCheckout(sessionId));
  }

  /** Schedules cancellation at period end in the shape of `mode` (default: the subscription's). */
  cancelAtPeriodEnd(subscriptionId: string, mode?: BillingModeType): Stripe.Subscription {
    return copy(this.billing.cancelAtPeriodEnd(subscriptionId, mode));
  }

  /** Removes a scheduled cancellation. */
  keepSubscription(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.keepSubscription(subscriptionId));
  }

  /** Ends the current period: renewal (paid or declined) or the scheduled cancel takes effect. */
  advanceToPeriodEnd(
    subscriptionId: string,
    options: { outcome?: PaymentOutcome } = {},
  ): Stripe.Subscription {
    return copy(this.billing.advanceToPeriodEnd(subscriptionId, options));
  }

  /** A declined renewal (invoice.payment_failed; the subscription becomes `past_due`). */
  failRenewal(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.failRenewal(subscriptionId));
  }

  /** A successful retry of the open renewal invoice (back to `active`). */
  recoverRenewal(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.recoverRenewal(subscriptionId));
  }

  /** Dunning gives up: the subscription is canceled or marked `unpaid`. */
  endDunning(subscriptionId: string, result: "canceled" | "unpaid"): Stripe.Subscription {
    return copy(this.billing.endDunning(subscriptionId, result));
  }

  /** A free trial that ends with the current period (status `trialing`). */
  beginTrial(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.beginTrial(subscriptionId));
  }

  /** Emits customer.subscription.trial_will_end for a trialing subscription. */
  trialWillEnd(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.trialWillEnd(subscriptionId));
  }

  /** Cancels immediately (customer.subscription.deleted). */
  cancelNow(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.cancelNow(subscriptionId));
  }

  /** Pauses the subscription (status `paused`). */
  pause(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.pause(subscriptionId));
  }

  /** Resumes a paused subscription with a new, paid period. */
  resume(subscriptionId: string): Stripe.Subscription {
    return copy(this.billing.resume(subscriptionId));
  }

  /** Refunds the latest successful charge (full by default; `full: false` refunds half). */
  refundLatestCharge(
    subscriptionId: string,
    options: { full?: boolean; amount?: number } = {},
  ): { charge: Stripe.Charge; refund: Stripe.Refund } {
    const { charge, refund } = this.billing.refundLatestCharge(subscriptionId, options);
    return { charge: copy(charge), refund: copy(refund) };
  }

  /** Opens a dispute on the latest successful charge. */
  openDispute(subscriptionId: string, options: { reason?: string } = {}): Stripe.Dispute {
    // A subscription's latest charge, or a one-time payment's (`pi_...`, `ch_...`).
    return copy(this.billing.openDispute(subscriptionId, options));
  }

  /** Closes a dispute as won or lost. */
  closeDispute(disputeId: string, result: "won" | "lost"): Stripe.Dispute {
    return copy(this.billing.closeDispute(disputeId, result));
  }

  /**
   * An active subscription without rolepass metadata, paying the platform alone, on a customer
   * rolepass does not know (or on `customerId`, as one made by hand in the Dashboard).
   */
  createForeignSubscription(
    options: { priceId?: string; email?: string; customerId?: string } = {},
  ): Stripe.Subscription {
    return copy(this.billing.createForeignSubscription(options));
  }

  /** A copy of any stored object by id (`cus_`, `sub_`, `in_`, `ch_`, `cs_test_`, ...). */
  get<T = StoredObject>(id: string): T | undefined {
    const found = this.state.find(id) ?? this.eventLog.get(id);
    return found ? copy(found as T) : undefined;
  }

  /**
   * Events so far, oldest first, optionally only some types, and only from the `from`-th on (a
   * reader that keeps its place copies just the new ones, not the whole log every time).
   */
  events(filter: { type?: string | string[]; from?: number } = {}): Stripe.Event[] {
    const types = filter.type === undefined ? null : [filter.type].flat();
    const log = this.eventLog.events.slice(filter.from ?? 0);
    return copy(log.filter((e) => !types || types.includes(e.type)));
  }

  /** Signs an event as Stripe would for an endpoint with `secret`. */
  signEvent(
    event: Stripe.Event,
    secret: string,
    timestamp?: number,
  ): Promise<{ body: string; header: string }> {
    return this.eventLog.sign(event, secret, timestamp);
  }

  /** POSTs pending events to the webhook endpoints now. */
  deliverEvents(options: DeliverOptions = {}): Promise<DeliveryAttempt[]> {
    return this.eventLog.deliver(options);
  }

  /** Turns delivery after every event on or off (off by default). */
  setAutoDelivery(enabled: boolean): void {
    this.eventLog.setAutoDelivery(enabled);
  }

  /** Every webhook POST so far. */
  deliveries(): DeliveryAttempt[] {
    return copy(this.eventLog.attempts);
  }

  /** Adds a fault rule; returns its id. */
  inject(rule: FaultRule): number {
    return this.faults.add(rule);
  }

  /** Removes all fault rules. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests received so far (control and page requests under /__double are not logged). */
  requests(filter: RequestFilter = {}): LoggedRequest[] {
    return copy(this.log.list(filter));
  }

  /** Forgets the logged requests. */
  clearRequests(): void {
    this.log.clear();
  }
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

type Body = Record<string, unknown>;

async function readBody(c: Context): Promise<Body> {
  const type = c.req.header("content-type") ?? "";
  if (type.includes("application/json")) {
    const text = await c.req.text();
    return text ? JSON.parse(text) : {};
  }
  if (type.includes("form")) return Object.fromEntries(Object.entries(await c.req.parseBody()));
  return {};
}

/**
 * What a Checkout page or a control request pays with: `outcome`, and the promotion code and
 * billing address country the customer entered (`promotion_code`/`promotionCode`,
 * `country`/`address`), blank fields ignored.
 */
function paymentOf(body: Body): CheckoutPayment {
  const text = (value: unknown) =>
    typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
  const promotionCode = text(body.promotion_code) ?? text(body.promotionCode);
  const address = typeof body.address === "object" && body.address !== null
    ? body.address as CheckoutPayment["address"]
    : text(body.country)
    ? { country: text(body.country)!, postal_code: text(body.postal_code) ?? null }
    : undefined;
  return {
    outcome: body.outcome === "payment_failed" ? "payment_failed" : "paid",
    ...(promotionCode ? { promotionCode } : {}),
    ...(address ? { address } : {}),
  };
}

function bool(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  return value === true || value === "true" || value === "1" || value === "on";
}

function prorationBehaviorOf(value: unknown): ProrationBehavior | undefined {
  return value === "create_prorations" || value === "always_invoice" || value === "none"
    ? value
    : undefined;
}

function num(value: unknown): number | undefined {
  return value === undefined || value === "" ? undefined : Number(value);
}

/**
 * The `/__double` HTTP app: JSON control routes mirroring {@link StripeDoubleControl}, and the
 * sandbox's HTML pages.
 */
export function createControlApp(control: StripeDoubleControl, state: StripeState): Hono {
  const app = new Hono().basePath("/__double");

  app.get("/", (c) => c.html(indexPage(state)));
  app.get("/health", (c) => c.json({ ok: true, apiVersion: control.apiVersion }));
  app.get("/events", (c) => {
    const type = c.req.queries("type");
    return c.json(control.events(type ? { type } : {}));
  });
  app.get("/requests", (c) => {
    const method = c.req.query("method");
    const path = c.req.query("path");
    return c.json(control.requests({ method, path }));
  });
  app.delete("/requests", (c) => {
    control.clearRequests();
    return c.json({ ok: true });
  });
  app.get("/deliveries", (c) => c.json(control.deliveries()));
  app.get("/objects/:id", (c) => {
    const object = control.get(c.req.param("id"));
    return object ? c.json(object) : c.json({ error: { message: "No such object" } }, 404);
  });
  app.get("/invoices/:id", (c) => {
    const object = control.get(c.req.param("id"));
    return object ? c.json(object) : c.json({ error: { message: "No such invoice" } }, 404);
  });

  app.post("/prices", async (c) => c.json(control.createPrice((await readBody(c)) as never)));
  app.post("/customers", async (c) => c.json(control.createCustomer((await readBody(c)) as never)));
  app.post(
    "/webhook_endpoints",
    async (c) => c.json(control.createWebhookEndpoint((await readBody(c)) as never)),
  );
  app.post("/portal_configuration", async (c) => {
    control.configurePortal(bool((await readBody(c)).enabled) ?? true);
    return c.json({ ok: true });
  });
  app.post("/portal_plan_switching", async (c) => {
    const body = await readBody(c);
    return c.json(control.configurePortalPlanSwitching({
      enabled: bool(body.enabled) ?? true,
      prices: Array.isArray(body.prices) ? body.prices.map(String) : [],
      prorationBehavior: prorationBehaviorOf(body.prorationBehavior),
    }));
  });
  app.post("/default_billing_mode", async (c) => {
    const mode = (await readBody(c)).mode;
    control.setDefaultBillingMode(mode === "classic" ? "classic" : "flexible");
    return c.json({ ok: true });
  });
  app.post("/auto_delivery", async (c) => {
    control.setAutoDelivery(bool((await readBody(c)).enabled) ?? true);
    return c.json({ ok: true });
  });
  app.post("/deliver", async (c) => {
    const body = await readBody(c);
    return c.json(
      await control.deliverEvents({
        shuffle: bool(body.shuffle),
        duplicate: bool(body.duplicate),
        delayMs: num(body.delayMs),
        includeDelivered: bool(body.includeDelivered),
        types: Array.isArray(body.types) ? body.types.map(String) : undefined,
      }),
    );
  });
  app.post("/sign", async (c) => {
    const body = await readBody(c);
    const event = (typeof body.eventId === "string" ? control.get(body.eventId) : body.event) as
      | Stripe.Event
      | undefined;
    if (!event) return c.json({ error: { message: "No such event" } }, 404);
    return c.json(await control.signEvent(event, String(body.secret), num(body.timestamp)));
  });
  app.post("/faults", async (c) => {
    const id = control.inject(faultRuleFromJson((await readBody(c)) as unknown as FaultRuleJson));
    return c.json({ id });
  });
  app.delete("/faults", (c) => {
    control.clearFaults();
    return c.json({ ok: true });
  });
  app.post("/foreign_subscriptions", async (c) => {
    const body = await readBody(c);
    return c.json(control.createForeignSubscription({
      priceId: body.priceId as string | undefined,
      email: body.email as string | undefined,
    }));
  });

  app.post("/checkout/:id/complete", async (c) => {
    const id = c.req.param("id");
    const payment = paymentOf(await readBody(c));
    return c.json(
      state.checkoutSessions.get(id)?.mode === "payment"
        ? control.completePayment(id, payment)
        : control.completeCheckout(id, payment),
    );
  });
  app.post("/coupons", async (c) => c.json(control.createCoupon((await readBody(c)) as never)));
  app.post(
    "/promotion_codes",
    async (c) => c.json(control.createPromotionCode((await readBody(c)) as never)),
  );
  app.post("/payments/:id/refund", async (c) => {
    const amount = num((await readBody(c)).amount);
    return c.json(control.refundPayment(c.req.param("id"), amount ? { amount } : {}));
  });
  app.post("/payments/:id/dispute", async (c) => {
    const reason = (await readBody(c)).reason as string | undefined;
    return c.json(control.openDispute(c.req.param("id"), { reason }));
  });
  app.post("/checkout/:id/expire", (c) => c.json(control.expireCheckout(c.req.param("id"))));

  const actions: Record<string, (id: string, body: Body) => unknown> = {
    cancel_at_period_end: (id, body) =>
      control.cancelAtPeriodEnd(id, body.mode as BillingModeType | undefined),
    keep: (id) => control.keepSubscription(id),
    advance: (id, body) =>
      control.advanceToPeriodEnd(id, {
        outcome: body.outcome === "payment_failed" ? "payment_failed" : "paid",
      }),
    fail_renewal: (id) => control.failRenewal(id),
    recover_renewal: (id) => control.recoverRenewal(id),
    end_dunning: (id, body) =>
      control.endDunning(id, body.result === "unpaid" ? "unpaid" : "canceled"),
    cancel_now: (id) => control.cancelNow(id),
    pause: (id) => control.pause(id),
    resume: (id) => control.resume(id),
    refund: (id, body) =>
      control.refundLatestCharge(id, { full: bool(body.full) ?? true, amount: num(body.amount) }),
    dispute: (id, body) => control.openDispute(id, { reason: body.reason as string | undefined }),
  };
  app.post("/disputes/:id/close", async (c) => {
    const result = (await readBody(c)).result;
    if (result !== "won" && result !== "lost") {
      return c.json({ error: { message: 'result must be "won" or "lost"' } }, 400);
    }
    return c.json(control.closeDispute(c.req.param("id"), result));
  });
  app.post("/subscriptions/:id/:action", async (c) => {
    const action = actions[c.req.param("action")];
    if (!action) return c.json({ error: { message: "Unknown action" } }, 404);
    const result = action(c.req.param("id"), await readBody(c));
    return c.req.query("redirect") ? c.redirect("/__double", 303) : c.json(result);
  });

  app.get("/checkout/:id", (c) => {
    const session = state.checkoutSessions.get(c.req.param("id"));
    if (!session) return c.html("<p>No such Checkout Session.</p>", 404);
    return c.html(checkoutPage(state, session));
  });
  app.post("/checkout/:id/pay", async (c) => {
    const id = c.req.param("id");
    const session = control.payCheckout(id, paymentOf(await readBody(c)));
    if (session.status === "complete" && session.success_url) {
      return c.redirect(session.success_url.replaceAll("{CHECKOUT_SESSION_ID}", id), 303);
    }
    return c.redirect(`/__double/checkout/${id}`, 303);
  });
  app.get("/portal/:id", (c) => {
    const session = state.portalSessions.get(c.req.param("id"));
    if (!session) return c.html("<p>No such portal session.</p>", 404);
    return c.html(portalPage(state, session));
  });
  app.post("/portal/:id/:action", async (c) => {
    const session = state.portalSessions.get(c.req.param("id"));
    if (!session) return c.html("<p>No such portal session.</p>", 404);
    const body = await readBody(c);
    const subscriptionId = String(body.subscription ?? "");
    const subscription = state.subscriptions.get(subscriptionId);
    if (!subscription || subscription.customer !== session.customer) {
      return c.html("<p>No such subscription for this customer.</p>", 404);
    }
    const action = c.req.param("action");
    if (action === "switch") {
      const configuration = state.portalConfigurations.get(String(session.configuration));
      const update = configuration?.features.subscription_update;
      const allowed = (state.portalUpdateProducts.get(String(session.configuration)) ?? [])
        .flatMap((product) => product.prices);
      const priceId = String(body.price ?? "");
      if (!update?.enabled || !allowed.includes(priceId)) {
        return c.html("<p>This plan cannot be chosen here.</p>", 400);
      }
      control.switchPrice(subscriptionId, priceId, {
        prorationBehavior: prorationBehaviorOf(update.proration_behavior) ?? "none",
      });
      return c.redirect(`/__double/portal/${session.id}`, 303);
    }
    if (action === "cancel_at_period_end") control.cancelAtPeriodEnd(subscriptionId);
    else if (action === "cancel_now") control.cancelNow(subscriptionId);
    else if (action === "renew") control.keepSubscription(subscriptionId);
    else return c.html("<p>Unknown action.</p>", 404);
    return c.redirect(`/__double/portal/${session.id}`, 303);
  });

  app.onError((error, c) => {
    if (error instanceof StripeApiError) {
      return c.json({ error: error.body }, error.status as 400);
    }
    return c.json({ error: { type: "double_error", message: String(error) } }, 500);
  });
  return app;
}
