/**
 * What Stripe Billing does on its own and what a customer does on Stripe's hosted pages, replayed
 * on the double's state with the events each step emits: paying a Checkout Session, renewals
 * (paid or declined, then dunning), scheduled and immediate cancellation, pause and resume, refunds
 * and disputes. Event orders follow `fixtures/stripe/event-sequences.json`.
 */
import type Stripe from "stripe";
import { invalidRequest, resourceMissing } from "./errors.ts";
import { type EventLog, type EventRequest } from "./events.ts";
import { newId, newWebhookSecret } from "./ids.ts";
import {
  addInterval,
  buildCustomer,
  buildInvoice,
  buildPrice,
  buildProduct,
  buildSubscription,
  chargeInvoice,
  type CustomerFields,
  finalizeInvoice,
  fromTemplate,
  periodOf,
} from "./objects.ts";
import { Selling } from "./selling.ts";
import { PlanSwitches, type PriceChange, type ProrationBehavior } from "./plan_switches.ts";
import type {
  BillingModeType,
  CheckoutRequest,
  RefundFlags,
  StripeState,
  SubscriptionTrial,
} from "./state.ts";

/** How a simulated payment ends. */
export type PaymentOutcome = "paid" | "payment_failed";

/** What the customer does on a Checkout page: pay (or be declined), with what they typed. */
export interface CheckoutPayment {
  outcome?: PaymentOutcome;
  /** A promotion code typed on the page (the session must allow promotion codes). */
  promotionCode?: string;
  /** The billing address entered, which Stripe Tax reads (`country` is a two-letter code). */
  address?: Partial<Stripe.Address> & { country: string };
}

/** Options for {@link Billing.createPrice}. */
export interface CreatePriceOptions {
  /** Amount in the currency's minor unit, as Stripe counts it (500 JPY is ¥500, 500 USD is $5.00). */
  unitAmount: number;
  currency?: string;
  interval?: Stripe.Price.Recurring.Interval;
  intervalCount?: number;
  productName?: string;
  /** false for a one-time price. Default true. */
  recurring?: boolean;
  lookupKey?: string;
  nickname?: string;
  metadata?: Record<string, string>;
  /** Whether the amount includes tax, which Stripe Tax reads. */
  taxBehavior?: Stripe.Price.TaxBehavior;
}

/** Options for {@link Billing.configurePortalPlanSwitching}. */
export interface PortalPlanSwitching {
  enabled: boolean;
  /** The prices members may switch between. */
  prices?: string[];
  /** How a switch is billed; Stripe's portal setting defaults to none, this to create_prorations. */
  prorationBehavior?: ProrationBehavior;
}

/** Options for {@link Billing.createWebhookEndpoint}. */
export interface CreateWebhookEndpointOptions {
  url: string;
  enabled_events?: string[];
  /** The signing secret; a new `whsec_...` when absent. */
  secret?: string;
  description?: string;
  api_version?: string;
}

/**
 * `cancellation_details` as the pinned API version (dahlia) shows it: comment, feedback, reason.
 * The SDK's newer types add `feedback_option`, which dahlia payloads do not carry.
 */
function cancellationDetails(
  reason: Stripe.Subscription.CancellationDetails.Reason | null,
  comment?: string | null,
  feedback?: string | null,
): Stripe.Subscription.CancellationDetails {
  return {
    comment: comment ?? null,
    feedback: feedback ?? null,
    reason,
  } as Stripe.Subscription.CancellationDetails;
}

/** The billing mode of a subscription. */
export function billingModeOf(subscription: Stripe.Subscription): BillingModeType {
  return subscription.billing_mode?.type === "classic" ? "classic" : "flexible";
}

const NO_REQUEST: EventRequest = { id: null, idempotency_key: null };

/** Subscription statuses from which no further billing happens. */
const ENDED = new Set(["canceled", "incomplete_expired"]);

/** The simulated Stripe Billing engine of one account. */
export class Billing {
  /** Coupons, promotion codes, Stripe Tax and payment-mode Checkout (selling.ts). */
  readonly selling: Selling;
  /** Price changes and their prorations (plan_switches.ts). */
  readonly planSwitches: PlanSwitches;

  constructor(private readonly state: StripeState, private readonly events: EventLog) {
    this.selling = new Selling(state, events);
    this.planSwitches = new PlanSwitches(state, events);
  }

  /** Creates a product and a price for it (emits product.created, price.created). */
  createPrice(options: CreatePriceOptions): Stripe.Price {
    const product = buildProduct(this.state, {
      name: options.productName ?? "rolepass membership",
    });
    this.events.emit("product.created", product);
    const recurring = options.recurring === false ? null : {
      interval: options.interval ?? "month",
      intervalCount: options.intervalCount ?? 1,
    };
    const price = buildPrice(this.state, {
      unitAmount: options.unitAmount,
      currency: (options.currency ?? "usd").toLowerCase(),
      productId: product.id,
      recurring,
      lookupKey: options.lookupKey,
      taxBehavior: options.taxBehavior,
      nickname: options.nickname,
      metadata: options.metadata,
    });
    product.default_price = price.id;
    this.events.emit("price.created", price);
    return price;
  }

  /** Registers a webhook endpoint; the returned object includes its `secret`, as at creation. */
  createWebhookEndpoint(
    options: CreateWebhookEndpointOptions,
  ): Stripe.WebhookEndpoint & { secret: string } {
    const endpoint = fromTemplate<Stripe.WebhookEndpoint>("webhook_endpoint");
    const secret = options.secret ?? newWebhookSecret();
    Object.assign(endpoint, {
      id: newId("we"),
      created: this.state.now(),
      url: options.url,
      enabled_events: options.enabled_events ?? ["*"],
      description: options.description ?? null,
      api_version: options.api_version ?? null,
      status: "enabled",
    });
    this.state.add(this.state.webhookEndpoints, endpoint);
    this.state.webhookSecrets.set(endpoint.id, secret);
    return { ...structuredClone(endpoint), secret };
  }

  /** Whether the Customer Portal has saved settings (without them, portal sessions fail). */
  configurePortal(enabled: boolean): void {
    this.state.portalConfigured = enabled;
  }

  /**
   * The default portal configuration's plan switching (`features.subscription_update`): whether
   * members may switch price, between which prices (grouped by product, as Stripe stores them),
   * and how a switch is prorated. Emits billing_portal.configuration.updated.
   */
  configurePortalPlanSwitching(options: PortalPlanSwitching): Stripe.BillingPortal.Configuration {
    const configuration = [...this.state.portalConfigurations.values()].find((c) => c.is_default);
    if (!configuration) throw new Error("The double has no default portal configuration");
    const byProduct = new Map<string, string[]>();
    for (const priceId of options.prices ?? []) {
      const price = this.state.prices.get(priceId);
      if (!price) throw resourceMissing("price", priceId);
      const product = String(price.product);
      byProduct.set(product, [...(byProduct.get(product) ?? []), priceId]);
    }
    const before = structuredClone(configuration);
    Object.assign(configuration.features.subscription_update, {
      enabled: options.enabled,
      default_allowed_updates: options.enabled ? ["price"] : [],
      proration_behavior: options.prorationBehavior ?? "create_prorations",
    });
    configuration.updated = this.state.now();
    this.state.portalUpdateProducts.set(
      configuration.id,
      [...byProduct].map(([product, prices]) => ({ product, prices })),
    );
    this.events.emit("billing_portal.configuration.updated", configuration, before);
    return configuration;
  }

  /** Creates a customer (emits customer.created). */
  createCustomer(fields: CustomerFields, request = NO_REQUEST): Stripe.Customer {
    const customer = buildCustomer(this.state, fields);
    this.events.emit("customer.created", customer, undefined, request);
    return customer;
  }

  /** The subscription `id`, or a resource_missing error. */
  subscription(id: string): Stripe.Subscription {
    const subscription = this.state.subscriptions.get(id);
    if (!subscription) throw resourceMissing("subscription", id);
    return subscription;
  }

  /**
   * Pays (or fails to pay) an open Checkout Session in subscription mode, as the customer pressing
   * "Subscribe" would. Paid: the session completes and the subscription is `active`. Declined:
   * the session stays open and the subscription is `incomplete` with an open invoice.
   */
  completeCheckout(
    sessionId: string,
    options: CheckoutPayment = {},
  ): { session: Stripe.Checkout.Session; subscription: Stripe.Subscription } {
    const outcome = options.outcome ?? "paid";
    const session = this.state.checkoutSessions.get(sessionId);
    const request = this.state.checkoutRequests.get(sessionId);
    if (!session || !request) throw resourceMissing("checkout.session", sessionId);
    if (session.status !== "open") {
      throw invalidRequest(`This Checkout Session is ${session.status}: '${sessionId}'`);
    }
    if (session.mode !== "subscription") {
      throw invalidRequest(
        `Checkout Session ${sessionId} is in ${session.mode} mode: pay it with completePayment.`,
      );
    }
    const pending = request.pendingSubscriptionId
      ? this.state.subscriptions.get(request.pendingSubscriptionId)
      : undefined;
    if (pending?.status === "incomplete") {
      return { session, subscription: this.payPendingCheckout(session, pending, outcome) };
    }
    let customer = session.customer
      ? this.state.customers.get(String(session.customer))
      : undefined;
    if (!customer) {
      customer = this.createCustomer({
        email: session.customer_email ?? session.customer_details?.email ?? "member@example.com",
      });
    }
    const items = request.lineItems.map(({ price, quantity }) => ({
      price: this.state.prices.get(price)!,
      quantity,
    }));
    const subscription = buildSubscription(this.state, {
      customerId: customer.id,
      items,
      metadata: request.subscriptionMetadata,
      billingMode: request.billingMode ?? this.state.defaultBillingMode,
      status: outcome === "paid" ? "active" : "incomplete",
      description: request.subscriptionDescription,
    });
    if (request.destinationCharge) {
      const { destination, onBehalfOf, applicationFeePercent } = request.destinationCharge;
      Object.assign(subscription, {
        application_fee_percent: applicationFeePercent,
        on_behalf_of: onBehalfOf,
        transfer_data: destination ? { amount_percent: null, destination } : null,
      });
    }
    this.selling.sellSubscription(session, request, subscription, customer, options);
    if (request.trial) {
      this.startTrial(session, request, request.trial, subscription, customer, outcome);
      return { session, subscription };
    }
    const paid = outcome === "paid";
    const steps = this.invoiceSubscription(subscription, "subscription_create", outcome, {
      start: subscription.created,
      end: subscription.created,
    });
    if (paid) {
      Object.assign(session, {
        status: "complete",
        payment_status: "paid",
        url: null,
        customer: customer.id,
        subscription: subscription.id,
        invoice: steps.invoice.id,
        customer_details: {
          ...(session.customer_details ?? {}),
          email: customer.email,
          name: customer.name,
        },
      });
      this.selling.recordSessionAmounts(session, steps.invoice);
      this.events.emit("charge.succeeded", steps.attempt.charge);
      this.events.emit("checkout.session.completed", session);
      this.events.emit("customer.subscription.created", subscription);
      this.emitPayment(steps, "paid");
    } else {
      request.pendingSubscriptionId = subscription.id;
      this.events.emit("customer.subscription.created", subscription);
      this.emitPayment(steps, "payment_failed");
    }
    return { session, subscription };
  }

  /** Another payment attempt on the Checkout page after a decline. */
  private payPendingCheckout(
    session: Stripe.Checkout.Session,
    subscription: Stripe.Subscription,
    outcome: PaymentOutcome,
  ): Stripe.Subscription {
    const invoice = this.latestInvoice(subscription)!;
    if (outcome === "payment_failed") return this.retryRenewal(subscription, invoice, outcome);
    const customer = this.state.customers.get(String(subscription.customer));
    Object.assign(session, {
      status: "complete",
      payment_status: "paid",
      url: null,
      customer: subscription.customer,
      subscription: subscription.id,
      invoice: invoice.id,
      customer_details: {
        ...(session.customer_details ?? {}),
        email: customer?.email ?? null,
        name: customer?.name ?? null,
      },
    });
    this.events.emit("checkout.session.completed", session);
    return this.retryRenewal(subscription, invoice, "paid");
  }

  /** Expires an open Checkout Session (emits checkout.session.expired). */
  expireCheckout(sessionId: string, request = NO_REQUEST): Stripe.Checkout.Session {
    const session = this.state.checkoutSessions.get(sessionId);
    if (!session) throw resourceMissing("checkout.session", sessionId);
    if (session.status !== "open") {
      throw invalidRequest(
        `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session ` +
          `has a status of "${session.status}".`,
      );
    }
    session.status = "expired";
    session.url = null;
    this.events.emit("checkout.session.expired", session, undefined, request);
    return session;
  }

  /**
   * Schedules cancellation at the end of the current period, in the shape of the billing mode
   * (default: the subscription's): classic sets `cancel_at_period_end: true` and `cancel_at`;
   * flexible sets `cancel_at` to the latest item period end and leaves `cancel_at_period_end`
   * false. Both record `cancellation_details.reason: "cancellation_requested"`.
   */
  cancelAtPeriodEnd(
    id: string,
    mode?: BillingModeType,
    request = NO_REQUEST,
  ): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const before = structuredClone(subscription);
    this.scheduleCancel(subscription, { atPeriodEnd: mode ?? billingModeOf(subscription) });
    this.events.emit("customer.subscription.updated", subscription, before, request);
    return subscription;
  }

  /**
   * Puts the subscription in a free trial that ends with its current period (emits
   * customer.subscription.updated), as a subscription created with `trial_period_days` is.
   */
  beginTrial(id: string): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const before = structuredClone(subscription);
    const trialEnd = subscription.items.data[0]?.current_period_end ?? null;
    Object.assign(subscription, {
      status: "trialing",
      trial_start: subscription.items.data[0]?.current_period_start ?? null,
      trial_end: trialEnd,
    });
    this.events.emit("customer.subscription.updated", subscription, before);
    return subscription;
  }

  /**
   * Starts the free trial a Checkout Session asked for: the subscription is `trialing` until
   * `trial_end` (its first period), its first invoice is for nothing and is paid without a charge,
   * and the session completes with `payment_status: no_payment_required`. With
   * `payment_method_collection: if_required` the member gives no card (declined cards are not
   * simulated here); otherwise the card Checkout saved becomes the default payment method.
   */
  private startTrial(
    session: Stripe.Checkout.Session,
    request: CheckoutRequest,
    trial: SubscriptionTrial,
    subscription: Stripe.Subscription,
    customer: Stripe.Customer,
    outcome: PaymentOutcome,
  ): void {
    if (outcome !== "paid") {
      throw invalidRequest("The Stripe double does not decline the card of a trial's Checkout.");
    }
    const now = this.state.now();
    const trialEnd = now + trial.days * 86_400;
    for (const item of subscription.items.data) {
      item.current_period_start = now;
      item.current_period_end = trialEnd;
    }
    Object.assign(subscription, {
      status: "trialing",
      trial_start: now,
      trial_end: trialEnd,
      billing_cycle_anchor: trialEnd,
      trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } },
      default_payment_method: request.paymentMethodCollection === "if_required"
        ? null
        : newId("pm"),
    });
    const invoice = buildInvoice(this.state, {
      subscription,
      billingReason: "subscription_create",
      customer,
      period: { start: now, end: now },
    });
    // The trial's own line: the price for zero, over the trial period.
    for (const line of invoice.lines.data) {
      Object.assign(line, {
        amount: 0,
        subtotal: 0,
        description: `Trial period for ${
          line.description?.replace(/^\d+ × /, "") ?? "subscription"
        }`,
      });
    }
    Object.assign(invoice, {
      amount_due: 0,
      amount_remaining: 0,
      subtotal: 0,
      subtotal_excluding_tax: 0,
      total: 0,
      total_excluding_tax: 0,
    });
    const draft = structuredClone(invoice);
    finalizeInvoice(this.state, invoice);
    const open = structuredClone(invoice);
    Object.assign(invoice, { status: "paid", amount_paid: 0 });
    invoice.status_transitions.paid_at = now;
    subscription.latest_invoice = invoice.id;
    Object.assign(session, {
      status: "complete",
      payment_status: "no_payment_required",
      url: null,
      customer: customer.id,
      subscription: subscription.id,
      invoice: invoice.id,
      customer_details: {
        ...(session.customer_details ?? {}),
        email: customer.email,
        name: customer.name,
      },
    });
    this.events.emit("checkout.session.completed", session);
    this.events.emit("customer.subscription.created", subscription);
    this.events.emit("invoice.created", draft);
    this.events.emit("invoice.finalized", open);
    this.events.emit("invoice.paid", invoice);
    this.events.emit("invoice.payment_succeeded", invoice);
  }

  /**
   * The end of a trial on the simulated clock, without a payment method:
   * `trial_settings.end_behavior.missing_payment_method` decides. `cancel` ends it
   * (customer.subscription.deleted) and `pause` pauses it; both return the subscription.
   * `create_invoice` returns null: the renewal that follows invoices the first period and cannot
   * charge it. A trial with a payment method converts in that renewal too.
   */
  private endTrialWithoutCard(subscription: Stripe.Subscription): Stripe.Subscription | null {
    const missing = subscription.trial_settings?.end_behavior?.missing_payment_method ??
      "create_invoice";
    if (missing === "create_invoice") return null;
    const before = structuredClone(subscription);
    const now = this.state.now();
    if (missing === "pause") {
      subscription.status = "paused";
      this.events.emit("customer.subscription.paused", subscription, before);
      this.events.emit("customer.subscription.updated", subscription, before);
      return subscription;
    }
    Object.assign(subscription, {
      status: "canceled",
      canceled_at: now,
      ended_at: now,
      cancellation_details: cancellationDetails(null),
    });
    this.events.emit("customer.subscription.deleted", subscription);
    return subscription;
  }

  /** Stripe's notice three days before a trial ends (customer.subscription.trial_will_end). */
  trialWillEnd(id: string): Stripe.Subscription {
    const subscription = this.subscription(id);
    if (subscription.status !== "trialing") {
      throw new Error(`Subscription ${id} is ${subscription.status}, not trialing`);
    }
    this.events.emit("customer.subscription.trial_will_end", subscription);
    return subscription;
  }

  /** Removes a scheduled cancellation (the portal's "Renew" button). */
  keepSubscription(id: string, request = NO_REQUEST): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const before = structuredClone(subscription);
    this.unscheduleCancel(subscription);
    this.events.emit("customer.subscription.updated", subscription, before, request);
    return subscription;
  }

  /**
   * Sets a scheduled cancellation without emitting (API updates emit one event for all their
   * changes): at the period end in a billing mode's shape, or at a given time.
   */
  scheduleCancel(
    subscription: Stripe.Subscription,
    when: { atPeriodEnd: BillingModeType } | { at: number },
  ): void {
    if ("at" in when) {
      subscription.cancel_at = when.at;
      subscription.cancel_at_period_end = false;
    } else {
      const classic = when.atPeriodEnd === "classic";
      const [firstItem] = subscription.items.data;
      subscription.cancel_at = classic && firstItem
        ? firstItem.current_period_end
        : periodOf(subscription).end;
      subscription.cancel_at_period_end = classic;
    }
    subscription.canceled_at = this.state.now();
    subscription.cancellation_details = cancellationDetails(
      "cancellation_requested",
      subscription.cancellation_details?.comment,
      subscription.cancellation_details?.feedback,
    );
  }

  /** Clears a scheduled cancellation without emitting. */
  unscheduleCancel(subscription: Stripe.Subscription): void {
    subscription.cancel_at = null;
    subscription.cancel_at_period_end = false;
    subscription.canceled_at = null;
    subscription.cancellation_details = cancellationDetails(null);
  }

  /**
   * Moves the subscription to the end of its current period. A scheduled cancellation takes effect
   * (customer.subscription.deleted); otherwise the next period starts and its invoice is charged
   * with `outcome` (a decline makes the subscription `past_due`). For a `past_due` subscription
   * with an open invoice, a declined outcome is one more failed retry of that invoice.
   */
  advanceToPeriodEnd(
    id: string,
    options: { outcome?: PaymentOutcome } = {},
  ): Stripe.Subscription {
    let outcome = options.outcome ?? "paid";
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    if (subscription.status === "paused") {
      throw invalidRequest("A paused subscription does not renew; resume it first.");
    }
    const period = periodOf(subscription);
    const cancelAt = subscription.cancel_at_period_end ? period.end : subscription.cancel_at;
    const trialEnds = subscription.status === "trialing" &&
      !(cancelAt !== null && cancelAt <= period.end);
    if (trialEnds && subscription.default_payment_method === null) {
      const ended = this.endTrialWithoutCard(subscription);
      if (ended) return ended;
      outcome = "payment_failed";
    }
    if (cancelAt !== null && cancelAt <= period.end) {
      subscription.status = "canceled";
      subscription.ended_at = cancelAt;
      subscription.canceled_at ??= this.state.now();
      // Deleted events carry the final object only, without previous_attributes.
      this.events.emit("customer.subscription.deleted", subscription);
      return subscription;
    }
    const latest = this.latestInvoice(subscription);
    if (
      outcome === "payment_failed" && subscription.status === "past_due" &&
      latest?.status === "open"
    ) {
      return this.retryRenewal(subscription, latest, "payment_failed");
    }
    const before = structuredClone(subscription);
    // A trial converts at its end: the first paid period starts (https://docs.stripe.com/billing/subscriptions/trials).
    if (trialEnds) subscription.status = "active";
    for (const item of subscription.items.data) {
      const recurring = item.price.recurring ?? { interval: "month", interval_count: 1 };
      item.current_period_start = item.current_period_end;
      item.current_period_end = addInterval(
        item.current_period_end,
        recurring.interval,
        recurring.interval_count,
      );
    }
    const steps = this.invoiceSubscription(subscription, "subscription_cycle", outcome, period);
    // The period change is announced when the renewal invoice is created, before it is paid.
    const afterRenewal = structuredClone(subscription);
    this.events.emit("customer.subscription.updated", afterRenewal, before);
    this.emitPayment(steps, outcome);
    if (outcome === "payment_failed") {
      const beforeDunning = structuredClone(subscription);
      subscription.status = "past_due";
      this.events.emit("customer.subscription.updated", subscription, beforeDunning);
    }
    return subscription;
  }

  /** A declined renewal: advances the period and leaves the subscription `past_due`. */
  failRenewal(id: string): Stripe.Subscription {
    return this.advanceToPeriodEnd(id, { outcome: "payment_failed" });
  }

  /** A retry of the open renewal invoice succeeds: `past_due` (or `unpaid`) → `active`. */
  recoverRenewal(id: string): Stripe.Subscription {
    const subscription = this.subscription(id);
    const invoice = this.latestInvoice(subscription);
    if (!invoice || invoice.status !== "open") {
      throw invalidRequest(`Subscription ${id} has no open invoice to pay.`);
    }
    return this.retryRenewal(subscription, invoice, "paid");
  }

  /**
   * The end of dunning, per the account's settings: cancel the subscription
   * (customer.subscription.deleted, reason `payment_failed`) or mark it `unpaid`.
   */
  endDunning(id: string, result: "canceled" | "unpaid"): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const before = structuredClone(subscription);
    if (result === "unpaid") {
      subscription.status = "unpaid";
      this.events.emit("customer.subscription.updated", subscription, before);
      return subscription;
    }
    const now = this.state.now();
    Object.assign(subscription, {
      status: "canceled",
      canceled_at: now,
      ended_at: now,
      cancellation_details: cancellationDetails("payment_failed"),
    });
    this.events.emit("customer.subscription.deleted", subscription);
    return subscription;
  }

  /** Cancels at once, as `DELETE /v1/subscriptions/:id` does (customer.subscription.deleted). */
  cancelNow(
    id: string,
    request = NO_REQUEST,
    details: { comment?: string | null; feedback?: string | null } = {},
  ): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const now = this.state.now();
    Object.assign(subscription, {
      status: subscription.status === "incomplete" ? "incomplete_expired" : "canceled",
      canceled_at: now,
      ended_at: now,
      cancellation_details: cancellationDetails(
        "cancellation_requested",
        details.comment ?? subscription.cancellation_details?.comment,
        details.feedback ?? subscription.cancellation_details?.feedback,
      ),
    });
    this.events.emit("customer.subscription.deleted", subscription, undefined, request);
    return subscription;
  }

  /** Pauses (status `paused`; emits customer.subscription.paused and .updated). */
  pause(id: string): Stripe.Subscription {
    const subscription = this.subscription(id);
    this.refuseEnded(subscription);
    const before = structuredClone(subscription);
    subscription.status = "paused";
    this.events.emit("customer.subscription.paused", subscription, before);
    this.events.emit("customer.subscription.updated", subscription, before);
    return subscription;
  }

  /**
   * Resumes a paused subscription, as `POST /v1/subscriptions/:id/resume` does: a new period
   * starts now and its invoice is charged (emits customer.subscription.resumed, .updated and the
   * invoice events).
   */
  resume(id: string, request = NO_REQUEST): Stripe.Subscription {
    const subscription = this.subscription(id);
    if (subscription.status !== "paused") {
      throw invalidRequest("Only paused subscriptions can be resumed.");
    }
    const before = structuredClone(subscription);
    const now = this.state.now();
    for (const item of subscription.items.data) {
      const recurring = item.price.recurring ?? { interval: "month", interval_count: 1 };
      item.current_period_start = now;
      item.current_period_end = addInterval(now, recurring.interval, recurring.interval_count);
    }
    subscription.billing_cycle_anchor = now;
    subscription.status = "active";
    const steps = this.invoiceSubscription(subscription, "subscription_update", "paid", {
      start: now,
      end: now,
    });
    this.events.emit("customer.subscription.resumed", subscription, before, request);
    this.events.emit("customer.subscription.updated", subscription, before, request);
    this.emitPayment(steps, "paid");
    return subscription;
  }

  /**
   * Refunds the subscription's latest successful charge, fully or in part (emits charge.refunded
   * and refund.created). Partial refunds refund half unless `amount` says otherwise.
   */
  refundLatestCharge(
    id: string,
    options: { full?: boolean; amount?: number } = {},
  ): { charge: Stripe.Charge; refund: Stripe.Refund } {
    const charge = this.latestCharge(this.subscription(id));
    const remaining = charge.amount - charge.amount_refunded;
    const amount = options.full === false
      ? Math.min(options.amount ?? Math.floor(charge.amount / 2), remaining)
      : remaining;
    return this.refundCharge(charge.id, { amount });
  }

  /**
   * Refunds `amount` of a charge (all that is left when omitted), as `POST /v1/refunds` does
   * (emits refund.created and charge.refunded).
   */
  refundCharge(
    chargeId: string,
    options: {
      amount?: number;
      reason?: string;
      metadata?: Record<string, string>;
      connect?: RefundFlags;
    } = {},
    request: EventRequest = NO_REQUEST,
  ): { charge: Stripe.Charge; refund: Stripe.Refund } {
    const charge = this.state.charges.get(chargeId);
    if (!charge) throw resourceMissing("charge", chargeId);
    if (options.connect) this.state.connectedMoney?.checkRefund(charge, options.connect);
    const remaining = charge.amount - charge.amount_refunded;
    const amount = options.amount ?? remaining;
    if (remaining <= 0) throw invalidRequest(`Charge ${charge.id} has already been refunded.`);
    if (amount <= 0 || amount > remaining) {
      throw invalidRequest(
        `Refund amount (${amount}) is greater than unrefunded amount on charge (${remaining})`,
      );
    }
    const refund = fromTemplate<Stripe.Refund>("refund");
    Object.assign(refund, {
      id: newId("re"),
      amount,
      balance_transaction: newId("txn"),
      charge: charge.id,
      created: this.state.now(),
      currency: charge.currency,
      customer: charge.customer,
      payment_intent: charge.payment_intent,
      payment_method: charge.payment_method,
      metadata: options.metadata ?? {},
      reason: options.reason ?? "requested_by_customer",
      status: "succeeded",
    });
    this.state.add(this.state.refunds, refund);
    if (options.connect) this.state.connectedMoney?.settleRefund(charge, refund, options.connect);
    const before = structuredClone(charge);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    charge.refunds?.data.unshift(structuredClone(refund));
    this.events.emit("refund.created", refund, undefined, request);
    this.events.emit("charge.refunded", charge, before, request);
    return { charge, refund };
  }

  /** Opens a dispute on the latest successful charge (emits charge.dispute.created). */
  openDispute(
    id: string,
    options: { reason?: string } = {},
  ): Stripe.Dispute {
    const charge = id.startsWith("sub_")
      ? this.latestCharge(this.subscription(id))
      : this.selling.chargeOf(id);
    const now = this.state.now();
    const dispute = fromTemplate<Stripe.Dispute>("dispute");
    Object.assign(dispute, {
      id: newId("dp"),
      amount: charge.amount - charge.amount_refunded,
      charge: charge.id,
      created: now,
      currency: charge.currency,
      evidence_details: {
        due_by: now + 7 * 86_400,
        has_evidence: false,
        past_due: false,
        submission_count: 0,
        enhanced_eligibility: {},
      },
      is_charge_refundable: false,
      // Stripe withdraws the disputed amount at once; a won dispute adds the reversal.
      balance_transactions: [
        disputeBalanceTransaction(
          charge.amount - charge.amount_refunded,
          now,
          "dispute",
          charge.currency,
        ),
      ],
      payment_intent: charge.payment_intent,
      reason: options.reason ?? "fraudulent",
      status: "needs_response",
      enhanced_eligibility_types: [],
    });
    this.state.add(this.state.disputes, dispute);
    charge.disputed = true;
    this.events.emit("charge.dispute.created", dispute);
    return dispute;
  }

  /** Closes a dispute as won or lost (emits charge.dispute.closed). */
  closeDispute(disputeId: string, result: "won" | "lost"): Stripe.Dispute {
    const dispute = this.state.disputes.get(disputeId);
    if (!dispute) throw resourceMissing("dispute", disputeId);
    const before = structuredClone(dispute);
    dispute.status = result;
    if (result === "won") {
      const [withdrawal] = dispute.balance_transactions;
      if (!withdrawal) throw new Error(`Dispute ${disputeId} has no withdrawal to reverse`);
      dispute.balance_transactions.push(
        disputeBalanceTransaction(
          -withdrawal.amount,
          this.state.now(),
          "dispute_reversal",
          dispute.currency,
        ),
      );
    }
    this.events.emit("charge.dispute.closed", dispute, before);
    return dispute;
  }

  /**
   * A subscription rolepass did not create: a new customer without rolepass metadata (or the
   * existing `customerId`), an active subscription with empty metadata paying the platform alone,
   * paid (emits the purchase events except Checkout's).
   */
  createForeignSubscription(
    options: { priceId?: string; email?: string; customerId?: string } = {},
  ): Stripe.Subscription {
    const price = options.priceId
      ? this.state.prices.get(options.priceId)
      : this.createPrice({ unitAmount: 1_500, productName: "Someone else's product" });
    if (!price) throw resourceMissing("price", options.priceId ?? "");
    const customer = options.customerId
      ? this.state.customers.get(options.customerId)
      : this.createCustomer({ email: options.email ?? "stranger@example.com" });
    if (!customer) throw resourceMissing("customer", options.customerId ?? "");
    const subscription = buildSubscription(this.state, {
      customerId: customer.id,
      items: [{ price, quantity: 1 }],
      metadata: {},
      billingMode: this.state.defaultBillingMode,
      status: "active",
    });
    const steps = this.invoiceSubscription(subscription, "subscription_create", "paid", {
      start: subscription.created,
      end: subscription.created,
    });
    this.events.emit("customer.subscription.created", subscription);
    this.emitPayment(steps, "paid");
    return subscription;
  }

  /**
   * Changes a subscription item's price, as `POST /v1/subscriptions/:id` with `items[0][id]` and
   * `items[0][price]` does (prorations: plan_switches.ts), without emitting the subscription's
   * update, which the caller emits once for the whole request. Returns what to emit after it: the
   * invoice of a change billed at once.
   */
  changeItemPrice(
    subscription: Stripe.Subscription,
    itemId: string,
    priceId: string,
    behavior: ProrationBehavior,
  ): () => void {
    this.refuseEnded(subscription);
    const change = this.planSwitches.changePrice(subscription, itemId, priceId, behavior);
    return change.invoiceNow ? () => this.invoiceChange(subscription, change) : () => {};
  }

  /**
   * A member's plan switch in the Customer Portal: the price change with the configuration's
   * proration behavior, customer.subscription.updated (with `previous_attributes`), then the
   * invoice when the change is billed at once.
   */
  switchPrice(
    id: string,
    priceId: string,
    behavior: ProrationBehavior,
    request = NO_REQUEST,
  ): Stripe.Subscription {
    const subscription = this.subscription(id);
    const item = subscription.items.data[0];
    if (!item) throw invalidRequest(`Subscription ${id} has no items.`);
    const before = structuredClone(subscription);
    const afterUpdate = this.changeItemPrice(subscription, item.id, priceId, behavior);
    if (JSON.stringify(before) !== JSON.stringify(subscription)) {
      this.events.emit("customer.subscription.updated", subscription, before, request);
    }
    afterUpdate();
    return subscription;
  }

  /**
   * Invoices a price change now (billing reason `subscription_update`): its prorations alone, or
   * with the new period's price when the change started a new billing cycle. Nothing left to pay
   * (a downgrade's credit) pays the invoice without a charge, as Stripe does.
   */
  private invoiceChange(subscription: Stripe.Subscription, change: PriceChange): void {
    const now = this.state.now();
    const customer = this.state.customers.get(String(subscription.customer));
    const invoice = buildInvoice(this.state, {
      subscription,
      billingReason: "subscription_update",
      customer,
      period: change.newPeriod ?? { start: now, end: now },
    });
    if (!change.newPeriod) this.planSwitches.keepOnlyProrations(invoice);
    this.planSwitches.attachPending(subscription, invoice);
    const draft = structuredClone(invoice);
    finalizeInvoice(this.state, invoice);
    const open = structuredClone(invoice);
    subscription.latest_invoice = invoice.id;
    if (invoice.amount_due > 0) {
      const attempt = chargeInvoice(this.state, invoice, "paid");
      this.events.emit("charge.succeeded", attempt.charge);
      this.emitPayment({ invoice, draft, open, attempt }, "paid");
      return;
    }
    Object.assign(invoice, { status: "paid", amount_paid: 0, amount_remaining: 0 });
    invoice.status_transitions.paid_at = now;
    this.events.emit("invoice.created", draft);
    this.events.emit("invoice.finalized", open);
    this.events.emit("invoice.paid", invoice);
    this.events.emit("invoice.payment_succeeded", invoice);
  }

  /** Throws Stripe's refusal for changes to an ended subscription. */
  refuseEnded(subscription: Stripe.Subscription): void {
    if (ENDED.has(subscription.status)) {
      throw invalidRequest(
        "A canceled subscription can only update its cancellation_details and metadata.",
      );
    }
  }

  private latestInvoice(subscription: Stripe.Subscription): Stripe.Invoice | undefined {
    const id = subscription.latest_invoice;
    return typeof id === "string" ? this.state.invoices.get(id) : undefined;
  }

  private latestCharge(subscription: Stripe.Subscription): Stripe.Charge {
    const invoiceIds = new Set(
      [...this.state.invoices.values()]
        .filter((i) => i.parent?.subscription_details?.subscription === subscription.id)
        .map((i) => i.id),
    );
    const charges = [...this.state.invoicePayments.values()]
      .filter((p) => invoiceIds.has(String(p.invoice)))
      .map((p) => this.state.paymentIntents.get(String(p.payment.payment_intent)))
      .map((pi) => pi && this.state.charges.get(String(pi.latest_charge)))
      .filter((c): c is Stripe.Charge => c !== undefined && c.status === "succeeded")
      .sort((a, b) => this.state.orderOf(b.id) - this.state.orderOf(a.id));
    const [latest] = charges;
    if (!latest) {
      throw invalidRequest(`Subscription ${subscription.id} has no successful charge.`);
    }
    return latest;
  }

  /** Creates, finalizes and charges an invoice for the subscription; events come later. */
  private invoiceSubscription(
    subscription: Stripe.Subscription,
    billingReason: Stripe.Invoice.BillingReason,
    outcome: PaymentOutcome,
    period: { start: number; end: number },
  ): InvoiceSteps {
    const customer = this.state.customers.get(String(subscription.customer));
    const invoice = buildInvoice(this.state, { subscription, billingReason, customer, period });
    this.planSwitches.attachPending(subscription, invoice);
    this.selling.applyToInvoice(subscription, invoice);
    const draft = structuredClone(invoice);
    finalizeInvoice(this.state, invoice);
    const open = structuredClone(invoice);
    const attempt = chargeInvoice(this.state, invoice, outcome);
    subscription.latest_invoice = invoice.id;
    if (outcome === "paid") subscription.default_payment_method = attempt.charge.payment_method;
    return { invoice, draft, open, attempt };
  }

  /** Emits payment_intent.*, invoice.* and charge events of an invoice's payment. */
  private emitPayment(steps: InvoiceSteps, outcome: PaymentOutcome): void {
    const { invoice, draft, open, attempt } = steps;
    const createdIntent = {
      ...structuredClone(attempt.paymentIntent),
      status: "requires_payment_method",
      amount_received: 0,
      latest_charge: null,
      last_payment_error: null,
    } as Stripe.PaymentIntent;
    this.events.emit("payment_intent.created", createdIntent);
    if (outcome === "paid") {
      this.events.emit("payment_intent.succeeded", attempt.paymentIntent);
      this.events.emit("invoice.created", draft);
      this.events.emit("invoice.finalized", open);
      this.events.emit("invoice.paid", invoice);
      this.events.emit("invoice.payment_succeeded", invoice);
      this.events.emit("invoice_payment.paid", attempt.invoicePayment);
    } else {
      this.events.emit("invoice.created", draft);
      this.events.emit("invoice.finalized", open);
      this.events.emit("charge.failed", attempt.charge);
      this.events.emit("payment_intent.payment_failed", attempt.paymentIntent);
      this.events.emit("invoice.payment_failed", invoice);
      this.events.emit("invoice.updated", invoice, open);
    }
  }

  private retryRenewal(
    subscription: Stripe.Subscription,
    invoice: Stripe.Invoice,
    outcome: PaymentOutcome,
  ): Stripe.Subscription {
    const existing = [...this.state.invoicePayments.values()].find((p) => p.invoice === invoice.id);
    const beforeInvoice = structuredClone(invoice);
    const attempt = chargeInvoice(this.state, invoice, outcome, existing);
    if (outcome === "paid") {
      this.events.emit("charge.succeeded", attempt.charge);
      this.events.emit("payment_intent.succeeded", attempt.paymentIntent);
      this.events.emit("invoice.paid", invoice, beforeInvoice);
      this.events.emit("invoice.payment_succeeded", invoice, beforeInvoice);
      this.events.emit("invoice_payment.paid", attempt.invoicePayment);
      const before = structuredClone(subscription);
      subscription.status = "active";
      subscription.default_payment_method = attempt.charge.payment_method;
      this.events.emit("customer.subscription.updated", subscription, before);
    } else {
      this.events.emit("charge.failed", attempt.charge);
      this.events.emit("payment_intent.payment_failed", attempt.paymentIntent);
      this.events.emit("invoice.payment_failed", invoice, beforeInvoice);
      this.events.emit("invoice.updated", invoice, beforeInvoice);
    }
    return subscription;
  }
}

interface InvoiceSteps {
  invoice: Stripe.Invoice;
  draft: Stripe.Invoice;
  open: Stripe.Invoice;
  attempt: ReturnType<typeof chargeInvoice>;
}

/**
 * Stripe's dispute fee in the currency's smallest unit: ¥1,500 in Japan, $15 (or its equivalent)
 * elsewhere (https://support.stripe.com/questions/dispute-fees-faq).
 */
const DISPUTE_FEES: Record<string, number> = { jpy: 1500 };
const DEFAULT_DISPUTE_FEE = 1500;

/**
 * A dispute's balance transaction: the withdrawal with Stripe's dispute fee when opened (one
 * transaction for both, as Stripe shows it), the reversal when won.
 */
function disputeBalanceTransaction(
  amount: number,
  created: number,
  category: "dispute" | "dispute_reversal",
  currency = "jpy",
): Stripe.BalanceTransaction {
  const fee = category === "dispute" ? DISPUTE_FEES[currency] ?? DEFAULT_DISPUTE_FEE : 0;
  return {
    id: newId("txn"),
    object: "balance_transaction",
    amount: category === "dispute" ? -Math.abs(amount) : Math.abs(amount),
    created,
    currency,
    fee,
    fee_details: fee
      ? [{
        amount: fee,
        application: null,
        currency,
        description: "Dispute fee",
        type: "stripe_fee",
      }]
      : [],
    net: (category === "dispute" ? -Math.abs(amount) : Math.abs(amount)) - fee,
    reporting_category: category,
    type: "adjustment",
  } as Stripe.BalanceTransaction;
}
