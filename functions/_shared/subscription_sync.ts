/**
 * The single "re-read Stripe and overwrite" path for memberships.
 *
 * Stripe is the truth (DESIGN.md invariant 1): whatever event arrives, in whatever order, the
 * customer's subscriptions are listed from Stripe first, outside any transaction (no database
 * connection waits on Stripe), then applied in a short transaction under a per-customer lock, and
 * only when no read that started later was applied before it. The applied state is therefore from
 * the latest-started read, and a late or repeated event can only re-apply the truth.
 *
 * Used by the stripe-webhook function ({@link readCustomer}, {@link prepareReversal},
 * {@link applyCustomerRead} around its event transaction), and as one call by the checkout
 * success page and a reconcile task through {@link syncSubscription}.
 */
import type postgres from "postgres";
import {
  decideEntitlement,
  type EntitlementDecision,
  membershipRolesOf,
  pickDrivingSubscription,
  type RecordedRevocation,
  type Revocation,
  revocationInForce,
  revocationOf,
  rolesGrantedBy,
  unionOfRoles,
} from "../_core/entitlement.ts";
import { holdsLiveSubscription, subscriptionHasEnded } from "../_core/subscription_state.ts";
import { firstTrialStart } from "../_core/trial.ts";
import {
  cancellationIdempotencyKey,
  decideReversal,
  type ReversalDecision,
  type ReversalPolicy,
  type ReversalStage,
} from "../_core/refund_dispute_policy.ts";
import { ROLEPASS_METADATA, type SubscriptionSnapshot } from "../_core/stripe_shapes.ts";
import {
  foldPasses,
  passesOf,
  type PassRow,
  passRowsOf,
  reversePass,
  storedPasses,
} from "./one_time_passes.ts";
import { oneRow, type Sql } from "./db.ts";
import type { Logger } from "./log.ts";
import type { StripeGateway } from "./stripe_gateway.ts";

/** A transaction of the postgres.js client. */
// deno-lint-ignore ban-types
export type Transaction = postgres.TransactionSql<{}>;

/** What a sync needs. */
export interface SyncDeps {
  sql: Sql;
  stripe: StripeGateway;
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
 * Re-reads Stripe, then overwrites the membership of `target`'s customer in a short transaction
 * of its own. For callers outside the webhook (the checkout success page, a reconcile task).
 */
export async function syncSubscription(
  deps: SyncDeps,
  target: SyncTarget,
  cause: SyncCause,
): Promise<SyncOutcome> {
  const customerId = "customerId" in target
    ? target.customerId
    : (await deps.stripe.retrieveSubscription(target.subscriptionId))
      .customerId;
  const read = await readCustomer(deps, customerId);
  return await deps.sql.begin(async (tx) => {
    await lockCustomer(tx, customerId);
    return await applyCustomerRead(tx, deps, read, cause);
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

/**
 * A customer's subscriptions as Stripe listed them, read before any transaction so that no
 * database connection waits on Stripe.
 */
export interface CustomerRead {
  customerId: string;
  /**
   * When the read started, from rolepass.start_stripe_read: of two reads of one customer the
   * later-started one reflects every change the earlier one does, whichever finishes first.
   */
  readSeq: string;
  subscriptions: SubscriptionSnapshot[];
}

/**
 * Lists `customerId`'s subscriptions from Stripe. Bursts are coalesced: while a read of the
 * customer is in flight, callers share the one that starts after it, which starts after each of
 * them was called and so reflects what they were called about.
 */
export function readCustomer(deps: SyncDeps, customerId: string): Promise<CustomerRead> {
  let reads = readsInFlight.get(deps.stripe);
  if (!reads) {
    reads = new Map();
    readsInFlight.set(deps.stripe, reads);
  }
  const current = reads.get(customerId);
  if (!current) return startRead(reads, deps, customerId);
  current.next ??= current.running.then(ignore, ignore)
    .then(() => startRead(reads, deps, customerId));
  return current.next;
}

interface ReadInFlight {
  running: Promise<CustomerRead>;
  /** The read shared by everyone who asked while `running` was in flight. */
  next?: Promise<CustomerRead>;
}

/** Per Stripe gateway (one per app), the reads in flight by customer. */
const readsInFlight = new WeakMap<StripeGateway, Map<string, ReadInFlight>>();

function ignore(): void {}

function startRead(
  reads: Map<string, ReadInFlight>,
  deps: SyncDeps,
  customerId: string,
): Promise<CustomerRead> {
  const entry: ReadInFlight = { running: listSubscriptions(deps, customerId) };
  reads.set(customerId, entry);
  entry.running.then(ignore, ignore).then(() => {
    if (reads.get(customerId) === entry) reads.delete(customerId);
  });
  return entry.running;
}

async function listSubscriptions(deps: SyncDeps, customerId: string): Promise<CustomerRead> {
  const { read_seq } = oneRow(
    await deps.sql<{ read_seq: string }[]>`
    select rolepass.start_stripe_read() as read_seq`,
    "start_stripe_read's sequence",
  );
  return {
    customerId,
    readSeq: read_seq,
    subscriptions: await deps.stripe.listCustomerSubscriptions(customerId),
  };
}

/** A refund or dispute with what Stripe was already asked to do about it. */
export interface PreparedReversal {
  pending: PendingReversal;
  /** Whether the policy's cancellation was sent to Stripe for this reversal. */
  canceled: boolean;
}

/**
 * Applies the guild's policy to `reversal` on Stripe's side, before any transaction: cancels the
 * subscription when the policy says so (with an idempotency key per charge or dispute, so a retry
 * cancels nothing twice) and returns `read` with the canceled subscription's new state.
 */
export async function prepareReversal(
  deps: SyncDeps,
  read: CustomerRead,
  reversal: PendingReversal | null,
): Promise<{ read: CustomerRead; reversal: PreparedReversal | null }> {
  if (!reversal) return { read, reversal: null };
  const reversed = reversal.subscriptionId
    ? read.subscriptions.find((s) => s.id === reversal.subscriptionId)
    : undefined;
  if (!reversed || subscriptionHasEnded(reversed.status)) {
    return { read, reversal: { pending: reversal, canceled: false } };
  }
  const [policy] = await deps.sql<
    { refund_policy: ReversalPolicy; dispute_policy: ReversalPolicy }[]
  >`
    select g.refund_policy, g.dispute_policy
    from rolepass.memberships m join rolepass.guilds g on g.id = m.guild_id
    where m.stripe_customer_id = ${read.customerId}
      or (m.stripe_customer_id is null and m.id = any(${
    membershipIdsIn(read.subscriptions)
  }::uuid[]))
    order by m.stripe_customer_id is null, m.created_at, m.id
    limit 1`;
  if (!policy) return { read, reversal: { pending: reversal, canceled: false } };
  const decision = decideReversal(reversal.stage, {
    refund: policy.refund_policy,
    dispute: policy.dispute_policy,
  });
  if (!decision.cancelSubscription) {
    return { read, reversal: { pending: reversal, canceled: false } };
  }
  const snapshot = await deps.stripe.cancelSubscription(
    reversed.id,
    cancellationIdempotencyKey(reversal.stripeObjectId),
  );
  return {
    read: {
      ...read,
      subscriptions: read.subscriptions.map((s) => s.id === snapshot.id ? snapshot : s),
    },
    reversal: { pending: reversal, canceled: true },
  };
}

/**
 * Thrown inside the apply transaction when a refund or dispute meets a read older than the one
 * applied: its policy must be decided on the newer state, so the caller rolls back and reads again.
 */
export class StaleReadError extends Error {
  constructor(customerId: string) {
    super(`A newer read of Stripe customer ${customerId} was applied first`);
    this.name = "StaleReadError";
  }
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
  entitled_role_ids: string[];
  entitled_until: Date | null;
  revoked_reason: string | null;
  subscription_live: boolean;
  /** When the member's first trial in the guild began (one trial per member per guild). */
  trial_started_at: Date | null;
  past_due_grace_ms: number;
  refund_policy: ReversalPolicy;
  dispute_policy: ReversalPolicy;
  /** The guild's plans. */
  plans: PlanRow[];
  /** Refunds and disputes in force against the listed subscriptions. */
  revocations: RevocationRow[];
  /** The member's one-time passes (one_time_passes.ts). */
  passes: PassRow[];
  /** false when a read of the customer that started later was applied already. */
  read_is_newest: boolean;
}

interface PlanRow {
  id: string;
  stripe_price_id: string;
  discord_role_ids: string[];
  /** Null: a trial gives the paid roles; empty: none until the first payment. */
  trial_role_ids: string[] | null;
}

interface RevocationRow {
  stripe_subscription_id: string;
  reason: Revocation;
  stripe_object_id: string;
  /** ISO time (read through jsonb). */
  covers_period_end: string | null;
}

/**
 * The apply, inside a transaction that already holds {@link lockCustomer} for the read's
 * customer. Finds the membership (by customer, else by the rolepass metadata on a subscription)
 * and, unless a read that started later was applied already, records the read as applied,
 * applies the guild's policy to `reversal` (records or lifts a revocation, keeps the outcome),
 * picks the subscription that drives the membership and overwrites the membership when it
 * differs. The triggers write the history and queue role jobs. A refund or dispute that meets a
 * newer applied read throws {@link StaleReadError}; anything else keeps the newer state.
 */
export async function applyCustomerRead(
  tx: Transaction,
  deps: SyncDeps,
  read: CustomerRead,
  cause: SyncCause,
  reversal: PreparedReversal | null = null,
): Promise<SyncOutcome> {
  const { customerId, subscriptions } = read;
  const membership = await findMembership(tx, read);
  if (!membership) return { result: "not_rolepass", customerId };
  if (!membership.read_is_newest) {
    if (reversal) throw new StaleReadError(customerId);
    return {
      result: "applied",
      membershipId: membership.id,
      subscriptionId: membership.stripe_subscription_id ?? "",
      changed: false,
      entitled: membership.entitled,
      revoked: null,
      reversal: null,
    };
  }

  let revoked: Revocation | null = null;
  let decision: ReversalDecision | null = null;
  let revocationRows = membership.revocations;
  const reversed = reversal?.pending.subscriptionId
    ? subscriptions.find((s) => s.id === reversal.pending.subscriptionId)
    : undefined;
  if (reversal && reversed) {
    decision = decideReversal(reversal.pending.stage, {
      refund: membership.refund_policy,
      dispute: membership.dispute_policy,
    });
    revocationRows = await applyReversal(
      tx,
      membership,
      subscriptions.map((s) => s.id),
      reversed.id,
      reversal.pending,
      decision,
    );
    await recordReversalOutcome(
      tx,
      membership,
      reversed.id,
      reversal.pending,
      decision,
      reversal.canceled,
    );
    if (decision.revoke) revoked = revocationOf(reversal.pending.stage);
  } else if (reversal && !reversal.pending.subscriptionId) {
    // A charge of no subscription may have paid a one-time pass (one_time_passes.ts).
    decision = await reversePass(tx, {
      refund: membership.refund_policy,
      dispute: membership.dispute_policy,
    }, reversal.pending);
    if (decision?.revoke) revoked = revocationOf(reversal.pending.stage);
  }
  const passes = decision && !reversed
    ? await passesOf(tx, membership.id)
    : storedPasses(membership.passes);
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
    const plans = subscription.priceIds.flatMap((price) => planByPrice.get(price) ?? []);
    const [plan] = plans;
    if (!plan) return [];
    const revokedFor = revocationInForce(subscription, revocations.get(subscription.id) ?? []);
    const decision = decideEntitlement(subscription, policy, now, revokedFor);
    const roleIds = unionOfRoles(plans.map((each) =>
      rolesGrantedBy(decision, subscription.status, {
        paidRoleIds: each.discord_role_ids,
        trialRoleIds: each.trial_role_ids,
      })
    ));
    return [{
      id: subscription.id,
      createdAt: subscription.createdAt,
      decision,
      subscription,
      plan,
      revokedFor,
      roleIds,
    }];
  });
  const driving = pickDrivingSubscription(candidates);
  if (!driving && passes.length) {
    const passOnly = passOnlyState(membership, passes, now);
    const changed = await writeMembership(tx, membership, customerId, passOnly, cause);
    return {
      result: "applied",
      membershipId: membership.id,
      subscriptionId: membership.stripe_subscription_id ?? "",
      changed,
      entitled: passOnly.entitled,
      revoked,
      reversal: decision,
    };
  }
  if (!driving) {
    deps.logger.warn("No subscription of this customer sells a plan of the guild", {
      customerId,
      membershipId: membership.id,
    });
    return { result: "no_subscription", membershipId: membership.id };
  }

  // Every entitling subscription gives its roles, the driving one's first: a member holding two
  // plans that share a role keeps it while either gives it.
  const roleIds = unionOfRoles([
    driving.roleIds,
    ...candidates.filter((candidate) => candidate !== driving).map((candidate) =>
      candidate.roleIds
    ),
  ]);
  const next = foldPasses(
    membershipState(
      driving.subscription,
      driving.decision,
      driving.plan,
      driving.revokedFor,
      roleIds,
    ),
    passes,
    now,
  );
  await recordTrialStart(tx, membership, subscriptions);
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
  const reason = revocationOf(reversal.stage);
  if (decision.lift) {
    await tx`
      update rolepass.stripe_subscription_revocations
      set status = 'lifted', lifted_at = now(), lifted_event_id = ${reversal.eventId}
      where reason = ${reason} and stripe_object_id = ${reversal.stripeObjectId}
        and status = 'in_force'`;
  } else if (decision.revoke) {
    await tx`
      insert into rolepass.stripe_subscription_revocations (stripe_subscription_id, membership_id,
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
    from rolepass.stripe_subscription_revocations
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
    insert into rolepass.refund_dispute_outcomes as o (stripe_object_id, stage, membership_id,
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
  read: CustomerRead,
): Promise<MembershipRow | null> {
  const [byCustomer] = await selectMemberships(
    tx,
    tx`m.stripe_customer_id = ${read.customerId}`,
    read,
  );
  if (byCustomer) return byCustomer;
  // The checkout function stores the customer before Checkout, so this only matters when that
  // write was lost; a membership already tied to another customer is never taken over.
  const ids = membershipIdsIn(read.subscriptions);
  if (!ids.length) return null;
  const [byMetadata] = await selectMemberships(
    tx,
    tx`m.id = any(${ids}::uuid[]) and m.stripe_customer_id is null`,
    read,
  );
  return byMetadata ?? null;
}

/** The membership ids rolepass wrote into the subscriptions' metadata at Checkout. */
function membershipIdsIn(subscriptions: SubscriptionSnapshot[]): string[] {
  return [
    ...new Set(subscriptions.map((s) => s.metadata[ROLEPASS_METADATA.membershipId]).filter(isUuid)),
  ];
}

/**
 * The membership with its guild's policy, plans and recorded revocations, locked, in one round
 * trip that also records `read` as the customer's applied read unless a later-started one was
 * applied (`read_is_newest`). Upserting the mark sees the latest committed row, and the customer's
 * lock orders every apply, so the comparison cannot miss a concurrent one.
 */
function selectMemberships(
  tx: Transaction,
  where: postgres.PendingQuery<postgres.Row[]>,
  read: CustomerRead,
) {
  const subscriptionIds = read.subscriptions.map((s) => s.id);
  return tx<MembershipRow[]>`
    with found as (
    select m.id, m.guild_id, m.stripe_customer_id, m.stripe_subscription_id, m.plan_id, m.status,
      m.current_period_end, m.cancel_at, m.cancel_at_period_end, m.past_due_since, m.entitled,
      m.entitled_role_ids::text[] as entitled_role_ids, m.entitled_until, m.revoked_reason,
      m.subscription_live, m.trial_started_at,
      (extract(epoch from g.past_due_grace) * 1000)::float8 as past_due_grace_ms,
      g.refund_policy, g.dispute_policy,
      coalesce((
        select jsonb_agg(jsonb_build_object('id', p.id, 'stripe_price_id', p.stripe_price_id,
          'discord_role_ids', p.discord_role_ids, 'trial_role_ids', p.trial_role_ids))
        from rolepass.plans p where p.guild_id = m.guild_id
      ), '[]'::jsonb) as plans,
      coalesce((
        select jsonb_agg(jsonb_build_object('stripe_subscription_id', r.stripe_subscription_id,
          'reason', r.reason, 'stripe_object_id', r.stripe_object_id,
          'covers_period_end', r.covers_period_end))
        from rolepass.stripe_subscription_revocations r
        where r.stripe_subscription_id = any(${subscriptionIds}) and r.status = 'in_force'
      ), '[]'::jsonb) as revocations,
      ${passRowsOf(tx)} as passes
    from rolepass.memberships m
    join rolepass.guilds g on g.id = m.guild_id
    where ${where}
    order by m.created_at, m.id
    limit 1
    for update of m
    ),
    applied as (
      insert into rolepass.stripe_customer_reads as r (stripe_customer_id, read_seq)
      select ${read.customerId}, ${read.readSeq}::bigint from found
      on conflict (stripe_customer_id) do update
        set read_seq = excluded.read_seq, applied_at = now()
      where r.read_seq <= excluded.read_seq
      returning read_seq
    )
    select found.*, exists (select from applied) as read_is_newest from found`;
}

interface MembershipState {
  /** Null only for a membership that one-time passes alone have entitled. */
  stripe_subscription_id: string | null;
  plan_id: string | null;
  status: string | null;
  current_period_end: Date | null;
  cancel_at: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  entitled: boolean;
  entitled_role_ids: string[];
  entitled_until: Date | null;
  revoked_reason: Revocation | null;
  subscription_live: boolean;
}

function membershipState(
  subscription: SubscriptionSnapshot,
  decision: EntitlementDecision,
  plan: { id: string },
  revokedFor: Revocation | null,
  roleIds: string[],
): MembershipState {
  const roles = membershipRolesOf(decision, roleIds);
  return {
    stripe_subscription_id: subscription.id,
    plan_id: plan.id,
    status: subscription.status,
    current_period_end: subscription.currentPeriodEnd,
    cancel_at: decision.scheduledCancelAt,
    cancel_at_period_end: subscription.cancelAtPeriodEnd,
    past_due_since: decision.pastDueSince,
    entitled: roles.entitled,
    entitled_role_ids: roles.roleIds,
    entitled_until: roles.entitledUntil,
    revoked_reason: revokedFor,
    subscription_live: holdsLiveSubscription({
      entitled: decision.entitled,
      stripeSubscriptionId: subscription.id,
      status: subscription.status,
    }),
  };
}

/**
 * The state of a membership that only one-time passes entitle (no subscription sells a plan of
 * the guild): the stored subscription facts stay, the entitlement is the passes'.
 */
function passOnlyState(
  membership: MembershipRow,
  passes: Awaited<ReturnType<typeof passesOf>>,
  now: Date,
): MembershipState {
  return foldPasses(
    {
      stripe_subscription_id: membership.stripe_subscription_id,
      plan_id: membership.plan_id,
      status: membership.status,
      current_period_end: membership.current_period_end,
      cancel_at: membership.cancel_at,
      cancel_at_period_end: membership.cancel_at_period_end,
      past_due_since: membership.past_due_since,
      entitled: false,
      entitled_role_ids: [],
      entitled_until: null,
      revoked_reason: null,
      subscription_live: false,
    },
    passes,
    now,
  );
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
  "entitled_role_ids",
  "entitled_until",
  "revoked_reason",
  "subscription_live",
] as const;

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((item, index) => item === b[index]);
  }
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
    update rolepass.memberships set
      stripe_customer_id = ${customerId},
      ${tx(next, ...STATE_KEYS)},
      change_cause = ${cause.cause},
      change_event_id = ${cause.eventId},
      stripe_synced_at = now()
    where id = ${current.id}`;
  return true;
}

/** Keeps when the member's first trial in the guild began, once Stripe reports one. */
async function recordTrialStart(
  tx: Transaction,
  membership: MembershipRow,
  subscriptions: readonly SubscriptionSnapshot[],
): Promise<void> {
  const first = firstTrialStart(membership.trial_started_at, subscriptions);
  if (first === null || first.getTime() === membership.trial_started_at?.getTime()) return;
  await tx`
    update rolepass.memberships set trial_started_at = ${first} where id = ${membership.id}`;
}

function isUuid(value: string | undefined): value is string {
  return typeof value === "string" &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
