/**
 * Checkout and Portal sessions as rolepass asks Stripe for them and reads them back, without I/O:
 * what a session request carries, whose it is (the metadata written on the customer, the session
 * and what it sells), where a platform-mode sale's money goes with the platform's fee, and what
 * became of a session. `_shared/stripe_gateway.ts` turns these into Stripe calls.
 */
import { z } from "zod";
import type { Locale } from "./locale.ts";
import { displayedDecimals, minorUnitExponent } from "./currency.ts";
import { ROLEPASS_METADATA } from "./stripe_shapes.ts";
import type { CheckoutTrial } from "./trial.ts";

/** Who a Stripe object belongs to, written as metadata on the customer, session and subscription. */
export interface MemberRef {
  guildId: string;
  discordUserId: string;
  membershipId: string;
}

/** The metadata that names `member` on every Stripe object rolepass creates for them. */
export function memberMetadata(member: MemberRef): Record<string, string> {
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

/** The connected account a guild's sales pay in platform mode, and the platform's fee on them. */
export interface CheckoutSeller {
  accountId: string;
  platformFeePercent: number;
}

/**
 * Where a platform-mode Checkout's money goes (a destination charge, docs/DECISIONS.md): a
 * subscription takes the guild's fee as a percent of each invoice; a one-time payment takes it as
 * a fixed amount, since payment-mode Checkout has no percent fee.
 */
export type CheckoutDestination =
  | { accountId: string; fee: { percent: number } }
  | { accountId: string; fee: { amount: number } };

/**
 * The platform's fee on a one-time payment of `amount` (the currency's smallest unit): the guild's
 * percent of it, rounded half up to what the currency can charge: whole yen for JPY (no minor
 * unit), whole krónur for ISK (two decimals in the API, whole units charged), cents for USD.
 */
export function applicationFeeAmount(amount: number, percent: number, currency: string): number {
  // Percents have at most two decimals: in basis points the product is an exact integer.
  const exact = amount * Math.round(percent * 100) / 10_000;
  const step = 10 ** (minorUnitExponent(currency) - displayedDecimals(currency));
  return Math.min(amount, Math.round(exact / step) * step);
}

/** The destination of a Checkout selling `sale` for `seller`; null in standalone mode. */
export function checkoutDestination(
  seller: CheckoutSeller | null,
  sale: { mode: "subscription" } | { mode: "payment"; amount: number; currency: string },
): CheckoutDestination | null {
  if (!seller) return null;
  if (sale.mode === "subscription") {
    return { accountId: seller.accountId, fee: { percent: seller.platformFeePercent } };
  }
  return {
    accountId: seller.accountId,
    fee: { amount: applicationFeeAmount(sale.amount, seller.platformFeePercent, sale.currency) },
  };
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
  destination?: CheckoutDestination | null;
  /** The free trial the Checkout starts (`trial.ts` trialOffer); none when absent. */
  trial?: CheckoutTrial | null;
}

/** What a Portal session needs. */
export interface PortalSessionRequest {
  customerId: string;
  /** The guild's own portal configuration; null opens the account's default. */
  configurationId: string | null;
  /**
   * The guild's connected account in platform mode: the portal then shows only the subscriptions
   * and invoices settled on its behalf. Null in standalone mode.
   */
  onBehalfOf: string | null;
  locale: Locale;
  returnUrl: string;
  idempotencyKey: string;
}

/** A Stripe-hosted session to send the member to. */
export interface OpenedSession {
  id: string;
  url: string;
}

const idOf = z.union([z.string(), z.object({ id: z.string() }).transform((object) => object.id)])
  .nullable().optional().transform((id) => id ?? null);

/** A Checkout Session as Stripe answers it, read as what became of it and whose it is. */
export const stripeCheckoutSessionState = z.object({
  status: z.string().nullable(),
  mode: z.string(),
  subscription: idOf,
  customer: idOf,
  metadata: z.record(z.string(), z.string()).nullable().optional(),
}).transform((session) => ({
  status: session.status === "complete"
    ? "complete" as const
    : session.status === "expired"
    ? "expired" as const
    : "open" as const,
  /** `subscription`, or `payment` for a pass. */
  mode: session.mode,
  subscriptionId: session.subscription,
  customerId: session.customer,
  /** The `rolepass_membership_id` metadata rolepass wrote on the session, if any. */
  membershipId: session.metadata?.[ROLEPASS_METADATA.membershipId] ?? null,
}));

/** What became of a Checkout session, and whose it is. */
export type CheckoutSessionState = z.infer<typeof stripeCheckoutSessionState>;
