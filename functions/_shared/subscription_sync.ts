/**
 * The single "re-read Stripe and overwrite" path for memberships.
 *
 * Stripe is the truth (DESIGN.md invariant 1): whatever event arrives, in whatever order, the
 * customer's subscriptions are listed from Stripe while a per-customer lock is held, and the
 * membership is overwritten from that list inside the same transaction. The last state applied is
 * therefore the last state fetched, and a late or repeated event can only re-apply the truth.
 *
 * Used by the stripe-webhook function (inside its event transaction), and usable as is by the
 * checkout success page and a reconcile task through {@link syncSubscription}.
 */
import type postgres from "postgres";
import type Stripe from "stripe";
import {
  decideEntitlement,
  type EntitlementDecision,
  pickDrivingSubscription,
  type RecordedRevocation,
  type Revocation,
  revocationInForce,
} from "../_core/entitlement.ts";
import {
  cancellationIdempotencyKey,
  decideReversal,
  type ReversalDecision,
  type ReversalPolicy,
  type ReversalStage,
} from "../_core/refund_dispute_policy.ts";
import {
  ROLEPASS_METADATA,
  stripeSubscription,
  type SubscriptionSnapshot,
} from "../_core/stripe_shapes.ts";
import type { Sql } from "./db.ts";
import type { Logger } from "./log.ts";

/** A transaction of the postgres.js client. */
// deno-lint-ignore ban-types
export type Transaction = postgres.TransactionSql<{}>;

/** What a sync needs. */
export interface SyncDeps {
  sql: Sql;
  stripe: Stripe;
  /** The clock the entitlement rules read (grace periods, scheduled cancels). */
  now: () => Date;
  logger: Logger;
}

/** What caused a sync; copied into the membership and from there into its history. */
export interface SyncCause {
  /** E.g. the Stripe event type, 'refund', 'dispute', 'checkout_success', 'reconcile'. */
  cause: string;
  /** The Stripe event that caused it, if any. */
  eventId: string | null;
}

/**
 * A refunded charge or a dispute, as re-read from Stripe, for the guild's policy to decide on
 * before the membership is recomputed.
 */
export interface PendingReversal {
  stage: ReversalStage;
  /** The subscription the charge paid for; null for a charge of no subscription invoice. */
  subscriptionId: string | null;
  /** The charge refunded, or the dispute. */
  stripeObjectId: string;
  chargeId: string;
  /** The end of the period the charge paid for, when its invoice says. */
  coversPeriodEnd: Date | null;
  /** Refunded or disputed so far, in the currency's smallest unit. */
  amount: number;
  currency: string;
  eventId: string;
}

/** What a sync did. */
export type SyncOutcome =
  | {
    result: "applied";
    membershipId: string;
    subscriptionId: string;
    /** false when the membership already matched Stripe (nothing was written). */
    changed: boolean;
    entitled: boolean;
    /** Set when a refund or dispute was recorded by this sync. */
    revoked: Revocation | null;
    /** What the guild's policy decided about the refund or dispute behind this sync. */
    reversal: ReversalDecision | null;
  }
  | { result: "no_subscription"; membershipId: string }
  | { result: "not_rolepass"; customerId: string };

/** Which customer's (or subscription's) membership to sync. */
export type SyncTarget = { customerId: string } | { subscriptionId: string };

/**
 * Re-reads Stripe and overwrites the membership of `target`'s customer, in a transaction of its
 * own. For callers outside the webhook (the checkout success page, a reconcile task).
 */
export async function syncSubscription(
  deps: SyncDeps,
  target: SyncTarget,
  cause: SyncCause,
): Promise<SyncOutcome> {
  const customerId = "customerId" in target
    ? target.customerId
    : stripeSubscription.parse(await deps.stripe.subscriptions.retrieve(target.subscriptionId))
      .customerId;
  return await deps.sql.begin(async (tx) => {
    await lockCustomer(tx, customerId);
    return await syncCustomerLocked(tx, deps, customerId, cause);
  }) as SyncOutcome;
}

/**
 * Serialises every write about one Stripe customer: a transaction-scoped advisory lock on the
 * customer id's hash, released at commit or rollback (also when the connection drops).
 */
export async function lockCustomer(tx: Transaction, customerId: string): Promise<void> {
  await tx`select ${customerLock(tx, customerId)}`;
}

/**
 * The {@link lockCustomer} call as a fragment, for a statement that takes the lock and does its
 * first write in one round trip (the webhook's event insert). Put it in a FROM subquery that the
 * statement reads from, so the lock is held before the rest of the statement runs.
 */
export function customerLock(
  tx: Transaction,
  customerId: string,
): postgres.PendingQuery<postgres.Row[]> {
  return tx`pg_advisory_xact_lock(hashtextextended(${"stripe_customer:" + customerId}, 0))`;
}

interface MembershipRow {
  id: string;
  guild_id: string;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  plan_id: string | null;
  status: string | null;
  current_period_end: Date | null;
  cancel_at: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  entitled: boolean;
  entitled_role_id: string | null;
  entitled_until: Date | null;
  revoked_reason: string | null;
  past_due_grace_ms: number;
  refund_policy: ReversalPolicy;
  dispute_policy: ReversalPolicy;
  /** The guild's plans. */
  plans: { id: string; stripe_price_id: string; discord_role_id: string }[];
  /** Refunds and disputes in force against the listed subscriptions. */
  revocations: RevocationRow[];
}

interface RevocationRow {
  stripe_subscription_id: string;
  reason: Revocation;
  stripe_object_id: string;
  /** ISO time (read through jsonb). */
  covers_period_end: string | null;
}

/**
 * The sync itself, inside a transaction that already holds {@link lockCustomer} for `customerId`.
 * Lists the customer's subscriptions from Stripe, finds the membership (by customer, else by the
 * rolepass metadata on a subscription), applies the guild's policy to `reversal` (a refund or
 * dispute: records or lifts a revocation, cancels the subscription on Stripe), picks the
 * subscription that drives the membership and overwrites the membership when it differs. The
 * triggers write the history and queue role jobs.
 */
export async function syncCustomerLocked(
  tx: Transaction,
  deps: SyncDeps,
  customerId: string,
  cause: SyncCause,
  reversal: PendingReversal | null = null,
): Promise<SyncOutcome> {
  const listed = await deps.stripe.subscriptions.list({
    customer: customerId,
    status: "all",
    limit: 100,
  });
  let subscriptions = listed.data.map((subscription) => stripeSubscription.parse(subscription));

  const membership = await findMembership(tx, customerId, subscriptions);
  if (!membership) return { result: "not_rolepass", customerId };

  let revoked: Revocation | null = null;
  let decision: ReversalDecision | null = null;
  let revocationRows = membership.revocations;
  const reversed = reversal?.subscriptionId
    ? subscriptions.find((s) => s.id === reversal.subscriptionId)
    : undefined;
  if (reversal && reversed) {
    decision = decideReversal(reversal.stage, {
      refund: membership.refund_policy,
      dispute: membership.dispute_policy,
    });
    let canceled = false;
    if (decision.cancelSubscription && !ENDED_STATUSES.has(reversed.status)) {
      const cancelled = await deps.stripe.subscriptions.cancel(reversed.id, {}, {
        idempotencyKey: cancellationIdempotencyKey(reversal.stripeObjectId),
      });
      const snapshot = stripeSubscription.parse(cancelled);
      subscriptions = subscriptions.map((s) => s.id === snapshot.id ? snapshot : s);
      canceled = true;
    }
    revocationRows = await applyReversal(
      tx,
      membership,
      subscriptions.map((s) => s.id),
      reversed.id,
      reversal,
      decision,
    );
    await recordReversalOutcome(tx, membership, reversed.id, reversal, decision, canceled);
    if (decision.revoke) revoked = reversal.stage.startsWith("dispute") ? "dispute" : "refund";
  }
  const revocations = new Map<string, RecordedRevocation[]>();
  for (const row of revocationRows) {
    const recorded = revocations.get(row.stripe_subscription_id) ?? [];
    recorded.push({
      reason: row.reason,
      coversPeriodEnd: row.covers_period_end ? new Date(row.covers_period_end) : null,
    });
    revocations.set(row.stripe_subscription_id, recorded);
  }
  const planByPrice = new Map(membership.plans.map((plan) => [plan.stripe_price_id, plan]));

  const now = deps.now();
  const policy = { pastDueGraceMs: membership.past_due_grace_ms };
  const candidates = subscriptions.flatMap((subscription) => {
    const plan = subscription.priceIds.map((price) => planByPrice.get(price)).find(Boolean);
    if (!plan) return [];
    const revokedFor = revocationInForce(subscription, revocations.get(subscription.id) ?? []);
    const decision = decideEntitlement(subscription, policy, now, revokedFor);
    return [{
      id: subscription.id,
      createdAt: subscription.createdAt,
      decision,
      subscription,
      plan,
      revokedFor,
    }];
  });
  const driving = pickDrivingSubscription(candidates);
  if (!driving) {
    deps.logger.warn("No subscription of this customer sells a plan of the guild", {
      customer_id: customerId,
      membership_id: membership.id,
    });
    return { result: "no_subscription", membershipId: membership.id };
  }

  const next = membershipState(
    driving.subscription,
    driving.decision,
    driving.plan,
    driving.revokedFor,
  );
  const changed = await writeMembership(tx, membership, customerId, next, cause);
  return {
    result: "applied",
    membershipId: membership.id,
    subscriptionId: driving.id,
    changed,
    entitled: next.entitled,
    revoked,
    reversal: decision,
  };
}

/** Statuses Stripe cannot cancel again (it answers that the subscription does not exist). */
const ENDED_STATUSES: ReadonlySet<string> = new Set(["canceled", "incomplete_expired"]);

/**
 * Records the revocation `decision` asks for, or lifts the one a won dispute recorded, and
 * returns the revocations in force for `subscriptionIds` afterwards. Keyed by the charge or
 * dispute, so the same decision taken twice writes nothing new.
 */
async function applyReversal(
  tx: Transaction,
  membership: MembershipRow,
  subscriptionIds: string[],
  subscriptionId: string,
  reversal: PendingReversal,
  decision: ReversalDecision,
): Promise<RevocationRow[]> {
  const reason: Revocation = reversal.stage.startsWith("dispute") ? "dispute" : "refund";
  if (decision.lift) {
    await tx`
      update public.stripe_subscription_revocations
      set status = 'lifted', lifted_at = now(), lifted_event_id = ${reversal.eventId}
      where reason = ${reason} and stripe_object_id = ${reversal.stripeObjectId}
        and status = 'in_force'`;
  } else if (decision.revoke) {
    await tx`
      insert into public.stripe_subscription_revocations (stripe_subscription_id, membership_id,
        reason, stripe_object_id, stripe_event_id, covers_period_end)
      values (${subscriptionId}, ${membership.id}, ${reason}, ${reversal.stripeObjectId},
        ${reversal.eventId}, ${reversal.coversPeriodEnd})
      on conflict (reason, stripe_object_id) do nothing`;
  } else {
    return membership.revocations;
  }
  return await tx<RevocationRow[]>`
    select stripe_subscription_id, reason, stripe_object_id,
      to_jsonb(covers_period_end) #>> '{}' as covers_period_end
    from public.stripe_subscription_revocations
    where stripe_subscription_id = any(${subscriptionIds}) and status = 'in_force'`;
}

/**
 * Keeps what the policy did about a refunded charge or a dispute, once per stage; a second
 * partial refund of the same charge raises the amount.
 */
async function recordReversalOutcome(
  tx: Transaction,
  membership: MembershipRow,
  subscriptionId: string,
  reversal: PendingReversal,
  decision: ReversalDecision,
  canceled: boolean,
): Promise<void> {
  await tx`
    insert into public.refund_dispute_outcomes as o (stripe_object_id, stage, membership_id,
      guild_id, stripe_subscription_id, stripe_charge_id, policy, role_effect,
      subscription_canceled, amount, currency, stripe_event_id)
    values (${reversal.stripeObjectId}, ${decision.stage}, ${membership.id},
      ${membership.guild_id}, ${subscriptionId}, ${reversal.chargeId}, ${decision.policy},
      ${decision.role}, ${canceled}, ${reversal.amount}, ${reversal.currency}, ${reversal.eventId})
    on conflict (stage, stripe_object_id) do update set amount = excluded.amount,
      subscription_canceled = o.subscription_canceled or excluded.subscription_canceled
    where excluded.amount > o.amount or (excluded.subscription_canceled and not o.subscription_canceled)`;
}

async function findMembership(
  tx: Transaction,
  customerId: string,
  subscriptions: SubscriptionSnapshot[],
): Promise<MembershipRow | null> {
  const subscriptionIds = subscriptions.map((s) => s.id);
  const [byCustomer] = await selectMemberships(
    tx,
    tx`m.stripe_customer_id = ${customerId}`,
    subscriptionIds,
  );
  if (byCustomer) return byCustomer;
  // The checkout function stores the customer before Checkout, so this only matters when that
  // write was lost; a membership already tied to another customer is never taken over.
  const ids = [
    ...new Set(subscriptions.map((s) => s.metadata[ROLEPASS_METADATA.membershipId]).filter(isUuid)),
  ];
  if (!ids.length) return null;
  const [byMetadata] = await selectMemberships(
    tx,
    tx`m.id = any(${ids}::uuid[]) and m.stripe_customer_id is null`,
    subscriptionIds,
  );
  return byMetadata ?? null;
}

/** The membership with its guild's policy, plans and recorded revocations, in one round trip. */
function selectMemberships(
  tx: Transaction,
  where: postgres.PendingQuery<postgres.Row[]>,
  subscriptionIds: string[],
) {
  return tx<MembershipRow[]>`
    select m.id, m.guild_id, m.stripe_customer_id, m.stripe_subscription_id, m.plan_id, m.status,
      m.current_period_end, m.cancel_at, m.cancel_at_period_end, m.past_due_since, m.entitled,
      m.entitled_role_id, m.entitled_until, m.revoked_reason,
      (extract(epoch from g.past_due_grace) * 1000)::float8 as past_due_grace_ms,
      g.refund_policy, g.dispute_policy,
      coalesce((
        select jsonb_agg(jsonb_build_object('id', p.id, 'stripe_price_id', p.stripe_price_id,
          'discord_role_id', p.discord_role_id))
        from public.plans p where p.guild_id = m.guild_id
      ), '[]'::jsonb) as plans,
      coalesce((
        select jsonb_agg(jsonb_build_object('stripe_subscription_id', r.stripe_subscription_id,
          'reason', r.reason, 'stripe_object_id', r.stripe_object_id,
          'covers_period_end', r.covers_period_end))
        from public.stripe_subscription_revocations r
        where r.stripe_subscription_id = any(${subscriptionIds}) and r.status = 'in_force'
      ), '[]'::jsonb) as revocations
    from public.memberships m
    join public.guilds g on g.id = m.guild_id
    where ${where}
    order by m.created_at, m.id
    limit 1
    for update of m`;
}

interface MembershipState {
  stripe_subscription_id: string;
  plan_id: string;
  status: string;
  current_period_end: Date | null;
  cancel_at: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  entitled: boolean;
  entitled_role_id: string | null;
  entitled_until: Date | null;
  revoked_reason: Revocation | null;
}

function membershipState(
  subscription: SubscriptionSnapshot,
  decision: EntitlementDecision,
  plan: { id: string; discord_role_id: string },
  revokedFor: Revocation | null,
): MembershipState {
  return {
    stripe_subscription_id: subscription.id,
    plan_id: plan.id,
    status: subscription.status,
    current_period_end: subscription.currentPeriodEnd,
    cancel_at: decision.scheduledCancelAt,
    cancel_at_period_end: subscription.cancelAtPeriodEnd,
    past_due_since: decision.pastDueSince,
    entitled: decision.entitled,
    entitled_role_id: decision.entitled ? plan.discord_role_id : null,
    entitled_until: decision.entitledUntil,
    revoked_reason: revokedFor,
  };
}

const STATE_KEYS = [
  "stripe_subscription_id",
  "plan_id",
  "status",
  "current_period_end",
  "cancel_at",
  "cancel_at_period_end",
  "past_due_since",
  "entitled",
  "entitled_role_id",
  "entitled_until",
  "revoked_reason",
] as const;

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  }
  return a === b;
}

/**
 * Writes `next` when it differs from what the membership holds, so a repeated or stale event
 * writes no history row and queues no role job.
 */
async function writeMembership(
  tx: Transaction,
  current: MembershipRow,
  customerId: string,
  next: MembershipState,
  cause: SyncCause,
): Promise<boolean> {
  const unchanged = current.stripe_customer_id === customerId &&
    STATE_KEYS.every((key) => sameValue(current[key], next[key]));
  if (unchanged) return false;
  await tx`
    update public.memberships set
      stripe_customer_id = ${customerId},
      ${tx(next, ...STATE_KEYS)},
      change_cause = ${cause.cause},
      change_event_id = ${cause.eventId},
      stripe_synced_at = now()
    where id = ${current.id}`;
  return true;
}

function isUuid(value: string | undefined): value is string {
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
