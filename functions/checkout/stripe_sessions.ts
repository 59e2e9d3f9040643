/**
 * The checkout function's Stripe adapter: the customer, Checkout and Portal sessions, and what
 * became of an earlier Checkout session. Every create call carries an idempotency key derived from
 * our own ids, so a retry or a concurrent duplicate gets Stripe's first answer back instead of a
 * second object (https://docs.stripe.com/api/idempotent_requests).
 */
import type Stripe from "stripe";
import type { Locale } from "../_core/locale.ts";
import { ROLEPASS_METADATA } from "../_core/stripe_shapes.ts";
import { type CheckoutSeller, destinationSubscriptionData } from "./connect_seller.ts";
import type { CheckoutTrial } from "../_core/trial.ts";

/** Checkout's trial settings (https://docs.stripe.com/payments/checkout/free-trials). */
function trialSubscriptionData(trial: CheckoutTrial | null | undefined) {
  if (!trial) return {};
  return {
    trial_period_days: trial.trialPeriodDays,
    trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } },
  };
}

/** Who a Stripe object belongs to, written as metadata on the customer, session and subscription. */
export interface MemberRef {
  guildId: string;
  discordUserId: string;
  membershipId: string;
}

/** What a Checkout session needs. */
export interface CheckoutSessionRequest {
  member: MemberRef;
  customerId: string;
  priceId: string;
  /** `subscription` for a recurring price; `payment` for a pass's one-time price. */
  mode: "subscription" | "payment";
  /** Whether the member may enter a Stripe promotion code. */
  allowPromotionCodes: boolean;
  /** Stripe Tax, with the address it needs; null when the guild has tax off. */
  tax: { billingAddressCollection: "auto" | "required" } | null;
  locale: Locale;
  successUrl: string;
  cancelUrl: string;
  /** Unix seconds; Stripe requires 30 minutes to 24 hours from now. */
  expiresAt: number;
  idempotencyKey: string;
  /** Platform mode: the guild's connected account the payment goes to, with the platform's fee. */
  seller?: CheckoutSeller | null;
  /** The free trial the Checkout starts (`_core/trial.ts` trialOffer); none when absent. */
  trial?: CheckoutTrial | null;
}

/** What a Portal session needs. */
export interface PortalSessionRequest {
  customerId: string;
  locale: Locale;
  returnUrl: string;
  idempotencyKey: string;
}

/** A Stripe-hosted session to send the member to. */
export interface OpenedSession {
  id: string;
  url: string;
}

/** What became of a Checkout session, and whose it is. */
export interface CheckoutSessionState {
  status: "open" | "complete" | "expired";
  /** `subscription`, or `payment` for a pass. */
  mode: string;
  subscriptionId: string | null;
  customerId: string | null;
  /** The `rolepass_membership_id` metadata rolepass wrote on the session, if any. */
  membershipId: string | null;
}

/** Stripe as the checkout function uses it. */
export interface CheckoutStripe {
  createCustomer(member: MemberRef, locale: Locale): Promise<string>;
  createCheckoutSession(request: CheckoutSessionRequest): Promise<OpenedSession>;
  createPortalSession(request: PortalSessionRequest): Promise<OpenedSession>;
  checkoutSessionState(sessionId: string): Promise<CheckoutSessionState>;
  /** Expires an open session; returns its state afterwards (it may have completed meanwhile). */
  expireCheckoutSession(sessionId: string): Promise<CheckoutSessionState>;
  /** A subscription's status as Stripe reports it now (what it means: `_core/subscription_state.ts`). */
  subscriptionStatus(subscriptionId: string): Promise<string>;
}

/** Thrown when Stripe answers a session without a URL (never for hosted sessions). */
export class StripeAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StripeAnswerError";
  }
}

function metadataOf(member: MemberRef): Record<string, string> {
  return {
    [ROLEPASS_METADATA.guildId]: member.guildId,
    [ROLEPASS_METADATA.discordUserId]: member.discordUserId,
    [ROLEPASS_METADATA.membershipId]: member.membershipId,
  };
}

/**
 * `client_reference_id` carries the three ids too, for reconciling in the Dashboard and exports:
 * `<guild id>_<member id>_<membership id>` (snowflakes are digits and the uuid has no `_`).
 */
export function clientReferenceId(member: MemberRef): string {
  return `${member.guildId}_${member.discordUserId}_${member.membershipId}`;
}

function stateOf(session: Stripe.Checkout.Session): CheckoutSessionState {
  const subscription = session.subscription;
  const customer = session.customer;
  return {
    status: session.status === "complete"
      ? "complete"
      : session.status === "expired"
      ? "expired"
      : "open",
    mode: session.mode,
    subscriptionId: typeof subscription === "string" ? subscription : subscription?.id ?? null,
    customerId: typeof customer === "string" ? customer : customer?.id ?? null,
    membershipId: session.metadata?.[ROLEPASS_METADATA.membershipId] ?? null,
  };
}

function opened(id: string, url: string | null): OpenedSession {
  if (!url) throw new StripeAnswerError(`Stripe returned session ${id} without a URL`);
  return { id, url };
}

/** The Stripe adapter over a configured SDK client. */
export function createCheckoutStripe(stripe: Stripe): CheckoutStripe {
  return {
    async createCustomer(member, locale) {
      // The create call's parameters depend on the membership alone: a retry under the same key
      // from a link in another language must replay the customer, not fail as a mismatch.
      const customer = await stripe.customers.create({
        description: `Discord member ${member.discordUserId} of guild ${member.guildId}`,
        metadata: metadataOf(member),
      }, { idempotencyKey: `rolepass-customer-${member.membershipId}` });
      // Receipts and invoice emails follow the customer's preferred locale.
      await stripe.customers.update(customer.id, { preferred_locales: [locale] });
      return customer.id;
    },

    async createCheckoutSession(request) {
      const metadata = metadataOf(request.member);
      const session = await stripe.checkout.sessions.create({
        mode: request.mode,
        customer: request.customerId,
        line_items: [{ price: request.priceId, quantity: 1 }],
        client_reference_id: clientReferenceId(request.member),
        metadata,
        // A pass is a payment: its PaymentIntent carries the metadata, and a paid invoice follows
        // so the money ledger and the refund task read it as they read a subscription's.
        ...(request.mode === "subscription"
          ? {
            subscription_data: {
              metadata,
              ...destinationSubscriptionData(request.seller),
              ...trialSubscriptionData(request.trial),
            },
            ...(request.trial
              ? { payment_method_collection: request.trial.paymentMethodCollection }
              : {}),
          }
          : { payment_intent_data: { metadata }, invoice_creation: { enabled: true } }),
        ...(request.allowPromotionCodes ? { allow_promotion_codes: true } : {}),
        // Stripe Tax reads the address the member enters; saving it on the customer is what lets
        // Checkout use it with an existing customer (https://docs.stripe.com/tax/checkout).
        ...(request.tax
          ? {
            automatic_tax: { enabled: true },
            billing_address_collection: request.tax.billingAddressCollection,
            customer_update: { address: "auto" as const },
          }
          : {}),
        locale: request.locale,
        success_url: request.successUrl,
        cancel_url: request.cancelUrl,
        expires_at: request.expiresAt,
      }, { idempotencyKey: request.idempotencyKey });
      return opened(session.id, session.url);
    },

    async createPortalSession(request) {
      const session = await stripe.billingPortal.sessions.create({
        customer: request.customerId,
        locale: request.locale,
        return_url: request.returnUrl,
      }, { idempotencyKey: request.idempotencyKey });
      return opened(session.id, session.url);
    },

    async checkoutSessionState(sessionId) {
      return stateOf(await stripe.checkout.sessions.retrieve(sessionId));
    },

    async expireCheckoutSession(sessionId) {
      return stateOf(await stripe.checkout.sessions.expire(sessionId));
    },

    async subscriptionStatus(subscriptionId) {
      return (await stripe.subscriptions.retrieve(subscriptionId)).status;
    },
  };
}
