/**
 * Builds Stripe objects from Stripe's own resource fixtures (`resource_templates.json`, a copy of
 * stripe/openapi `fixtures3.json` resources; see README.md) and overrides the fields that carry
 * state. Fixture values that make no sense for a new test-mode object (shipping costs, discounts,
 * pending updates) are reset to what a fresh object has.
 */
import type Stripe from "stripe";
import templates from "./resource_templates.json" with { type: "json" };
import { newId } from "./ids.ts";
import type { BillingModeType, StripeState } from "./state.ts";

type TemplateName = keyof typeof templates;

/** A deep copy of a fixture resource, typed as the SDK's object. */
export function fromTemplate<T>(name: TemplateName): T {
  return structuredClone(templates[name]) as unknown as T;
}

/** A Stripe list object (`{object: "list", data, has_more, url}`). */
export function listOf<T>(data: T[], url: string): Stripe.ApiList<T> {
  return { object: "list", data, has_more: false, url };
}

/** Adds `count` intervals to a Unix timestamp, keeping the day of month like Stripe's anchors. */
export function addInterval(
  start: number,
  interval: Stripe.Price.Recurring.Interval,
  count: number,
): number {
  if (interval === "day") return start + 86_400 * count;
  if (interval === "week") return start + 7 * 86_400 * count;
  const date = new Date(start * 1000);
  const months = interval === "year" ? 12 * count : count;
  const day = date.getUTCDate();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  date.setUTCDate(Math.min(day, lastDay));
  return Math.floor(date.getTime() / 1000);
}

/** Options for {@link buildCustomer}. */
export interface CustomerFields {
  email?: string | null;
  name?: string | null;
  description?: string | null;
  phone?: string | null;
  metadata?: Record<string, string>;
  preferred_locales?: string[];
}

/** A new customer. */
export function buildCustomer(state: StripeState, fields: CustomerFields): Stripe.Customer {
  const customer = fromTemplate<Stripe.Customer>("customer");
  const prefix = Array.from(crypto.getRandomValues(new Uint8Array(4)))
    .map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
  Object.assign(customer, {
    id: newId("cus"),
    created: state.now(),
    email: fields.email ?? null,
    name: fields.name ?? null,
    description: fields.description ?? null,
    phone: fields.phone ?? null,
    metadata: fields.metadata ?? {},
    preferred_locales: fields.preferred_locales ?? [],
    address: null,
    shipping: null,
    discount: null,
    currency: null,
    invoice_prefix: prefix,
  });
  return state.add(state.customers, customer);
}

/** Options for {@link buildPrice}. */
export interface PriceFields {
  unitAmount: number;
  currency: string;
  productId: string;
  recurring: { interval: Stripe.Price.Recurring.Interval; intervalCount: number } | null;
  nickname?: string | null;
  lookupKey?: string | null;
  metadata?: Record<string, string>;
  /** Whether the amount includes tax (Stripe Tax); "unspecified" when absent. */
  taxBehavior?: Stripe.Price.TaxBehavior;
}

/** A new product. */
export function buildProduct(
  state: StripeState,
  fields: { name: string; description?: string | null; metadata?: Record<string, string> },
): Stripe.Product {
  const product = fromTemplate<Stripe.Product>("product");
  const now = state.now();
  Object.assign(product, {
    id: newId("prod"),
    created: now,
    updated: now,
    name: fields.name,
    description: fields.description ?? null,
    metadata: fields.metadata ?? {},
    default_price: null,
    package_dimensions: null,
    type: "service",
  });
  return state.add(state.products, product);
}

/** A new price. */
export function buildPrice(state: StripeState, fields: PriceFields): Stripe.Price {
  const price = fromTemplate<Stripe.Price>("price");
  Object.assign(price, {
    id: newId("price"),
    created: state.now(),
    currency: fields.currency,
    product: fields.productId,
    unit_amount: fields.unitAmount,
    unit_amount_decimal: String(fields.unitAmount),
    nickname: fields.nickname ?? null,
    lookup_key: fields.lookupKey ?? null,
    tax_behavior: fields.taxBehavior ?? "unspecified",
    metadata: fields.metadata ?? {},
    custom_unit_amount: null,
    transform_quantity: null,
    type: fields.recurring ? "recurring" : "one_time",
    recurring: fields.recurring
      ? {
        interval: fields.recurring.interval,
        interval_count: fields.recurring.intervalCount,
        meter: null,
        usage_type: "licensed",
        trial_period_days: null,
      }
      : null,
  });
  return state.add(state.prices, price);
}

/** The legacy `plan` object Stripe still embeds in subscription items, derived from a price. */
/** The legacy `plan` a subscription item carries beside its price. */
export function planOf(price: Stripe.Price): Stripe.Plan {
  return {
    id: price.id,
    object: "plan",
    active: price.active,
    amount: price.unit_amount,
    amount_decimal: price.unit_amount_decimal,
    billing_scheme: price.billing_scheme,
    created: price.created,
    currency: price.currency,
    interval: price.recurring?.interval ?? "month",
    interval_count: price.recurring?.interval_count ?? 1,
    livemode: false,
    metadata: price.metadata,
    meter: null,
    nickname: price.nickname,
    product: price.product,
    tiers_mode: null,
    transform_usage: null,
    trial_period_days: null,
    usage_type: "licensed",
  } as unknown as Stripe.Plan;
}

/** Options for {@link buildSubscription}. */
export interface SubscriptionFields {
  customerId: string;
  items: { price: Stripe.Price; quantity: number }[];
  metadata: Record<string, string>;
  billingMode: BillingModeType;
  status: Stripe.Subscription.Status;
  description?: string | null;
}

/** A new subscription whose first period starts now. */
export function buildSubscription(
  state: StripeState,
  fields: SubscriptionFields,
): Stripe.Subscription {
  const subscription = fromTemplate<Stripe.Subscription>("subscription");
  const id = newId("sub");
  const now = state.now();
  const items = fields.items.map(({ price, quantity }) => {
    const item = fromTemplate<Stripe.SubscriptionItem>("subscription_item");
    const recurring = price.recurring ?? { interval: "month" as const, interval_count: 1 };
    Object.assign(item, {
      id: newId("si"),
      created: now,
      price: structuredClone(price),
      plan: planOf(price),
      quantity,
      subscription: id,
      metadata: {},
      discounts: [],
      tax_rates: [],
      billing_thresholds: null,
      current_period_start: now,
      current_period_end: addInterval(now, recurring.interval, recurring.interval_count),
    });
    return item;
  });
  Object.assign(subscription, {
    id,
    created: now,
    start_date: now,
    billing_cycle_anchor: now,
    billing_cycle_anchor_config: null,
    billing_mode: fields.billingMode === "flexible"
      ? { type: "flexible", flexible: { proration_discounts: "included" }, updated_at: now }
      : { type: "classic", flexible: null },
    billing_schedules: [],
    billing_thresholds: null,
    automatic_tax: { enabled: false, liability: null, disabled_reason: null },
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    currency: fields.items[0]?.price.currency ?? "usd",
    customer: fields.customerId,
    description: fields.description ?? null,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
    items: {
      object: "list",
      data: items,
      has_more: false,
      total_count: items.length,
      url: `/v1/subscription_items?subscription=${id}`,
    },
    latest_invoice: null,
    managed_payments: null,
    metadata: { ...fields.metadata },
    next_pending_invoice_item_invoice: null,
    pause_collection: null,
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    status: fields.status,
    transfer_data: null,
    trial_end: null,
    trial_start: null,
  });
  return state.add(state.subscriptions, subscription);
}

/** The current period of a subscription: the latest end over its items (flexible billing). */
export function periodOf(subscription: Stripe.Subscription): { start: number; end: number } {
  const items = subscription.items.data;
  return {
    start: Math.min(...items.map((i) => i.current_period_start)),
    end: Math.max(...items.map((i) => i.current_period_end)),
  };
}

/** Options for {@link buildInvoice}. */
export interface InvoiceFields {
  subscription: Stripe.Subscription;
  billingReason: Stripe.Invoice.BillingReason;
  customer: Stripe.Customer | undefined;
  /** `period_start`/`period_end` of the invoice; the creation instant when absent. */
  period?: { start: number; end: number };
}

/** What sets one invoice line apart; the double leaves the rest empty on every line. */
export interface InvoiceLineFields {
  invoice: string;
  subscription: string | null;
  amount: number;
  currency: string;
  description: string | null;
  quantity: number;
  period: Stripe.InvoiceLineItem.Period;
  parent: Stripe.InvoiceLineItem.Parent;
  pricing: Stripe.InvoiceLineItem.Pricing | null;
}

/** An invoice line (basil shape: what it bills is at `parent`, its price at `pricing`). */
export function buildInvoiceLine(fields: InvoiceLineFields): Stripe.InvoiceLineItem {
  return Object.assign(fromTemplate<Stripe.InvoiceLineItem>("line_item"), {
    id: newId("il"),
    invoice: fields.invoice,
    subscription: fields.subscription,
    amount: fields.amount,
    subtotal: fields.amount,
    currency: fields.currency,
    description: fields.description,
    quantity: fields.quantity,
    quantity_decimal: String(fields.quantity),
    period: fields.period,
    metadata: {},
    discount_amounts: [],
    discounts: [],
    pretax_credit_amounts: [],
    taxes: [],
    parent: fields.parent,
    pricing: fields.pricing,
  });
}

/** How a line or an invoice item bills `price`, as its `pricing` says. */
export function pricingOf(price: Stripe.Price): Stripe.InvoiceLineItem.Pricing {
  return {
    type: "price_details",
    price_details: { price: price.id, product: String(price.product) },
    unit_amount_decimal: price.unit_amount_decimal,
  };
}

/**
 * A new draft invoice for the subscription's current period, in the basil+ shape: the subscription
 * is at `parent.subscription_details`, lines carry `parent.subscription_item_details`, and there is
 * no top-level `subscription`, `charge`, `payment_intent` or `paid`.
 */
export function buildInvoice(state: StripeState, fields: InvoiceFields): Stripe.Invoice {
  const invoice = fromTemplate<Stripe.Invoice & { subscription?: unknown }>("invoice");
  const { subscription } = fields;
  const id = newId("in");
  const now = state.now();
  const lines = subscription.items.data.map((item) => {
    const product = state.products.get(String(item.price.product));
    return buildInvoiceLine({
      invoice: id,
      subscription: subscription.id,
      amount: (item.price.unit_amount ?? 0) * (item.quantity ?? 1),
      currency: item.price.currency,
      description: `${item.quantity ?? 1} × ${product?.name ?? "Subscription"}`,
      quantity: item.quantity ?? 1,
      period: { start: item.current_period_start, end: item.current_period_end },
      parent: {
        type: "subscription_item_details",
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration: false,
          proration_details: { credited_items: null },
          subscription: subscription.id,
          subscription_item: item.id,
        },
      },
      pricing: pricingOf(item.price),
    });
  });
  const total = lines.reduce((sum, line) => sum + line.amount, 0);
  Object.assign(invoice, {
    id,
    created: now,
    account_name: "rolepass local sandbox",
    amount_due: total,
    amount_paid: 0,
    amount_remaining: total,
    amount_overpaid: 0,
    attempt_count: 0,
    attempted: false,
    auto_advance: true,
    automatically_finalizes_at: now + 3600,
    billing_reason: fields.billingReason,
    currency: subscription.currency,
    customer: String(subscription.customer),
    customer_email: fields.customer?.email ?? null,
    customer_name: fields.customer?.name ?? null,
    due_date: null,
    effective_at: null,
    ending_balance: null,
    from_invoice: null,
    hosted_invoice_url: null,
    invoice_pdf: null,
    last_finalization_error: null,
    lines: listOf(lines, `/v1/invoices/${id}/lines`),
    metadata: {},
    next_payment_attempt: null,
    number: null,
    parent: {
      type: "subscription_details",
      quote_details: null,
      subscription_details: {
        metadata: { ...subscription.metadata },
        subscription: subscription.id,
      },
    },
    // A subscription_create invoice covers the instant of creation, a cycle invoice the period
    // that just ended (https://docs.stripe.com/api/invoices/object#invoice_object-period_start).
    period_start: fields.period?.start ?? now,
    period_end: fields.period?.end ?? now,
    shipping_cost: null,
    shipping_details: null,
    status: "draft",
    status_transitions: {
      finalized_at: null,
      marked_uncollectible_at: null,
      paid_at: null,
      voided_at: null,
    },
    subtotal: total,
    subtotal_excluding_tax: total,
    total,
    total_excluding_tax: total,
    total_discount_amounts: [],
    total_pretax_credit_amounts: [],
    total_taxes: [],
    webhooks_delivered_at: null,
  });
  delete invoice.subscription;
  return state.add(state.invoices, invoice as Stripe.Invoice);
}

/** Moves an invoice from draft to open, giving it a number, as finalization does. */
export function finalizeInvoice(state: StripeState, invoice: Stripe.Invoice): void {
  const customer = state.customers.get(String(invoice.customer));
  const sequence = customer ? customer.next_invoice_sequence ?? 1 : 1;
  if (customer) customer.next_invoice_sequence = sequence + 1;
  invoice.status = "open";
  invoice.number = `${customer?.invoice_prefix ?? "DOUBLE"}-${String(sequence).padStart(4, "0")}`;
  invoice.status_transitions.finalized_at = state.now();
  invoice.effective_at = state.now();
  invoice.automatically_finalizes_at = null;
  invoice.hosted_invoice_url = `${state.baseUrl}/__double/invoices/${invoice.id}`;
}

/** A payment (PaymentIntent + Charge + InvoicePayment) for an invoice, succeeded or declined. */
export interface InvoiceAttempt {
  paymentIntent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  invoicePayment: Stripe.InvoicePayment;
}

/**
 * Charges the invoice's customer: a PaymentIntent with one Charge, linked to the invoice through an
 * InvoicePayment, which since basil is the only link between a payment and its invoice
 * (https://docs.stripe.com/api/invoice-payment).
 */
export function chargeInvoice(
  state: StripeState,
  invoice: Stripe.Invoice,
  outcome: "paid" | "payment_failed",
  existing?: Stripe.InvoicePayment,
): InvoiceAttempt {
  const now = state.now();
  const succeeded = outcome === "paid";
  const paymentIntent = existingPaymentIntent(state, existing) ??
    state.add(
      state.paymentIntents,
      Object.assign(fromTemplate<Stripe.PaymentIntent>("payment_intent"), {
        id: newId("pi"),
        created: now,
      }),
    );
  const charge = chargePaymentIntent(state, paymentIntent, {
    amount: invoice.amount_due,
    currency: invoice.currency,
    customer: String(invoice.customer),
    description: invoice.billing_reason === "subscription_create"
      ? "Subscription creation"
      : "Subscription update",
    succeeded,
  });
  if (succeeded) state.connectedMoney?.settleCharge(charge, invoice);

  const invoicePayment = existing ?? state.add(
    state.invoicePayments,
    Object.assign(fromTemplate<Stripe.InvoicePayment>("invoice_payment"), {
      id: newId("inpay"),
      created: now,
      livemode: false,
    }),
  );
  Object.assign(invoicePayment, {
    amount_paid: succeeded ? invoice.amount_due : null,
    amount_requested: invoice.amount_due,
    currency: invoice.currency,
    invoice: invoice.id,
    is_default: true,
    payment: { type: "payment_intent", payment_intent: paymentIntent.id },
    status: succeeded ? "paid" : "open",
    status_transitions: { canceled_at: null, paid_at: succeeded ? now : null },
  });

  invoice.attempted = true;
  invoice.attempt_count += 1;
  if (succeeded) {
    invoice.status = "paid";
    invoice.amount_paid = invoice.amount_due;
    invoice.amount_remaining = 0;
    invoice.status_transitions.paid_at = now;
    invoice.next_payment_attempt = null;
    invoice.ending_balance = 0;
  } else {
    // Smart Retries default: the next attempt a few days later.
    invoice.next_payment_attempt = now + 3 * 86_400;
  }
  return { paymentIntent, charge, invoicePayment };
}

/** Who pays how much for a charge of a PaymentIntent, and whether the card pays. */
export interface ChargeFields {
  amount: number;
  currency: string;
  customer: string;
  description: string | null;
  succeeded: boolean;
}

/**
 * Charges a PaymentIntent once: one Charge, stored in the account, succeeded or declined (a decline
 * leaves the intent waiting for another payment method), and the intent updated to match.
 */
export function chargePaymentIntent(
  state: StripeState,
  paymentIntent: Stripe.PaymentIntent,
  fields: ChargeFields,
): Stripe.Charge {
  const { succeeded } = fields;
  const paymentMethod = newId("pm");
  const charge = fromTemplate<Stripe.Charge>("charge");
  Object.assign(charge, {
    id: newId(state.chargeIdPrefix),
    created: state.now(),
    amount: fields.amount,
    amount_captured: succeeded ? fields.amount : 0,
    amount_refunded: 0,
    balance_transaction: succeeded ? newId("txn") : null,
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: "ROLEPASS",
    captured: succeeded,
    currency: fields.currency,
    customer: fields.customer,
    description: fields.description,
    disputed: false,
    failure_code: succeeded ? null : "card_declined",
    failure_message: succeeded ? null : "Your card was declined.",
    outcome: {
      advice_code: null,
      network_advice_code: null,
      network_decline_code: null,
      network_status: succeeded ? "approved_by_network" : "declined_by_network",
      reason: succeeded ? null : "generic_decline",
      risk_level: "normal",
      seller_message: succeeded
        ? "Payment complete."
        : "The bank did not return any further details with this decline.",
      type: succeeded ? "authorized" : "issuer_declined",
    },
    paid: succeeded,
    payment_intent: paymentIntent.id,
    payment_method: paymentMethod,
    receipt_url: null,
    refunded: false,
    source: null,
    status: succeeded ? "succeeded" : "failed",
    transfer_data: null,
  });
  charge.refunds = listOf([], `/v1/charges/${charge.id}/refunds`);
  state.add(state.charges, charge);
  Object.assign(paymentIntent, {
    amount: fields.amount,
    amount_received: succeeded ? fields.amount : 0,
    automatic_payment_methods: null,
    canceled_at: null,
    client_secret: `${paymentIntent.id}_secret_${newId("x").slice(3)}`,
    currency: fields.currency,
    customer: fields.customer,
    description: fields.description,
    last_payment_error: succeeded ? null : {
      type: "card_error",
      code: "card_declined",
      decline_code: "generic_decline",
      message: "Your card was declined.",
      charge: charge.id,
    },
    latest_charge: charge.id,
    managed_payments: null,
    next_action: null,
    payment_method: succeeded ? paymentMethod : null,
    payment_method_configuration_details: null,
    processing: null,
    status: succeeded ? "succeeded" : "requires_payment_method",
    transfer_data: null,
  });
  return charge;
}

function existingPaymentIntent(
  state: StripeState,
  invoicePayment: Stripe.InvoicePayment | undefined,
): Stripe.PaymentIntent | undefined {
  const id = invoicePayment?.payment.payment_intent;
  return typeof id === "string" ? state.paymentIntents.get(id) : undefined;
}
