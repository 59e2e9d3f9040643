/**
 * One-time passes: a plan backed by a one-time Stripe price grants its role for life or for a
 * fixed duration from the payment. Pure: no I/O, the clock is a parameter.
 *
 * - A pass counts from the moment Stripe reports it paid; buying the same plan again while a pass
 *   of it is live extends that pass (the new duration starts where the live one ends), so a member
 *   who renews early loses nothing.
 * - A pass whose charge was fully refunded or disputed counts no more when the guild's policy
 *   revokes (`refund_dispute_policy.ts`); a won dispute gives it back.
 * - A subscription that entitles comes first; a live pass holds the role when the subscription
 *   does not, or when the pass lasts longer than a subscription that is ending.
 */
import { z } from "zod";
import { ROLEPASS_METADATA } from "./stripe_shapes.ts";
import { disputeStage, type ReversalStage } from "./refund_dispute_policy.ts";

/** How long a pass lasts, as the plans file says it: `"lifetime"` or an ISO 8601 duration. */
export type PassAccess = { kind: "lifetime" } | { kind: "duration"; seconds: number; iso: string };

/** Longest fixed pass: ten years, so a typo such as "P36500D" is not a lifetime by accident. */
export const MAX_PASS_SECONDS = 3660 * 24 * 60 * 60;

/** Why a pass no longer counts, besides running out. */
export type PassStatus = "active" | "refunded" | "disputed";

/** A pass as stored (`rolepass.member_passes`). */
export interface StoredPass {
  planId: string;
  /** The roles of the pass's plan, the first named in messages. */
  roleIds: string[];
  status: PassStatus;
  /** Null: for life. */
  accessUntil: Date | null;
}

/**
 * When a pass bought at `paidAt` ends: never for a lifetime pass; else the duration after the
 * later of `paidAt` and the end of the member's live pass of the same plan (`extends`).
 */
export function passAccessUntil(
  access: PassAccess,
  paidAt: Date,
  extendsUntil: Date | null = null,
): Date | null {
  if (access.kind === "lifetime") return null;
  const start = Math.max(paidAt.getTime(), extendsUntil?.getTime() ?? 0);
  return new Date(start + access.seconds * 1000);
}

/** Whether a pass holds its role at `now`. */
export function passIsLive(pass: Pick<StoredPass, "status" | "accessUntil">, now: Date): boolean {
  return pass.status === "active" &&
    (pass.accessUntil === null || pass.accessUntil.getTime() > now.getTime());
}

/** The live pass that lasts longest (a lifetime pass before any other), or null. */
export function longestLivePass<T extends StoredPass>(passes: readonly T[], now: Date): T | null {
  let best: T | null = null;
  for (const pass of passes) {
    if (!passIsLive(pass, now)) continue;
    if (!best || lastsLonger(pass.accessUntil, best.accessUntil)) best = pass;
  }
  return best;
}

function lastsLonger(a: Date | null, b: Date | null): boolean {
  if (a === null) return b !== null;
  return b !== null && a.getTime() > b.getTime();
}

/** What a membership stores about its entitlement. */
export interface HeldEntitlement {
  entitled: boolean;
  /** The roles held; the first is the one messages name. */
  roleIds: string[];
  planId: string | null;
  /** When the entitlement runs out without another event; null while it renews or for life. */
  until: Date | null;
}

/**
 * The entitlement a membership holds with its passes: every live pass adds its plan's roles to
 * what the subscription gives (each role once, the subscription's first), and the entitlement
 * lasts until the last of them ends, or has no end while any of them renews or is for life. A
 * membership that only a pass entitles names that pass's plan (the longest-lasting one).
 * @returns the entitlement and whether passes alone hold it
 */
export function withPasses(
  subscription: HeldEntitlement,
  passes: readonly StoredPass[],
  now: Date,
): HeldEntitlement & { byPassOnly: boolean } {
  const live = passes.filter((pass) => passIsLive(pass, now));
  const longest = longestLivePass(live, now);
  if (!longest) return { ...subscription, byPassOnly: false };
  const ends = [
    ...(subscription.entitled ? [subscription.until] : []),
    ...live.map((pass) => pass.accessUntil),
  ];
  const until = ends.some((end) => end === null)
    ? null
    : new Date(Math.max(...ends.map((end) => end!.getTime())));
  return {
    entitled: true,
    roleIds: [
      ...new Set([
        ...(subscription.entitled ? subscription.roleIds : []),
        ...longest.roleIds,
        ...live.flatMap((pass) => pass.roleIds),
      ]),
    ],
    planId: subscription.entitled ? subscription.planId : longest.planId,
    until,
    byPassOnly: !subscription.entitled,
  };
}

/** The revocation a pass that no longer counts records, for `/subscribe` to tell. */
export function passRevocation(passes: readonly StoredPass[]): "refund" | "dispute" | null {
  if (passes.some((pass) => pass.status === "disputed")) return "dispute";
  return passes.some((pass) => pass.status === "refunded") ? "refund" : null;
}

const unix = z.number().int().transform((seconds) => new Date(seconds * 1000));
const idOf = z.union([z.string(), z.object({ id: z.string() }).transform((o) => o.id)]);

/**
 * A Checkout Session in payment mode as Stripe reports it when re-read, with its PaymentIntent's
 * latest charge and its line items expanded: the facts a pass is recorded from. Null for a session
 * that sells no pass yet (another mode, not complete, not paid).
 */
export const stripeCheckoutPayment = z.object({
  id: z.string().startsWith("cs_"),
  mode: z.string(),
  status: z.string().nullable(),
  payment_status: z.string(),
  customer: idOf.nullable(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  amount_total: z.number().int().nullable(),
  currency: z.string().nullable(),
  payment_intent: z.object({
    id: z.string(),
    latest_charge: z.union([
      z.string().transform((id) => ({ id, created: null, refunded: false, disputed: false })),
      z.object({
        id: z.string(),
        created: unix,
        refunded: z.boolean().optional(),
        disputed: z.boolean().optional(),
      }),
    ]).nullable(),
    created: unix,
  }).nullable(),
  line_items: z.object({
    data: z.array(z.object({ price: z.object({ id: z.string() }).nullable() })),
  }).optional(),
}).transform((session): PassPayment | null => {
  const intent = session.payment_intent;
  if (
    session.mode !== "payment" || session.status !== "complete" ||
    session.payment_status !== "paid" || !session.customer || !intent
  ) return null;
  return {
    sessionId: session.id,
    customerId: session.customer,
    membershipId: session.metadata?.[ROLEPASS_METADATA.membershipId] ?? null,
    paymentIntentId: intent.id,
    chargeId: intent.latest_charge?.id ?? null,
    priceIds: (session.line_items?.data ?? []).flatMap((item) => item.price ? [item.price.id] : []),
    amount: session.amount_total ?? 0,
    currency: (session.currency ?? "").toLowerCase(),
    paidAt: intent.latest_charge?.created ?? intent.created,
    chargeRefunded: intent.latest_charge?.refunded ?? false,
    chargeDisputed: intent.latest_charge?.disputed ?? false,
    disputeStatus: null,
  };
});

/** A paid pass as Stripe reports it. */
export interface PassPayment {
  sessionId: string;
  customerId: string;
  /** The membership id rolepass wrote on the session, if any. */
  membershipId: string | null;
  paymentIntentId: string;
  chargeId: string | null;
  priceIds: string[];
  /** What the member paid, after discounts and with tax. */
  amount: number;
  currency: string;
  paidAt: Date;
  /** Whether the charge was refunded in full, or disputed, by the time it was read. */
  chargeRefunded: boolean;
  chargeDisputed: boolean;
  /** The status of the charge's newest dispute, read when the charge is disputed. */
  disputeStatus: string | null;
}

/**
 * What already happened to a pass's charge when the pass is recorded (a refund or a dispute whose
 * event came before the pass's own): the stage the guild's policy decides on, or null.
 */
export function passPaymentReversal(payment: PassPayment): ReversalStage | null {
  if (payment.chargeDisputed && payment.disputeStatus) return disputeStage(payment.disputeStatus);
  return payment.chargeRefunded ? "full_refund" : null;
}
