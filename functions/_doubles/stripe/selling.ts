/**
 * What the double sells besides subscriptions, as Stripe's API reference describes it: coupons and
 * promotion codes (https://docs.stripe.com/api/promotion_codes), the amounts Stripe Tax adds or
 * includes (https://docs.stripe.com/tax/checkout), and Checkout in `payment` mode with one-time
 * prices: a PaymentIntent and its Charge, and the post-payment invoice `invoice_creation` asks for
 * (https://docs.stripe.com/payments/checkout/receipts).
 *
 * Stripe Tax here knows a few countries' standard rates (Japan 10 %, and some in Europe); an
 * address anywhere else owes no tax (`not_collecting`), as in an account registered nowhere else.
 */
import type Stripe from "stripe";
import { invalidParameter, invalidRequest, resourceMissing } from "./errors.ts";
import type { EventLog } from "./events.ts";
import type { FormParams } from "./form.ts";
import { newId } from "./ids.ts";
import {
  buildCustomer,
  buildInvoiceLine,
  chargePaymentIntent,
  fromTemplate,
  listOf,
  pricingOf,
} from "./objects.ts";
import {
  checkMetadata,
  mergeMetadata,
  readBoolean,
  readInteger,
  readList,
  readObject,
  readString,
} from "./params.ts";
import type {
  CheckoutRequest,
  PaymentDestination,
  StripeState,
  SubscriptionSelling,
} from "./state.ts";

/** Options for {@link buildCoupon}. */
export interface CreateCouponOptions {
  /** Percent off, 0 < p <= 100; or `amountOff` with its `currency`. */
  percentOff?: number;
  amountOff?: number;
  currency?: string;
  /** How many invoices of a subscription it applies to: "once" (the first) or "forever". */
  duration?: "once" | "forever";
  name?: string;
}

/** A new coupon (emits nothing: coupon.created is not an event rolepass reads). */
export function buildCoupon(state: StripeState, options: CreateCouponOptions): Stripe.Coupon {
  const percentOff = options.percentOff ?? null;
  const amountOff = options.amountOff ?? null;
  if ((percentOff === null) === (amountOff === null)) {
    throw invalidRequest("You must pass exactly one of `percent_off` or `amount_off`.");
  }
  if (percentOff !== null && !(percentOff > 0 && percentOff <= 100)) {
    throw invalidRequest("`percent_off` must be between 0 and 100.", "percent_off");
  }
  if (amountOff !== null && !options.currency) {
    throw invalidRequest("You must pass `currency` with `amount_off`.", "currency");
  }
  const coupon = {
    id: newId("coupon").slice("coupon_".length, "coupon_".length + 8),
    object: "coupon",
    amount_off: amountOff,
    created: state.now(),
    currency: amountOff !== null ? options.currency!.toLowerCase() : null,
    duration: options.duration ?? "once",
    duration_in_months: null,
    livemode: false,
    max_redemptions: null,
    metadata: {},
    name: options.name ?? null,
    percent_off: percentOff,
    redeem_by: null,
    times_redeemed: 0,
    valid: true,
  } as Stripe.Coupon;
  return state.add(state.coupons, coupon);
}

/** Options for {@link buildPromotionCode}. */
export interface CreatePromotionCodeOptions {
  coupon: string;
  /** What the customer types; Stripe matches it without regard to case. */
  code: string;
  active?: boolean;
  maxRedemptions?: number;
  expiresAt?: number;
}

/** A new promotion code for a coupon. */
export function buildPromotionCode(
  state: StripeState,
  options: CreatePromotionCodeOptions,
): Stripe.PromotionCode {
  if (!state.coupons.has(options.coupon)) throw resourceMissing("coupon", options.coupon);
  const promotionCode = {
    id: newId("promo"),
    object: "promotion_code",
    active: options.active ?? true,
    code: options.code,
    created: state.now(),
    customer: null,
    customer_account: null,
    expires_at: options.expiresAt ?? null,
    livemode: false,
    max_redemptions: options.maxRedemptions ?? null,
    metadata: {},
    promotion: { type: "coupon", coupon: options.coupon },
    restrictions: {
      first_time_transaction: false,
      minimum_amount: null,
      minimum_amount_currency: null,
    },
    times_redeemed: 0,
  } as Stripe.PromotionCode;
  return state.add(state.promotionCodes, promotionCode);
}

/** The coupon of a promotion code. */
export function couponOf(state: StripeState, promotionCode: Stripe.PromotionCode): Stripe.Coupon {
  const id = String(promotionCode.promotion.coupon);
  const coupon = state.coupons.get(id);
  if (!coupon) throw resourceMissing("coupon", id);
  return coupon;
}

/**
 * The promotion code a customer typed, as Checkout checks it: it must exist, be active, not be
 * expired or used up, and its coupon must fit the session's currency.
 */
export function redeemableCode(
  state: StripeState,
  typed: string,
  currency: string | null,
): Stripe.PromotionCode {
  const found = [...state.promotionCodes.values()].find((p) =>
    p.code.toLowerCase() === typed.trim().toLowerCase()
  );
  if (!found) throw invalidRequest(`This code is invalid: '${typed}'.`, "promotion_code");
  checkRedeemable(state, found, currency, "promotion_code");
  return found;
}

/** Throws Stripe's refusal for a promotion code that cannot be applied now. */
export function checkRedeemable(
  state: StripeState,
  promotionCode: Stripe.PromotionCode,
  currency: string | null,
  param: string,
): void {
  const used = promotionCode.max_redemptions !== null &&
    promotionCode.times_redeemed >= promotionCode.max_redemptions;
  const expired = promotionCode.expires_at !== null && promotionCode.expires_at <= state.now();
  if (!promotionCode.active || used || expired) {
    throw invalidRequest(`This promotion code cannot be redeemed: '${promotionCode.code}'.`, param);
  }
  const coupon = couponOf(state, promotionCode);
  if (coupon.amount_off !== null && currency !== null && coupon.currency !== currency) {
    throw invalidRequest(
      `This coupon's currency (${coupon.currency}) does not match the currency of the ` +
        `Checkout Session (${currency}).`,
      param,
    );
  }
}

/** The amount a coupon takes off `subtotal` (never more than the subtotal). */
export function discountAmount(coupon: Stripe.Coupon, subtotal: number): number {
  if (coupon.percent_off !== null) return Math.round(subtotal * coupon.percent_off / 100);
  return Math.min(coupon.amount_off ?? 0, subtotal);
}

/** Standard rates the double's Stripe Tax applies, by the customer's country. */
const TAX_RATES: Record<string, { percentage: number; displayName: string }> = {
  JP: { percentage: 10, displayName: "JCT" },
  GB: { percentage: 20, displayName: "VAT" },
  DE: { percentage: 19, displayName: "VAT" },
  FR: { percentage: 20, displayName: "VAT" },
};

/** The tax Stripe Tax computes on `taxable` for a customer in `country`. */
export interface TaxAmount {
  /** The tax in the currency's smallest unit. */
  amount: number;
  /** What the customer pays: `taxable` for a tax-inclusive price, `taxable + amount` otherwise. */
  total: number;
  totalTaxes: Stripe.Invoice.TotalTax[];
}

/**
 * Computes tax on an amount after discounts. A tax-inclusive price keeps its total and the tax is
 * the part of it (amount × rate / (100 + rate)); otherwise the tax is added. A price whose tax
 * behavior is unspecified is taxed as exclusive.
 */
export function computeTax(
  taxable: number,
  taxBehavior: string | null,
  country: string | null,
): TaxAmount {
  const rate = country ? TAX_RATES[country.toUpperCase()] : undefined;
  const inclusive = taxBehavior === "inclusive";
  const amount = !rate
    ? 0
    : inclusive
    ? Math.round(taxable * rate.percentage / (100 + rate.percentage))
    : Math.round(taxable * rate.percentage / 100);
  return {
    amount,
    total: inclusive ? taxable : taxable + amount,
    totalTaxes: [{
      amount,
      tax_behavior: inclusive ? "inclusive" : "exclusive",
      tax_rate_details: rate ? { tax_rate: newId("txr") } : null,
      taxability_reason: rate ? "standard_rated" : "not_collecting",
      taxable_amount: inclusive ? taxable - amount : taxable,
      type: "tax_rate_details",
    } as Stripe.Invoice.TotalTax],
  };
}

/** A discount applied to a Checkout Session, invoice or subscription. */
export function buildDiscount(
  state: StripeState,
  fields: {
    coupon: string;
    promotionCode: string | null;
    customer: string | null;
    checkoutSession?: string | null;
    invoice?: string | null;
    subscription?: string | null;
  },
): Stripe.Discount {
  return {
    id: newId("di"),
    object: "discount",
    checkout_session: fields.checkoutSession ?? null,
    customer: fields.customer,
    customer_account: null,
    end: null,
    invoice: fields.invoice ?? null,
    invoice_item: null,
    promotion_code: fields.promotionCode,
    source: { type: "coupon", coupon: fields.coupon },
    start: state.now(),
    subscription: fields.subscription ?? null,
    subscription_item: null,
  } as Stripe.Discount;
}

/** What a discount and tax make of an amount, for a session or an invoice. */
export interface Pricing {
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
  totalTaxes: Stripe.Invoice.TotalTax[];
}

/** Prices `subtotal` with an optional coupon, then tax when `automaticTax` is on. */
export function price(
  subtotal: number,
  options: {
    coupon: Stripe.Coupon | null;
    automaticTax: boolean;
    taxBehavior: string | null;
    country: string | null;
  },
): Pricing {
  const discount = options.coupon ? discountAmount(options.coupon, subtotal) : 0;
  const taxable = subtotal - discount;
  if (!options.automaticTax) {
    return { subtotal, discount, tax: 0, total: taxable, totalTaxes: [] };
  }
  const tax = computeTax(taxable, options.taxBehavior, options.country);
  return { subtotal, discount, tax: tax.amount, total: tax.total, totalTaxes: tax.totalTaxes };
}

/** Counts a redemption of a promotion code and its coupon. */
export function redeem(state: StripeState, promotionCodeId: string | null, couponId: string) {
  const coupon = state.coupons.get(couponId);
  if (coupon) coupon.times_redeemed += 1;
  const promotionCode = promotionCodeId ? state.promotionCodes.get(promotionCodeId) : undefined;
  if (promotionCode) promotionCode.times_redeemed += 1;
}

/**
 * A post-payment invoice for a one-time Checkout payment (`invoice_creation[enabled]`): paid at
 * once, with no subscription parent, one line per line item, and the session's discount and tax.
 */
export function buildPaymentInvoice(
  state: StripeState,
  fields: {
    customer: Stripe.Customer;
    lineItems: { price: Stripe.Price; quantity: number }[];
    pricing: Pricing;
    currency: string;
    discount: Stripe.Discount | null;
    metadata: Record<string, string>;
  },
): Stripe.Invoice {
  const invoice = fromTemplate<Stripe.Invoice & { subscription?: unknown }>("invoice");
  const id = newId("in");
  const now = state.now();
  const lines = fields.lineItems.map(({ price, quantity }) =>
    buildInvoiceLine({
      invoice: id,
      subscription: null,
      amount: (price.unit_amount ?? 0) * quantity,
      currency: price.currency,
      description: state.products.get(String(price.product))?.name ?? null,
      quantity,
      period: { start: now, end: now },
      parent: {
        type: "invoice_item_details",
        invoice_item_details: {
          invoice_item: newId("ii"),
          proration: false,
          proration_details: { credited_items: null },
          subscription: null,
        },
        subscription_item_details: null,
      },
      pricing: pricingOf(price),
    })
  );
  const { pricing } = fields;
  const customer = fields.customer;
  const sequence = customer.next_invoice_sequence ?? 1;
  customer.next_invoice_sequence = sequence + 1;
  Object.assign(invoice, {
    id,
    created: now,
    account_name: "rolepass local sandbox",
    amount_due: pricing.total,
    amount_paid: pricing.total,
    amount_remaining: 0,
    amount_overpaid: 0,
    attempt_count: 1,
    attempted: true,
    auto_advance: false,
    automatic_tax: {
      enabled: pricing.totalTaxes.length > 0,
      liability: pricing.totalTaxes.length > 0 ? { type: "self" } : null,
      disabled_reason: null,
      provider: pricing.totalTaxes.length > 0 ? "stripe" : null,
      status: pricing.totalTaxes.length > 0 ? "complete" : null,
    },
    automatically_finalizes_at: null,
    billing_reason: "manual",
    collection_method: "charge_automatically",
    currency: fields.currency,
    customer: customer.id,
    customer_address: customer.address,
    customer_email: customer.email,
    customer_name: customer.name,
    discounts: fields.discount ? [fields.discount.id] : [],
    due_date: null,
    effective_at: now,
    ending_balance: 0,
    from_invoice: null,
    hosted_invoice_url: `${state.baseUrl}/__double/invoices/${id}`,
    invoice_pdf: null,
    last_finalization_error: null,
    lines: listOf(lines, `/v1/invoices/${id}/lines`),
    metadata: { ...fields.metadata },
    next_payment_attempt: null,
    number: `${customer.invoice_prefix ?? "DOUBLE"}-${String(sequence).padStart(4, "0")}`,
    parent: null,
    period_start: now,
    period_end: now,
    shipping_cost: null,
    shipping_details: null,
    status: "paid",
    status_transitions: {
      finalized_at: now,
      marked_uncollectible_at: null,
      paid_at: now,
      voided_at: null,
    },
    subtotal: pricing.subtotal,
    subtotal_excluding_tax: pricing.subtotal,
    total: pricing.total,
    total_excluding_tax: pricing.total - pricing.tax,
    total_discount_amounts: fields.discount
      ? [{ amount: pricing.discount, discount: fields.discount.id }]
      : [],
    total_pretax_credit_amounts: [],
    total_taxes: pricing.totalTaxes,
    webhooks_delivered_at: null,
  });
  delete invoice.subscription;
  return state.add(state.invoices, invoice as Stripe.Invoice);
}

/** What a Checkout page's payment carries (billing.ts's CheckoutPayment, without the outcome). */
interface TypedOnPage {
  promotionCode?: string;
  address?: Partial<Stripe.Address> & { country: string };
}

/** What paying a payment-mode Checkout Session made. */
export interface CompletedPayment {
  session: Stripe.Checkout.Session;
  paymentIntent: Stripe.PaymentIntent;
  charge: Stripe.Charge;
  /** The post-payment invoice, when the session asked for one. */
  invoice: Stripe.Invoice | null;
}

/** The selling side of one account: discounts and tax at Checkout, and one-time payments. */
export class Selling {
  constructor(private readonly state: StripeState, private readonly events: EventLog) {}

  /** Creates a coupon (Dashboard → Product catalog → Coupons). */
  createCoupon(options: CreateCouponOptions): Stripe.Coupon {
    return buildCoupon(this.state, options);
  }

  /** Creates a customer-facing code for a coupon. */
  createPromotionCode(options: CreatePromotionCodeOptions): Stripe.PromotionCode {
    return buildPromotionCode(this.state, options);
  }

  /** A charge by its id, or the latest charge of a PaymentIntent (`pi_...`). */
  chargeOf(id: string): Stripe.Charge {
    const chargeId = id.startsWith("pi_")
      ? this.state.paymentIntents.get(id)?.latest_charge ?? null
      : id;
    const charge = chargeId ? this.state.charges.get(String(chargeId)) : undefined;
    if (!charge) throw resourceMissing("charge", id);
    if (charge.status !== "succeeded") throw invalidRequest(`Charge ${charge.id} did not succeed.`);
    return charge;
  }

  /**
   * The discount a completed session applies: the one `discounts[]` fixed at creation, or the
   * promotion code the customer typed, which only a session with `allow_promotion_codes` takes.
   */
  private sessionDiscount(
    session: Stripe.Checkout.Session,
    request: CheckoutRequest,
    typed: string | undefined,
  ): { coupon: Stripe.Coupon; promotionCode: string | null } | null {
    if (typed !== undefined) {
      if (!session.allow_promotion_codes) {
        throw invalidRequest("This Checkout Session does not accept promotion codes.");
      }
      const promotionCode = redeemableCode(this.state, typed, session.currency);
      return { coupon: couponOf(this.state, promotionCode), promotionCode: promotionCode.id };
    }
    if (!request.discount) return null;
    const coupon = this.state.coupons.get(request.discount.coupon);
    if (!coupon) throw resourceMissing("coupon", request.discount.coupon);
    return { coupon, promotionCode: request.discount.promotionCode };
  }

  /**
   * The billing address the customer entered, which a session that computes tax or requires an
   * address cannot complete without; saved on the customer under `customer_update[address]=auto`.
   */
  private collectAddress(
    session: Stripe.Checkout.Session,
    request: CheckoutRequest,
    customer: Stripe.Customer,
    typed: TypedOnPage["address"],
  ): Stripe.Address | null {
    const needed = session.automatic_tax.enabled ||
      session.billing_address_collection === "required";
    const entered: Stripe.Address | null = typed
      ? { city: null, line1: null, line2: null, postal_code: null, state: null, ...typed }
      : null;
    const address = entered ?? customer.address ?? null;
    if (needed && !address?.country) {
      throw invalidRequest(
        `Checkout Session ${session.id} collects a billing address: pay it with an address.`,
      );
    }
    if (entered) {
      session.customer_details = {
        ...(session.customer_details ?? {
          email: customer.email,
          name: customer.name,
          phone: null,
          tax_exempt: "none",
          tax_ids: [],
        }),
        address: entered,
      } as Stripe.Checkout.Session.CustomerDetails;
      if (request.saveAddress) {
        const before = structuredClone(customer);
        customer.address = entered;
        this.events.emit("customer.updated", customer, before);
      }
    }
    return address;
  }

  /** Records what a subscription Checkout creates is sold with: its discount and Stripe Tax. */
  sellSubscription(
    session: Stripe.Checkout.Session,
    request: CheckoutRequest,
    subscription: Stripe.Subscription,
    customer: Stripe.Customer,
    typed: TypedOnPage,
  ): void {
    const address = this.collectAddress(session, request, customer, typed.address);
    const discount = this.sessionDiscount(session, request, typed.promotionCode);
    let sold: SubscriptionSelling["discount"] = null;
    if (discount) {
      const applied = buildDiscount(this.state, {
        coupon: discount.coupon.id,
        promotionCode: discount.promotionCode,
        customer: customer.id,
        checkoutSession: session.id,
        subscription: subscription.id,
      });
      subscription.discounts = [applied.id];
      sold = { ...discount, coupon: discount.coupon.id, discountId: applied.id };
      session.discounts = [{
        coupon: discount.coupon.id,
        promotion_code: discount.promotionCode,
      }] as Stripe.Checkout.Session.Discount[];
      redeem(this.state, discount.promotionCode, discount.coupon.id);
    }
    if (session.automatic_tax.enabled) {
      subscription.automatic_tax = {
        enabled: true,
        liability: { type: "self" },
        disabled_reason: null,
      } as Stripe.Subscription.AutomaticTax;
    }
    this.state.subscriptionSelling.set(subscription.id, {
      discount: sold,
      discountUsed: false,
      country: address?.country ?? null,
    });
  }

  /** Applies a subscription's discount (once or forever) and Stripe Tax to a draft invoice. */
  applyToInvoice(subscription: Stripe.Subscription, invoice: Stripe.Invoice): void {
    const sold = this.state.subscriptionSelling.get(subscription.id);
    if (!sold) return;
    const coupon = sold.discount ? this.state.coupons.get(sold.discount.coupon) ?? null : null;
    const useDiscount = coupon !== null && (coupon.duration === "forever" || !sold.discountUsed);
    const automaticTax = subscription.automatic_tax?.enabled === true;
    if (!useDiscount && !automaticTax) return;
    if (useDiscount) sold.discountUsed = true;
    const pricing = price(invoice.subtotal, {
      coupon: useDiscount ? coupon : null,
      automaticTax,
      taxBehavior: subscription.items.data[0]?.price.tax_behavior ?? null,
      country: sold.country,
    });
    Object.assign(invoice, {
      amount_due: pricing.total,
      amount_remaining: pricing.total,
      total: pricing.total,
      total_excluding_tax: pricing.total - pricing.tax,
      discounts: useDiscount && sold.discount ? [sold.discount.discountId] : [],
      total_discount_amounts: useDiscount && sold.discount
        ? [{ amount: pricing.discount, discount: sold.discount.discountId }]
        : [],
      total_taxes: pricing.totalTaxes,
      automatic_tax: automaticTax
        ? {
          enabled: true,
          liability: { type: "self" },
          disabled_reason: null,
          provider: "stripe",
          status: "complete",
        }
        : invoice.automatic_tax,
    });
  }

  /** Copies a paid first invoice's amounts onto its session (`amount_total`, `total_details`). */
  recordSessionAmounts(session: Stripe.Checkout.Session, invoice: Stripe.Invoice): void {
    const discount = (invoice.total_discount_amounts ?? []).reduce((sum, d) => sum + d.amount, 0);
    const tax = (invoice.total_taxes ?? []).reduce((sum, t) => sum + t.amount, 0);
    Object.assign(session, {
      amount_subtotal: invoice.subtotal,
      amount_total: invoice.total,
      total_details: { amount_discount: discount, amount_shipping: 0, amount_tax: tax },
      automatic_tax: {
        ...session.automatic_tax,
        status: session.automatic_tax.enabled ? "complete" : null,
        provider: session.automatic_tax.enabled ? "stripe" : null,
      },
    });
  }

  /**
   * Pays (or fails to pay) an open Checkout Session in `payment` mode, as the customer pressing
   * "Pay" would. Paid: a PaymentIntent with a succeeded Charge, the session `complete` with
   * `payment_status: "paid"`, and the post-payment invoice when the session asked for one.
   * Declined: the session stays open and a later payment reuses the PaymentIntent.
   */
  completePayment(
    sessionId: string,
    payment: TypedOnPage & { outcome?: "paid" | "payment_failed" },
  ) {
    const outcome = payment.outcome ?? "paid";
    const session = this.state.checkoutSessions.get(sessionId);
    const request = this.state.checkoutRequests.get(sessionId);
    if (!session || !request) throw resourceMissing("checkout.session", sessionId);
    if (session.status !== "open") {
      throw invalidRequest(`This Checkout Session is ${session.status}: '${sessionId}'`);
    }
    if (session.mode !== "payment") {
      throw invalidRequest(
        `Checkout Session ${sessionId} is in ${session.mode} mode: pay it with completeCheckout.`,
      );
    }
    let customer = session.customer
      ? this.state.customers.get(String(session.customer))
      : undefined;
    if (!customer) {
      customer = buildCustomer(this.state, {
        email: session.customer_email ?? session.customer_details?.email ?? "member@example.com",
      });
      this.events.emit("customer.created", customer);
    }
    const address = this.collectAddress(session, request, customer, payment.address);
    const discount = this.sessionDiscount(session, request, payment.promotionCode);
    const lineItems = request.lineItems.map(({ price, quantity }) => ({
      price: this.state.prices.get(price)!,
      quantity,
    }));
    const subtotal = lineItems.reduce(
      (sum, item) => sum + (item.price.unit_amount ?? 0) * item.quantity,
      0,
    );
    const pricing = price(subtotal, {
      coupon: discount?.coupon ?? null,
      automaticTax: session.automatic_tax.enabled,
      taxBehavior: lineItems[0]?.price.tax_behavior ?? null,
      country: address?.country ?? null,
    });
    const currency = session.currency ?? lineItems[0]?.price.currency ?? "usd";
    const pending = request.pendingPaymentIntentId
      ? this.state.paymentIntents.get(request.pendingPaymentIntentId)
      : undefined;
    const paymentIntent = pending ?? this.state.add(
      this.state.paymentIntents,
      Object.assign(fromTemplate<Stripe.PaymentIntent>("payment_intent"), {
        id: newId("pi"),
        created: this.state.now(),
        metadata: { ...(request.paymentIntentMetadata ?? {}) },
      }),
    );
    const charge = chargePaymentIntent(this.state, paymentIntent, {
      amount: pricing.total,
      currency,
      customer: customer.id,
      description: null,
      succeeded: outcome === "paid",
    });
    if (!pending) {
      this.events.emit("payment_intent.created", {
        ...structuredClone(paymentIntent),
        status: "requires_payment_method",
        amount_received: 0,
        latest_charge: null,
        last_payment_error: null,
      } as Stripe.PaymentIntent);
    }
    if (outcome === "payment_failed") {
      request.pendingPaymentIntentId = paymentIntent.id;
      this.events.emit("charge.failed", charge);
      this.events.emit("payment_intent.payment_failed", paymentIntent);
      return { session, paymentIntent, charge, invoice: null };
    }
    if (request.paymentDestination) {
      const { destination, onBehalfOf, applicationFeeAmount } = request.paymentDestination;
      Object.assign(paymentIntent, {
        application_fee_amount: applicationFeeAmount,
        on_behalf_of: onBehalfOf,
        transfer_data: destination ? { destination } : null,
      });
      this.state.connectedMoney?.settlePayment(charge, request.paymentDestination);
    }
    let applied: Stripe.Discount | null = null;
    if (discount) {
      applied = buildDiscount(this.state, {
        coupon: discount.coupon.id,
        promotionCode: discount.promotionCode,
        customer: customer.id,
        checkoutSession: session.id,
      });
      redeem(this.state, discount.promotionCode, discount.coupon.id);
    }
    const invoice = request.invoiceCreation
      ? buildPaymentInvoice(this.state, {
        customer,
        lineItems,
        pricing,
        currency,
        discount: applied,
        metadata: {},
      })
      : null;
    const invoicePayment = invoice
      ? this.state.add(
        this.state.invoicePayments,
        Object.assign(fromTemplate<Stripe.InvoicePayment>("invoice_payment"), {
          id: newId("inpay"),
          created: this.state.now(),
          livemode: false,
          amount_paid: pricing.total,
          amount_requested: pricing.total,
          currency,
          invoice: invoice.id,
          is_default: true,
          payment: { type: "payment_intent", payment_intent: paymentIntent.id },
          status: "paid",
          status_transitions: { canceled_at: null, paid_at: this.state.now() },
        }),
      )
      : null;
    Object.assign(session, {
      status: "complete",
      payment_status: "paid",
      url: null,
      customer: customer.id,
      payment_intent: paymentIntent.id,
      invoice: invoice?.id ?? null,
      amount_subtotal: pricing.subtotal,
      amount_total: pricing.total,
      total_details: {
        amount_discount: pricing.discount,
        amount_shipping: 0,
        amount_tax: pricing.tax,
      },
      discounts: discount
        ? [{ coupon: discount.coupon.id, promotion_code: discount.promotionCode }]
        : [],
      automatic_tax: {
        ...session.automatic_tax,
        status: session.automatic_tax.enabled ? "complete" : null,
        provider: session.automatic_tax.enabled ? "stripe" : null,
      },
      customer_details: {
        ...(session.customer_details ?? {}),
        email: customer.email,
        name: customer.name,
      },
    });
    this.events.emit("charge.succeeded", charge);
    this.events.emit("payment_intent.succeeded", paymentIntent);
    this.events.emit("checkout.session.completed", session);
    if (invoice && invoicePayment) {
      this.events.emit("invoice.created", invoice);
      this.events.emit("invoice.finalized", invoice);
      this.events.emit("invoice.paid", invoice);
      this.events.emit("invoice.payment_succeeded", invoice);
      this.events.emit("invoice_payment.paid", invoicePayment);
    }
    return { session, paymentIntent, charge, invoice };
  }
}

/**
 * The selling parameters of `POST /v1/checkout/sessions`, checked as Stripe checks them:
 * `allow_promotion_codes` and `discounts` exclude each other; `customer_update` needs `customer`;
 * Stripe Tax needs an address it can read (the customer's, or the one entered in Checkout saved
 * with `customer_update[address]` or `[shipping]` set to `auto`); `payment_intent_data` and
 * `invoice_creation` belong to `payment` mode.
 * @returns what the session shows and what its completion needs
 */
export function checkoutSellingParams(
  state: StripeState,
  params: FormParams,
  context: {
    mode: string;
    customer: Stripe.Customer | undefined;
    currency: string | null;
    /** What the line items cost, before discounts and tax. */
    amount: number;
  },
): {
  session: Partial<Stripe.Checkout.Session>;
  request: Pick<
    CheckoutRequest,
    "discount" | "saveAddress" | "paymentIntentMetadata" | "invoiceCreation" | "paymentDestination"
  >;
} {
  const { mode, customer } = context;
  const discounts = readList(params, "discounts");
  if (params.allow_promotion_codes !== undefined && discounts.length) {
    throw invalidRequest(
      "You may only specify one of these parameters: allow_promotion_codes, discounts.",
    );
  }
  if (discounts.length > 1) {
    throw invalidParameter("discounts", "You may only specify one discount.");
  }
  let discount: CheckoutRequest["discount"];
  const [given] = discounts;
  if (given !== undefined) {
    const entry = (typeof given === "object" && !Array.isArray(given) ? given : {}) as FormParams;
    const couponId = readString(entry, "coupon");
    const promotionCodeId = readString(entry, "promotion_code");
    if (!couponId === !promotionCodeId) {
      throw invalidRequest(
        "You may only specify one of these parameters: discounts[0][coupon], " +
          "discounts[0][promotion_code].",
        "discounts[0]",
      );
    }
    if (promotionCodeId) {
      const promotionCode = state.promotionCodes.get(promotionCodeId);
      if (!promotionCode) {
        throw resourceMissing("promotion_code", promotionCodeId, "discounts[0][promotion_code]");
      }
      checkRedeemable(state, promotionCode, context.currency, "discounts[0][promotion_code]");
      discount = { coupon: String(promotionCode.promotion.coupon), promotionCode: promotionCodeId };
    } else if (couponId) {
      const coupon = state.coupons.get(couponId);
      if (!coupon) throw resourceMissing("coupon", couponId, "discounts[0][coupon]");
      discount = { coupon: couponId, promotionCode: null };
    }
  }
  const customerUpdate = readObject(params, "customer_update");
  if (customerUpdate && !customer) {
    throw invalidParameter(
      "customer_update",
      "`customer_update` can only be used with `customer`.",
    );
  }
  const saveAddress = customerUpdate !== undefined &&
    (readString(customerUpdate, "address") === "auto" ||
      readString(customerUpdate, "shipping") === "auto");
  const automaticTax = readBoolean(readObject(params, "automatic_tax") ?? {}, "enabled") ?? false;
  if (automaticTax && customer && !customer.address?.country && !saveAddress) {
    throw invalidRequest(
      "Automatic tax calculation in Checkout requires a valid address on the Customer. Add a " +
        "valid address to the Customer or set either `customer_update[address]` or " +
        "`customer_update[shipping]` to `auto` to save the address entered in Checkout to the " +
        "Customer.",
      "customer_update",
    );
  }
  for (const name of ["payment_intent_data", "invoice_creation"] as const) {
    if (mode !== "payment" && params[name] !== undefined) {
      throw invalidParameter(name, `You can only specify \`${name}\` in \`payment\` mode.`);
    }
  }
  const paymentIntentData = readObject(params, "payment_intent_data") ?? {};
  checkMetadata(paymentIntentData.metadata, "payment_intent_data[metadata]");
  const paymentDestination = paymentDestinationOf(paymentIntentData);
  if (paymentDestination) {
    if (!state.connectedMoney) {
      throw invalidRequest(
        "Only Stripe Connect platforms can work with other accounts.",
        "payment_intent_data",
      );
    }
    state.connectedMoney.checkPaymentDestination(paymentDestination, context.amount);
  }
  const invoiceCreation = readBoolean(readObject(params, "invoice_creation") ?? {}, "enabled") ??
    false;
  return {
    session: {
      allow_promotion_codes: readBoolean(params, "allow_promotion_codes") ?? null,
      discounts: discount
        ? [{
          coupon: discount.coupon,
          promotion_code: discount.promotionCode,
        }] as Stripe.Checkout.Session.Discount[]
        : null,
      invoice_creation: mode === "payment"
        ? {
          enabled: invoiceCreation,
          invoice_data: {
            account_tax_ids: null,
            custom_fields: null,
            description: null,
            footer: null,
            issuer: null,
            metadata: {},
            rendering_options: null,
          },
        } as Stripe.Checkout.Session.InvoiceCreation
        : null,
    },
    request: {
      ...(discount ? { discount } : {}),
      saveAddress,
      paymentIntentMetadata: mergeMetadata({}, paymentIntentData.metadata),
      invoiceCreation,
      ...(paymentDestination ? { paymentDestination } : {}),
    },
  };
}

/** `payment_intent_data`'s Connect parameters (a destination charge), or null for none. */
function paymentDestinationOf(paymentIntentData: FormParams): PaymentDestination | null {
  const destination = readString(
    readObject(paymentIntentData, "transfer_data") ?? {},
    "destination",
  );
  const onBehalfOf = readString(paymentIntentData, "on_behalf_of");
  const fee = readInteger(paymentIntentData, "application_fee_amount");
  if (!destination && !onBehalfOf && fee === undefined) return null;
  return {
    destination: destination ?? null,
    onBehalfOf: onBehalfOf ?? null,
    applicationFeeAmount: fee ?? null,
  };
}
