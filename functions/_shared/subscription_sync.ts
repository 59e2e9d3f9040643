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
  type Revocation,
} from "../_core/entitlement.ts";
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

/** A refund or dispute to record against a subscription before the membership is recomputed. */
export interface PendingRevocation {
  reason: Revocation;
  subscriptionId: string;
  /** The charge refunded or the dispute opened. */
  stripeObjectId: string;
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
  revoke_on_refund: boolean;
  revoke_on_dispute: boolean;
  /** The guild's plans. */
  plans: { id: string; stripe_price_id: string; discord_role_id: string }[];
  /** Refunds and disputes recorded against the listed subscriptions. */
  revocations: { stripe_subscription_id: string; reason: Revocation }[];
}

/**
 * The sync itself, inside a transaction that already holds {@link lockCustomer} for `customerId`.
 * Lists the customer's subscriptions from Stripe, finds the membership (by customer, else by the
 * rolepass metadata on a subscription), records `revocation` when the guild's policy asks for it,
 * picks the subscription that drives the membership and overwrites the membership when it
 * differs. The triggers write the history and queue role jobs.
 */
export async function syncCustomerLocked(
  tx: Transaction,
  deps: SyncDeps,
  customerId: string,
  cause: SyncCause,
  revocation: PendingRevocation | null = null,
): Promise<SyncOutcome> {
  const listed = await deps.stripe.subscriptions.list({
    customer: customerId,
    status: "all",
    limit: 100,
  });
  const subscriptions = listed.data.map((subscription) => stripeSubscription.parse(subscription));

  const membership = await findMembership(tx, customerId, subscriptions);
  if (!membership) return { result: "not_rolepass", customerId };

  let revoked: Revocation | null = null;
  const revocations = new Map(
    membership.revocations.map((row) => [row.stripe_subscription_id, row.reason]),
  );
  if (revocation && subscriptions.some((s) => s.id === revocation.subscriptionId)) {
    const allowed = revocation.reason === "refund"
      ? membership.revoke_on_refund
      : membership.revoke_on_dispute;
    if (allowed) {
      await tx`
        insert into public.stripe_subscription_revocations
          (stripe_subscription_id, membership_id, reason, stripe_object_id, stripe_event_id)
        values (${revocation.subscriptionId}, ${membership.id}, ${revocation.reason},
          ${revocation.stripeObjectId}, ${revocation.eventId})
        on conflict (stripe_subscription_id) do nothing`;
      if (!revocations.has(revocation.subscriptionId)) {
        revocations.set(revocation.subscriptionId, revocation.reason);
      }
      revoked = revocation.reason;
    }
  }
  const planByPrice = new Map(membership.plans.map((plan) => [plan.stripe_price_id, plan]));

  const now = deps.now();
  const policy = { pastDueGraceMs: membership.past_due_grace_ms };
  const candidates = subscriptions.flatMap((subscription) => {
    const plan = subscription.priceIds.map((price) => planByPrice.get(price)).find(Boolean);
    if (!plan) return [];
    const revokedFor = revocations.get(subscription.id) ?? null;
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
  };
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
      g.revoke_on_refund, g.revoke_on_dispute,
      coalesce((
        select jsonb_agg(jsonb_build_object('id', p.id, 'stripe_price_id', p.stripe_price_id,
          'discord_role_id', p.discord_role_id))
        from public.plans p where p.guild_id = m.guild_id
      ), '[]'::jsonb) as plans,
      coalesce((
        select jsonb_agg(jsonb_build_object('stripe_subscription_id', r.stripe_subscription_id,
          'reason', r.reason))
        from public.stripe_subscription_revocations r
        where r.stripe_subscription_id = any(${subscriptionIds})
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
