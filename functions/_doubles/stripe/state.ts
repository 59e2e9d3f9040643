/**
 * The double's truth: every Stripe object it has created, by kind, in creation order. API handlers,
 * the simulation and the control API all read and write these maps; events carry snapshots.
 */
import type Stripe from "stripe";

/** What Checkout keeps from a session's creation request but does not show on the session. */
export interface CheckoutRequest {
  lineItems: { id: string; price: string; quantity: number }[];
  subscriptionMetadata: Record<string, string>;
  subscriptionDescription: string | null;
  billingMode: BillingModeType | null;
  /** The `incomplete` subscription a declined payment left, which a later payment completes. */
  pendingSubscriptionId?: string;
  /** `discounts[]` given at creation: a coupon or promotion code applied without the customer. */
  discount?: { coupon: string; promotionCode: string | null };
  /** `customer_update[address]`: whether the address entered in Checkout is saved on the customer. */
  saveAddress?: boolean;
  /** `payment_intent_data[metadata]` (payment mode). */
  paymentIntentMetadata?: Record<string, string>;
  /** `invoice_creation[enabled]` (payment mode): a paid invoice follows the payment. */
  invoiceCreation?: boolean;
  /** The PaymentIntent a declined payment-mode attempt left, which a later payment reuses. */
  pendingPaymentIntentId?: string;
  /** Connect's `payment_intent_data` (a payment-mode destination charge). */
  paymentDestination?: PaymentDestination;
  /** Connect's `subscription_data` (destination charges), copied onto the subscription. */
  destinationCharge?: DestinationCharge;
  /** `subscription_data[trial_period_days]` with `trial_settings`: the subscription starts trialing. */
  trial?: SubscriptionTrial;
  /** `payment_method_collection`: `if_required` takes no card when nothing is due (a trial). */
  paymentMethodCollection?: "always" | "if_required";
}

/** A free trial Checkout starts (https://docs.stripe.com/billing/subscriptions/trials). */
export interface SubscriptionTrial {
  days: number;
  /** `trial_settings[end_behavior][missing_payment_method]`: what ends a trial with no card. */
  missingPaymentMethod: "cancel" | "create_invoice" | "pause";
}

/** A subscription's destination-charge settings (`subscription_data` of Checkout). */
export interface DestinationCharge {
  destination: string | null;
  onBehalfOf: string | null;
  applicationFeePercent: number | null;
}

/** A payment-mode destination charge: `payment_intent_data`'s Connect parameters. */
export interface PaymentDestination {
  destination: string | null;
  onBehalfOf: string | null;
  applicationFeeAmount: number | null;
}

/** The Connect flags of `POST /v1/refunds`. */
export interface RefundFlags {
  reverseTransfer: boolean;
  refundApplicationFee: boolean;
}

/** What the platform's Connect does when its charges and refunds move money (connect.ts). */
export interface ConnectedMoney {
  /** The connected account `id`, or resource_missing on `param`. */
  account(id: string, param?: string): Stripe.Account;
  checkDestination(destinationCharge: DestinationCharge): void;
  settleCharge(charge: Stripe.Charge, invoice: Stripe.Invoice): void;
  checkPaymentDestination(payment: PaymentDestination, amount: number): void;
  settlePayment(charge: Stripe.Charge, payment: PaymentDestination): void;
  checkRefund(charge: Stripe.Charge, flags: RefundFlags): void;
  settleRefund(charge: Stripe.Charge, refund: Stripe.Refund, flags: RefundFlags): void;
}

/** What Checkout left on a subscription it created: its discount, and whether it was used once. */
export interface SubscriptionSelling {
  discount: { coupon: string; promotionCode: string | null; discountId: string } | null;
  /** Whether the discount was applied once already (a "once" coupon stops then). */
  discountUsed: boolean;
  /** The customer's country when Checkout completed, which Stripe Tax reads on each invoice. */
  country: string | null;
}

/** Subscription billing modes (https://docs.stripe.com/billing/subscriptions/billing-mode). */
export type BillingModeType = "classic" | "flexible";

/** Any stored Stripe object. */
export type StoredObject = { id: string; object: string };

/** All objects of one simulated Stripe account. */
export class StripeState {
  readonly customers = new Map<string, Stripe.Customer>();
  readonly products = new Map<string, Stripe.Product>();
  readonly prices = new Map<string, Stripe.Price>();
  readonly subscriptions = new Map<string, Stripe.Subscription>();
  readonly invoices = new Map<string, Stripe.Invoice>();
  readonly invoicePayments = new Map<string, Stripe.InvoicePayment>();
  readonly paymentIntents = new Map<string, Stripe.PaymentIntent>();
  readonly charges = new Map<string, Stripe.Charge>();
  readonly refunds = new Map<string, Stripe.Refund>();
  readonly disputes = new Map<string, Stripe.Dispute>();
  readonly checkoutSessions = new Map<string, Stripe.Checkout.Session>();
  readonly checkoutRequests = new Map<string, CheckoutRequest>();
  readonly coupons = new Map<string, Stripe.Coupon>();
  readonly promotionCodes = new Map<string, Stripe.PromotionCode>();
  /** By subscription id: what Checkout sold it with (see {@link SubscriptionSelling}). */
  readonly subscriptionSelling = new Map<string, SubscriptionSelling>();
  readonly portalSessions = new Map<string, Stripe.BillingPortal.Session>();
  /** Invoice items (prorations of price changes), pending until an invoice takes them. */
  readonly invoiceItems = new Map<string, Stripe.InvoiceItem>();
  readonly portalConfigurations = new Map<string, Stripe.BillingPortal.Configuration>();
  /**
   * By portal configuration id: the products and prices members may switch between
   * (`features.subscription_update.products`, which Stripe includes only when expanded).
   */
  readonly portalUpdateProducts = new Map<string, { product: string; prices: string[] }[]>();
  readonly webhookEndpoints = new Map<string, Stripe.WebhookEndpoint>();
  /** Signing secrets of webhook endpoints (Stripe shows them only once, at creation). */
  readonly webhookSecrets = new Map<string, string>();
  /** Whether the account has saved its Customer Portal settings (Dashboard step in test mode). */
  portalConfigured = true;
  /** Billing mode of new subscriptions when Checkout does not say. */
  defaultBillingMode: BillingModeType;
  /** Prefix of new charge ids: `ch`, or `py` as Stripe gives charges of some payment methods. */
  chargeIdPrefix: "ch" | "py" = "ch";
  /** The platform's Connect, on the platform account only (null on connected accounts). */
  connectedMoney: ConnectedMoney | null = null;

  private readonly sequence = new Map<string, number>();
  private counter = 0;

  /**
   * @param clock milliseconds since the epoch, like `Date.now`.
   * @param baseUrl the double's own URL, for hosted-page links.
   */
  constructor(
    private readonly clock: () => number,
    public baseUrl: string,
    defaultBillingMode: BillingModeType = "flexible",
  ) {
    this.defaultBillingMode = defaultBillingMode;
  }

  /** Current time in Unix seconds, as Stripe timestamps are. */
  now(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** Stores `object` in `map` and remembers its creation order (lists are newest first). */
  add<T extends StoredObject>(map: Map<string, T>, object: T): T {
    map.set(object.id, object);
    this.sequence.set(object.id, ++this.counter);
    return object;
  }

  /** Records the creation order of an object kept outside the maps (events). */
  remember(id: string): void {
    this.sequence.set(id, ++this.counter);
  }

  /** Creation order of an id (higher is newer); 0 when unknown. */
  orderOf(id: string): number {
    return this.sequence.get(id) ?? 0;
  }

  /** Finds any stored object by id, using its prefix to pick the kind. */
  find(id: string): StoredObject | undefined {
    const map = this.mapFor(id);
    return map?.get(id) as StoredObject | undefined;
  }

  private mapFor(id: string): Map<string, unknown> | undefined {
    const prefix = id.startsWith("cs_") ? "cs" : id.slice(0, id.indexOf("_"));
    const maps: Record<string, Map<string, unknown>> = {
      cus: this.customers,
      prod: this.products,
      price: this.prices,
      sub: this.subscriptions,
      in: this.invoices,
      inpay: this.invoicePayments,
      pi: this.paymentIntents,
      ch: this.charges,
      py: this.charges,
      re: this.refunds,
      dp: this.disputes,
      cs: this.checkoutSessions,
      bps: this.portalSessions,
      bpc: this.portalConfigurations,
      ii: this.invoiceItems,
      we: this.webhookEndpoints,
      promo: this.promotionCodes,
    };
    return maps[prefix];
  }
}
