/**
 * What decides whether a member has the role: the subscription as Stripe reports it, the guild's
 * policy, and the refunds or disputes recorded against that subscription. Pure: no I/O, the clock
 * is a parameter.
 *
 * Which status can entitle at all is decided in `subscription_state.ts` (`STATUS_MEANINGS`):
 * - `active` and `trialing` entitle. What an entitling subscription gives is a set of roles: its
 *   plan's paid roles, or while trialing the plan's trial roles ({@link rolesGrantedBy}); a member
 *   holds the union of what their subscriptions and comps give ({@link rolesHeldNow}).
 * - `past_due` (a renewal failed and Stripe is retrying) entitles only inside the guild's grace
 *   period, measured from the start of the unpaid period. The default grace is 0: the role goes as
 *   soon as a renewal fails. To follow Stripe's own retry schedule instead, set the grace to cover
 *   the retry window configured in Billing settings (Smart Retries' recommended default is 8 tries
 *   within 2 weeks, so `past_due_grace = '14 days'`): the member keeps the role while Stripe
 *   retries, and the end of dunning (`canceled` or `unpaid`) revokes it.
 * - `incomplete` never entitles (the first payment has not succeeded).
 * - `canceled`, `unpaid`, `incomplete_expired` and `paused` revoke.
 * - A scheduled cancel (`cancel_at`, or `cancel_at_period_end` in classic billing mode) keeps the
 *   role until it takes effect; `entitledUntil` says when, so the sweep revokes it on time even if
 *   Stripe's `customer.subscription.deleted` is late.
 * - A full refund or a dispute revokes at once when the guild's policy says so
 *   (`refund_dispute_policy.ts`); the caller records it and passes the one still in force
 *   ({@link revocationInForce}) as `revokedFor`.
 * - A comp (a plan's role an operator gave by hand, `role_comps`) holds its role until it expires,
 *   whatever the subscription does, beside the paid roles ({@link rolesHeldNow}).
 */
import type { ReversalStage } from "./refund_dispute_policy.ts";
import type { SubscriptionSnapshot, SubscriptionStatus } from "./stripe_shapes.ts";
import { meaningOf, STATUS_MEANINGS, subscriptionHasEnded } from "./subscription_state.ts";

/** The operator's settings that bear on entitlement (from `guilds`). */
export interface EntitlementPolicy {
  /** How long past_due keeps the role, in milliseconds; 0 revokes at once. */
  pastDueGraceMs: number;
}

/** Why a member does not have the role. */
export type NotEntitledReason =
  | "incomplete"
  | "incomplete_expired"
  | "canceled"
  | "unpaid"
  | "paused"
  | "past_due"
  | "grace_period_ended"
  | "scheduled_cancel_took_effect"
  | "refund"
  | "dispute";

/** Why the role was taken away regardless of the subscription's status. */
export type Revocation = "refund" | "dispute";

/** The revocation a refunded charge or a dispute records, by its stage. */
export function revocationOf(stage: ReversalStage): Revocation {
  return stage.startsWith("dispute") ? "dispute" : "refund";
}

/** A refund or dispute recorded against a subscription, and the period it took the role for. */
export interface RecordedRevocation {
  reason: Revocation;
  /**
   * The end of the period the refunded or disputed charge paid for; null when it is not known
   * (revocations recorded before periods were kept), which revokes for the subscription's life.
   */
  coversPeriodEnd: Date | null;
}

/**
 * The revocation that still takes the role from `subscription`, if any. A revocation takes the
 * role for the period its charge paid for: once Stripe reports a later period the member is back
 * under the ordinary rules, so a renewal that was paid gives the role back and one that failed
 * is judged like any failed renewal. A dispute counts before a refund, as the graver reason.
 */
export function revocationInForce(
  subscription: Pick<SubscriptionSnapshot, "currentPeriodEnd">,
  recorded: readonly RecordedRevocation[],
): Revocation | null {
  const periodEnd = subscription.currentPeriodEnd?.getTime();
  const inForce = recorded.filter((revocation) =>
    revocation.coversPeriodEnd === null || periodEnd === undefined ||
    periodEnd <= revocation.coversPeriodEnd.getTime()
  );
  if (inForce.some((revocation) => revocation.reason === "dispute")) return "dispute";
  return inForce.length ? "refund" : null;
}

/** The subscription facts the rules read. */
export type EntitlementInput = Pick<
  SubscriptionSnapshot,
  "status" | "cancelAt" | "cancelAtPeriodEnd" | "currentPeriodStart" | "currentPeriodEnd"
>;

/** The decision for one subscription at one moment. */
export interface EntitlementDecision {
  entitled: boolean;
  /** When a time-limited entitlement runs out without another event (grace end, scheduled cancel). */
  entitledUntil: Date | null;
  /** When the unpaid period began, while the subscription is past_due. */
  pastDueSince: Date | null;
  /** When a scheduled cancel takes effect, so the member can be told. */
  scheduledCancelAt: Date | null;
  /** Set when not entitled. */
  reason: NotEntitledReason | null;
}

/** When a scheduled cancel takes effect, in either billing mode; null when none is scheduled. */
export function scheduledCancelAt(subscription: EntitlementInput): Date | null {
  if (subscription.cancelAt) return subscription.cancelAt;
  if (subscription.cancelAtPeriodEnd) return subscription.currentPeriodEnd;
  return null;
}

/**
 * Decides whether `subscription` entitles its member at `now` under `policy`.
 * @param revokedFor a refund or dispute recorded against this subscription, if any.
 */
export function decideEntitlement(
  subscription: EntitlementInput,
  policy: EntitlementPolicy,
  now: Date,
  revokedFor: Revocation | null = null,
): EntitlementDecision {
  const cancelAt = scheduledCancelAt(subscription);
  const pastDueSince = subscription.status === "past_due"
    ? subscription.currentPeriodStart ?? now
    : null;
  const denied = (reason: NotEntitledReason): EntitlementDecision => ({
    entitled: false,
    entitledUntil: null,
    pastDueSince,
    scheduledCancelAt: cancelAt,
    reason,
  });

  if (revokedFor) return denied(revokedFor);
  if (STATUS_MEANINGS[subscription.status].entitles === "never") {
    return denied(subscription.status as NotEntitledReason);
  }

  let until: Date | null = cancelAt;
  if (pastDueSince) {
    if (policy.pastDueGraceMs <= 0) return denied("past_due");
    const graceEnd = new Date(pastDueSince.getTime() + policy.pastDueGraceMs);
    if (graceEnd.getTime() <= now.getTime()) return denied("grace_period_ended");
    until = until && until.getTime() < graceEnd.getTime() ? until : graceEnd;
  }
  if (cancelAt && cancelAt.getTime() <= now.getTime()) {
    return denied("scheduled_cancel_took_effect");
  }

  return {
    entitled: true,
    entitledUntil: until,
    pastDueSince,
    scheduledCancelAt: cancelAt,
    reason: null,
  };
}

/** The roles a plan grants, as the plans file declares them. */
export interface PlanRoles {
  /** Granted while the subscription entitles and is not trialing; never empty. */
  paidRoleIds: readonly string[];
  /**
   * Granted while it is trialing: null grants the paid roles, an empty list grants none until the
   * first payment, and any other list grants those roles instead of the paid ones.
   */
  trialRoleIds: readonly string[] | null;
}

/**
 * The roles one subscription gives from its plan: none unless `decision` entitles; in the trial's
 * role set (`trialing`, `subscription_state.ts` roleSet), the plan's trial roles; otherwise its
 * paid roles.
 */
export function rolesGrantedBy(
  decision: Pick<EntitlementDecision, "entitled">,
  status: SubscriptionStatus,
  plan: PlanRoles,
): string[] {
  if (!decision.entitled) return [];
  const roles = meaningOf(status).roleSet === "trial" && plan.trialRoleIds !== null
    ? plan.trialRoleIds
    : plan.paidRoleIds;
  return [...new Set(roles)];
}

/**
 * The set of roles a member's subscriptions give together: each role once, in the order given
 * (the driving subscription's first, so its first role is the one messages name). Two plans that
 * share a role keep it while either still gives it.
 */
export function unionOfRoles(grants: readonly (readonly string[])[]): string[] {
  return [...new Set(grants.flat())];
}

/** What a membership stores of its roles: whether it holds any, which, and until when. */
export interface MembershipRoles {
  /** The subscription entitles and gives at least one role. */
  entitled: boolean;
  roleIds: string[];
  entitledUntil: Date | null;
}

/**
 * What a membership holds from `decision` and the roles its subscriptions give: a subscription
 * that entitles but gives no role (a trial that gives none until the first payment) holds nothing.
 */
export function membershipRolesOf(
  decision: Pick<EntitlementDecision, "entitled" | "entitledUntil">,
  roleIds: readonly string[],
): MembershipRoles {
  const entitled = decision.entitled && roleIds.length > 0;
  return {
    entitled,
    roleIds: entitled ? [...new Set(roleIds)] : [],
    entitledUntil: entitled ? decision.entitledUntil : null,
  };
}

/**
 * "Who has the role now?": the roles a stored membership says its member holds. Only an
 * entitled membership holds any; the roles it names after entitlement ends are history.
 */
export function paidRolesHeldNow(
  membership: { entitled: boolean; entitledRoleIds: readonly string[] },
): string[] {
  return membership.entitled ? [...new Set(membership.entitledRoleIds)] : [];
}

/** A plan's role an operator gave a member by hand, free: never a paid membership. */
export interface RoleComp {
  roleId: string;
  /** When the comp ends; null: until the operator revokes it. */
  expiresAt: Date | null;
}

/** The roles a member holds now, and why. */
export interface RolesHeld {
  /** Every role the member should hold: the paid ones, then each comp's in force. */
  roleIds: string[];
  /** The roles held through the membership (paid, or a trial's). */
  paidRoleIds: string[];
  /** Roles of comps still in force: never taken away, even when other roles are held. */
  compedRoleIds: string[];
  /** The role messages name: the first paid role, else the longest-lasting comp's. */
  roleId: string | null;
  source: "paid" | "comp" | null;
}

/**
 * "Who has the role now?", comps included: the membership's roles while it is entitled, and the
 * role of every comp in force. A comp whose `expiresAt` has passed holds nothing, even before the
 * sweep deletes it.
 * @param membership the stored membership (its roles decided by {@link rolesGrantedBy})
 * @param comps the member's comps in this guild
 * @param now the clock the comps' expiry is read against
 */
export function rolesHeldNow(
  membership: { entitled: boolean; entitledRoleIds: readonly string[] },
  comps: readonly RoleComp[],
  now: Date,
): RolesHeld {
  const inForce = comps
    .filter((comp) => comp.expiresAt === null || comp.expiresAt.getTime() > now.getTime())
    .sort((a, b) => (b.expiresAt?.getTime() ?? Infinity) - (a.expiresAt?.getTime() ?? Infinity));
  const compedRoleIds = [...new Set(inForce.map((comp) => comp.roleId))].sort();
  const paidRoleIds = paidRolesHeldNow(membership);
  const roleIds = unionOfRoles([paidRoleIds, inForce.map((comp) => comp.roleId)]);
  const [paid] = paidRoleIds;
  if (paid) return { roleIds, paidRoleIds, compedRoleIds, roleId: paid, source: "paid" };
  const [comp] = inForce;
  return comp
    ? { roleIds, paidRoleIds, compedRoleIds, roleId: comp.roleId, source: "comp" }
    : { roleIds, paidRoleIds, compedRoleIds, roleId: null, source: null };
}

/** Why a member's role ended early, as the member is told: a refund, a dispute, or non-payment. */
export type RoleEndReason = Revocation | "payment_failed";

/**
 * Why Stripe ended a subscription, as the sync stores it on the membership
 * (`memberships.ended_for`, whose check lists the same words): the member or an operator asked
 * (`requested`), the renewal's retries ran out (`payment_failed`), or a dispute (`dispute`).
 */
export const SUBSCRIPTION_ENDED_FOR = ["requested", "payment_failed", "dispute"] as const;

/** One of {@link SUBSCRIPTION_ENDED_FOR}. */
export type SubscriptionEndedFor = (typeof SUBSCRIPTION_ENDED_FOR)[number];

/** Stripe's `cancellation_details.reason` values and what each says the subscription ended for. */
const ENDED_FOR_BY_STRIPE_REASON: ReadonlyMap<string, SubscriptionEndedFor> = new Map([
  ["cancellation_requested", "requested"],
  ["payment_failed", "payment_failed"],
  ["payment_disputed", "dispute"],
]);

/**
 * Why `subscription` ended, from Stripe's own word (`cancellation_details.reason`), not from the
 * status it ended from: a member who cancels while a renewal is past due asked for the end. Null
 * while it has not ended (a scheduled cancel already carries `cancellation_requested`), and when
 * Stripe gives no reason or one this code does not know (a trial that ended without a card, an
 * `incomplete` subscription that expired): such an end is told as an ordinary one.
 */
export function subscriptionEndedFor(
  subscription: { status: string | null; cancellationReason: string | null },
): SubscriptionEndedFor | null {
  if (!subscriptionHasEnded(subscription.status)) return null;
  return ENDED_FOR_BY_STRIPE_REASON.get(subscription.cancellationReason ?? "") ?? null;
}

/**
 * Why a stored membership's role ended early: the refund or dispute recorded against it; else why
 * Stripe ended its subscription as the sync stored it (`endedFor`: retries that ran out are
 * non-payment, a dispute is told as one, a cancel the member asked for is an ordinary end, even
 * while a renewal was past due); else a renewal left unpaid (the status says a payment failed, or
 * the sweep ended the grace period). Null when it ended in the ordinary way or has not ended.
 */
export function roleEndReason(
  membership: {
    revokedReason: Revocation | null;
    endedFor: SubscriptionEndedFor | null;
    status: string | null;
    changeCause: string;
  },
): RoleEndReason | null {
  if (membership.revokedReason) return membership.revokedReason;
  // Stripe's words for non-payment and a dispute are the reasons the member is told.
  if (membership.endedFor === "requested") return null;
  if (membership.endedFor) return membership.endedFor;
  const graceEnded = "grace_period_ended" satisfies NotEntitledReason;
  return meaningOf(membership.status).standing === "failed" ||
      membership.changeCause === graceEnded
    ? "payment_failed"
    : null;
}

/** A subscription of the member's customer that could drive the membership. */
export interface CandidateSubscription {
  id: string;
  createdAt: Date;
  status: string;
  decision: EntitlementDecision;
}

/**
 * Picks the subscription that drives a membership when the customer has several over time:
 * an entitling one before any other, then one that has not ended (paused, past due, revoked by a
 * dispute: what the member is told about) before an ended one, then the most recently created,
 * then the larger id, so the choice never depends on the order Stripe lists them in. (Stripe's
 * `created` is in seconds: a subscription bought again right after a cancel can share it.)
 */
export function pickDrivingSubscription<T extends CandidateSubscription>(
  candidates: readonly T[],
): T | null {
  let best: T | null = null;
  for (const candidate of candidates) {
    if (!best || outranks(candidate, best)) best = candidate;
  }
  return best;
}

function outranks(a: CandidateSubscription, b: CandidateSubscription): boolean {
  if (a.decision.entitled !== b.decision.entitled) return a.decision.entitled;
  const aEnded = subscriptionHasEnded(a.status);
  if (aEnded !== subscriptionHasEnded(b.status)) return !aEnded;
  const byAge = a.createdAt.getTime() - b.createdAt.getTime();
  if (byAge !== 0) return byAge > 0;
  return a.id > b.id;
}
