/**
 * "Is this subscription live?": what each Stripe subscription status means to rolepass, decided
 * here once for every status Stripe documents. Pure: no I/O.
 *
 * Three questions are asked of a status, and they differ on purpose:
 * - **entitles**: whether it can give the role (`entitlement.ts` reads this; `past_due` only inside
 *   the guild's grace period).
 * - **live**: whether the member already holds a subscription to manage in the Customer Portal
 *   rather than buy again. `unpaid` and `paused` are live: Stripe can still charge or resume them,
 *   and a failed renewal is fixed in the portal, not by a second subscription. `incomplete` is not:
 *   its first payment never succeeded, so the member may start Checkout again.
 * - **ended**: whether Stripe is done with it for good (it can neither charge nor be cancelled
 *   again). An `incomplete` subscription has not ended: its first payment may still succeed, so a
 *   Checkout that started one blocks a second Checkout until it expires.
 *
 * Two more say what the member is told and given, and the sync stores them on the membership
 * ({@link storedStatusFacts}) so that the database reads them instead of naming statuses:
 * - **roleSet**: which of its plan's role sets an entitling subscription gives: the trial's while
 *   `trialing`, the paid ones otherwise (`entitlement.ts` rolesGrantedBy).
 * - **standing**: whether the member's payments are in good standing (`active`, `trialing`), a
 *   renewal failed and is still unpaid (`past_due`, `unpaid`), or neither. A change from failed
 *   to good is a recovered payment, which the member is told.
 */
import type { SubscriptionStatus } from "./stripe_shapes.ts";
import { SUBSCRIPTION_STATUSES } from "./stripe_shapes.ts";

/** How a status bears on the role. */
export type StatusEntitlement = "entitles" | "inside_grace_only" | "never";

/** Which of its plan's role sets a subscription gives while it entitles. */
export type PlanRoleSet = "paid" | "trial";

/**
 * Where the member's payments stand: paid up or in a trial, a renewal failed and is still unpaid
 * (Stripe retries, or gave up and left it unpaid), or neither (nothing to pay, or no subscription).
 */
export type PaymentStanding = "good" | "failed" | "none";

/** What one Stripe status means to rolepass. */
export interface StatusMeaning {
  entitles: StatusEntitlement;
  live: boolean;
  ended: boolean;
  roleSet: PlanRoleSet;
  standing: PaymentStanding;
}

/** Every Stripe subscription status and what it means; the compiler keeps it complete. */
export const STATUS_MEANINGS: Readonly<Record<SubscriptionStatus, StatusMeaning>> = {
  active: { entitles: "entitles", live: true, ended: false, roleSet: "paid", standing: "good" },
  trialing: { entitles: "entitles", live: true, ended: false, roleSet: "trial", standing: "good" },
  past_due: {
    entitles: "inside_grace_only",
    live: true,
    ended: false,
    roleSet: "paid",
    standing: "failed",
  },
  unpaid: { entitles: "never", live: true, ended: false, roleSet: "paid", standing: "failed" },
  paused: { entitles: "never", live: true, ended: false, roleSet: "paid", standing: "none" },
  incomplete: { entitles: "never", live: false, ended: false, roleSet: "paid", standing: "none" },
  incomplete_expired: {
    entitles: "never",
    live: false,
    ended: true,
    roleSet: "paid",
    standing: "none",
  },
  canceled: { entitles: "never", live: false, ended: true, roleSet: "paid", standing: "none" },
};

/** Whether `value` (a stored or fetched status) is a status Stripe documents. */
export function isSubscriptionStatus(value: string | null): value is SubscriptionStatus {
  return value !== null && (SUBSCRIPTION_STATUSES as readonly string[]).includes(value);
}

/**
 * What a status Stripe does not document (or none) means: it never entitles and is nothing to
 * manage, and it is not taken for ended, so it never lets a second Checkout start beside it.
 */
const UNKNOWN_STATUS: StatusMeaning = {
  entitles: "never",
  live: false,
  ended: false,
  roleSet: "paid",
  standing: "none",
};

/** What `status` means ({@link UNKNOWN_STATUS} for one Stripe does not document). */
export function meaningOf(status: string | null): StatusMeaning {
  return isSubscriptionStatus(status) ? STATUS_MEANINGS[status] : UNKNOWN_STATUS;
}

/** Whether a subscription in `status` is one the member manages rather than buys again. */
export function subscriptionIsLive(status: string | null): boolean {
  return meaningOf(status).live;
}

/**
 * Whether Stripe is done with a subscription in `status`: it cannot charge, and cancelling it
 * again is refused (Stripe answers that it does not exist).
 */
export function subscriptionHasEnded(status: string | null): boolean {
  return meaningOf(status).ended;
}

/** What a membership says about the member's subscription. */
export interface MembershipSubscription {
  entitled: boolean;
  stripeSubscriptionId: string | null;
  status: string | null;
}

/**
 * Whether the member holds a subscription that Checkout must not duplicate and /subscribe answers
 * with the manage link: entitled now, or a live subscription. The sync stores this as
 * `memberships.subscription_live`, which the database reads instead of deciding again.
 */
export function holdsLiveSubscription(membership: MembershipSubscription | null): boolean {
  if (!membership) return false;
  return membership.entitled ||
    (membership.stripeSubscriptionId !== null && subscriptionIsLive(membership.status));
}

/**
 * What a membership stores of its subscription's status, for the database to read instead of
 * naming statuses (`memberships.plan_role_set`, `memberships.payment_standing`): the plan role
 * swap and a pass's end pick the trial's roles by the role set, the trial-ending message goes to a
 * membership in its trial's role set, and the notices tell a recovered payment by the standing.
 * A membership with no subscription (comps, passes alone) stores what no status means.
 */
export interface StoredStatusFacts {
  planRoleSet: PlanRoleSet;
  paymentStanding: PaymentStanding;
}

/** The {@link StoredStatusFacts} of a membership whose subscription is in `status`. */
export function storedStatusFacts(status: string | null): StoredStatusFacts {
  const meaning = meaningOf(status);
  return { planRoleSet: meaning.roleSet, paymentStanding: meaning.standing };
}
