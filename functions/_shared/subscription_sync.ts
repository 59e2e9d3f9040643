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
import { z } from "zod";
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
  SUBSCRIPTION_ENDED_FOR,
  type SubscriptionEndedFor,
  subscriptionEndedFor,
  unionOfRoles,
} from "../_core/entitlement.ts";
import { type StripeMode, subscriptionsOfGuild } from "../_core/connect.ts";
import {
  holdsLiveSubscription,
  type PaymentStanding,
  type PlanRoleSet,
  storedStatusFacts,
  subscriptionHasEnded,
} from "../_core/subscription_state.ts";
import { firstTrialStart } from "../_core/trial.ts";
import {
  cancellationIdempotencyKey,
  decideReversal,
  type ReversalDecision,
  type ReversalPolicy,
  reversalPolicy,
  type ReversalStage,
} from "../_core/refund_dispute_policy.ts";
import { ROLEPASS_METADATA, type SubscriptionSnapshot } from "../_core/stripe_shapes.ts";
import { foldPasses, passesOf, reversePass, storedPasses } from "./one_time_passes.ts";
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
  /** Platform mode reads only the subscriptions paying the guild's account; standalone if absent. */
  stripeMode?: StripeMode;
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
  /** In platform mode, only those paying the account of the customer's guild. */
  subscriptions: SubscriptionSnapshot[];
}

/**
 * Lists `customerId`'s subscriptions from Stripe, as the read numbered `readSeq` (from
 * rolepass.start_stripe_read, taken here when not given). A number taken at any time after the
 * event that asks for the read arrived, and before the read is sent, will do: the applied read is
 * the one with the highest number, which was sent after that number was taken and so after every
 * event whose number is lower. Bursts are coalesced: while a read of the customer is in flight,
 * callers share the one that starts after it, which starts after each of them was called and so
 * reflects what they were called about; it carries the highest of their numbers.
 */
export function readCustomer(
  deps: SyncDeps,
  customerId: string,
  readSeq?: string,
): Promise<CustomerRead> {
  let reads = readsInFlight.get(deps.stripe);
  if (!reads) {
    reads = new Map();
    readsInFlight.set(deps.stripe, reads);
  }
  const current = reads.get(customerId);
  if (!current) return startRead(reads, deps, customerId, readSeq);
  const seq = readSeq ?? null;
  current.nextSeqs ??= [];
  current.nextSeqs.push(seq);
  current.next ??= current.running.then(ignore, ignore)
    .then(() => startRead(reads, deps, customerId, highestSeq(current.nextSeqs ?? [])));
  return current.next;
}

interface ReadInFlight {
  running: Promise<CustomerRead>;
  /** The read shared by everyone who asked while `running` was in flight. */
  next?: Promise<CustomerRead>;
  /** The start numbers those callers brought (null: one of them brought none). */
  nextSeqs?: (string | null)[];
}

/** The highest of `seqs`, or undefined (a fresh number) when any caller brought none. */
function highestSeq(seqs: readonly (string | null)[]): string | undefined {
  let highest: bigint | undefined;
  for (const seq of seqs) {
    if (seq === null) return undefined;
    if (highest === undefined || BigInt(seq) > highest) highest = BigInt(seq);
  }
  return highest?.toString();
}

/** Per Stripe gateway (one per app), the reads in flight by customer. */
const readsInFlight = new WeakMap<StripeGateway, Map<string, ReadInFlight>>();

function ignore(): void {}

function startRead(
  reads: Map<string, ReadInFlight>,
  deps: SyncDeps,
  customerId: string,
  readSeq: string | undefined,
): Promise<CustomerRead> {
  const entry: ReadInFlight = { running: listSubscriptions(deps, customerId, readSeq) };
  reads.set(customerId, entry);
  entry.running.then(ignore, ignore).then(() => {
    if (reads.get(customerId) === entry) reads.delete(customerId);
  });
  return entry.running;
}

async function listSubscriptions(
  deps: SyncDeps,
  customerId: string,
  readSeq: string | undefined,
): Promise<CustomerRead> {
  const seq = readSeq ?? oneRow(
    await deps.sql<{ read_seq: string }[]>`select rolepass.start_stripe_read() as read_seq`,
    "start_stripe_read's sequence",
  ).read_seq;
  const listed = await deps.stripe.listCustomerSubscriptions(customerId);
  const mode = deps.stripeMode ?? "standalone";
  return {
    customerId,
    readSeq: seq,
    subscriptions: mode === "standalone"
      ? listed
      : subscriptionsOfGuild(mode, await guildOfRead(deps.sql, customerId, listed), listed),
  };
}

/**
 * The guild (and its connected account) of the membership a read of `customerId` applies to,
 * found as the apply finds it (rolepass.stripe_sync_membership_id); null for no membership.
 */
async function guildOfRead(
  sql: Sql,
  customerId: string,
  subscriptions: SubscriptionSnapshot[],
): Promise<{ guildId: string; accountId: string | null } | null> {
  const [guild] = await sql<{ guild_id: string; stripe_account_id: string | null }[]>`
    select m.guild_id, a.stripe_account_id
    from rolepass.memberships m
    left join rolepass.guild_stripe_accounts a on a.guild_id = m.guild_id
    where m.id = rolepass.stripe_sync_membership_id(${customerId},
      ${membershipIdsIn(subscriptions)}::uuid[])`;
  return guild ? { guildId: guild.guild_id, accountId: guild.stripe_account_id } : null;
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
 * Thrown inside the apply transaction when a refund, a dispute or a pass recorded in the same
 * transaction meets a read older than the one applied: the newer apply never saw it, so keeping
 * the newer state would drop it. The caller rolls back and reads again.
 */
export class StaleReadError extends Error {
  constructor(customerId: string) {
    super(`A newer read of Stripe customer ${customerId} was applied first`);
    this.name = "StaleReadError";
  }
}

/** An ISO time as PostgreSQL writes a timestamptz into JSON. */
const isoTime = z.string().transform((text, context) => {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) {
    context.addIssue({ code: "custom", message: `not a time: ${text}` });
    return z.NEVER;
  }
  return time;
});

/**
 * What the membership decision reads (rolepass.stripe_sync_inputs): the membership, its guild's
 * policy and plans, the refunds and disputes in force against the listed subscriptions, and the
 * member's one-time passes (one_time_passes.ts).
 */
const membershipSyncInputs = z.object({
  id: z.string(),
  guild_id: z.string(),
  stripe_customer_id: z.string().nullable(),
  stripe_subscription_id: z.string().nullable(),
  plan_id: z.string().nullable(),
  status: z.string().nullable(),
  current_period_end: isoTime.nullable(),
  cancel_at: isoTime.nullable(),
  cancel_at_period_end: z.boolean(),
  past_due_since: isoTime.nullable(),
  entitled: z.boolean(),
  entitled_role_ids: z.array(z.string()),
  entitled_until: isoTime.nullable(),
  revoked_reason: z.string().nullable(),
  subscription_live: z.boolean(),
  plan_role_set: z.enum(["paid", "trial"]),
  payment_standing: z.enum(["good", "failed", "none"]),
  ended_for: z.enum(SUBSCRIPTION_ENDED_FOR).nullable(),
  /** When the member's first trial in the guild began (one trial per member per guild). */
  trial_started_at: isoTime.nullable(),
  past_due_grace_ms: z.number(),
  refund_policy: reversalPolicy,
  dispute_policy: reversalPolicy,
  /** The guild's plans; trial_role_ids null: a trial gives the paid roles, empty: none. */
  plans: z.array(z.object({
    id: z.string(),
    stripe_price_id: z.string(),
    discord_role_ids: z.array(z.string()),
    trial_role_ids: z.array(z.string()).nullable(),
  })),
  /** Refunds and disputes in force against the listed subscriptions. */
  revocations: z.array(z.object({
    stripe_subscription_id: z.string(),
    reason: z.enum(["refund", "dispute"]),
    stripe_object_id: z.string(),
    /** ISO time. */
    covers_period_end: z.string().nullable(),
  })),
  passes: z.array(z.object({
    plan_id: z.string(),
    role_ids: z.array(z.string()),
    status: z.enum(["active", "refunded", "disputed"]),
    /** ISO time; null for life. */
    access_until: z.string().nullable(),
  })),
});

type MembershipRow = z.infer<typeof membershipSyncInputs>;
type RevocationRow = MembershipRow["revocations"][number];

/** Parses the inputs the database sent; null when no membership is the customer's. */
function parseSyncInputs(inputs: unknown): MembershipRow | null {
  if (inputs === null) return null;
  const parsed = membershipSyncInputs.safeParse(inputs);
  if (!parsed.success) {
    throw new Error(
      `Cannot read the membership's sync inputs: ${parsed.error.issues[0]?.message} at ` +
        parsed.error.issues[0]?.path.join("."),
    );
  }
  return parsed.data;
}

/**
 * The apply, inside a transaction that already holds {@link lockCustomer} for the read's
 * customer. Finds the membership (by customer, else by the rolepass metadata on a subscription)
 * and, unless a read that started later was applied already, records the read as applied,
 * applies the guild's policy to `reversal` (records or lifts a revocation, keeps the outcome),
 * picks the subscription that drives the membership and overwrites the membership when it
 * differs. The triggers write the history and queue role jobs. A refund or dispute, or a
 * transaction that already changed the inputs (`changedInputs`: a pass recorded), that meets a
 * newer applied read throws {@link StaleReadError}; anything else keeps the newer state.
 * {@link applyCustomerReadForEvent} does the same in one statement when there is no reversal.
 */
export async function applyCustomerRead(
  tx: Transaction,
  deps: SyncDeps,
  read: CustomerRead,
  cause: SyncCause,
  reversal: PreparedReversal | null = null,
  changedInputs = false,
): Promise<SyncOutcome> {
  const { customerId, subscriptions } = read;
  const [started] = await tx<{ apply: { inputs: unknown; read_is_newest: boolean } }[]>`
    select rolepass.start_stripe_customer_apply(${customerId}, ${read.readSeq}::bigint,
      ${subscriptionIdsOf(read)}::text[], ${membershipIdsIn(subscriptions)}::uuid[]) as apply`;
  const membership = parseSyncInputs(started?.apply.inputs ?? null);
  if (!membership) return { result: "not_rolepass", customerId };
  if (!started?.apply.read_is_newest) {
    if (reversal || changedInputs) throw new StaleReadError(customerId);
    return unchangedOutcome(membership);
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
  const decided = decideMembership(membership, read, revocationRows, passes, deps.now());
  if (decided.kind === "no_subscription") {
    warnNoSubscription(deps, customerId, membership.id);
    return { result: "no_subscription", membershipId: membership.id };
  }
  const changed = await writeMembership(
    tx,
    membership,
    customerId,
    decided.next,
    decided.trialStartedAt,
    cause,
  );
  return {
    result: "applied",
    membershipId: membership.id,
    subscriptionId: decided.subscriptionId,
    changed,
    entitled: decided.next.entitled,
    revoked,
    reversal: decision,
  };
}

/** The event an apply claims (rolepass.stripe_events). */
export type ClaimedEvent = {
  id: string;
  type: string;
  api_version: string | null;
  livemode: boolean;
};

/**
 * Applies `read` for `event` without a reversal in one statement and one short transaction
 * (rolepass.apply_stripe_customer_read), so no connection waits on JavaScript inside a
 * transaction: the decision is taken here on inputs read beforehand, and the database writes it
 * under the customer's lock only if those inputs are still current (else it answers the current
 * ones and the decision is taken again). Claims the event with what it applies. Answers null
 * when the event was already done; a customer that is not rolepass's is left to the caller to
 * record (nothing is claimed). `earlier` are inputs read before (see {@link syncInputsOf}); else
 * they are read here first.
 */
export async function applyCustomerReadForEvent(
  deps: SyncDeps,
  read: CustomerRead,
  event: ClaimedEvent,
  cause: SyncCause,
  earlier: SyncInputsRead | null = null,
): Promise<SyncOutcome | null> {
  const { customerId, subscriptions } = read;
  const subscriptionIds = subscriptionIdsOf(read);
  const membershipIds = membershipIdsIn(subscriptions);
  const current = earlier ?? (await deps.sql<SyncInputsRead[]>`
    select inputs, md5(inputs::text) as inputs_md5
    from rolepass.stripe_sync_inputs(
      rolepass.stripe_sync_membership_id(${customerId}, ${membershipIds}::uuid[]),
      ${subscriptionIds}::text[]) as inputs`)[0];
  let inputs = current?.inputs ?? null;
  let inputsMd5 = current?.inputs_md5 ?? null;
  for (let attempt = 1;; attempt++) {
    const membership = parseSyncInputs(inputs);
    const decided = membership
      ? decideMembership(
        membership,
        read,
        membership.revocations,
        storedPasses(membership.passes),
        deps.now(),
      )
      : null;
    const next = membership && decided?.kind === "write" &&
        (!sameMembership(membership, customerId, decided.next) || decided.trialStartedAt)
      ? { ...decided.next, change_cause: cause.cause, change_event_id: cause.eventId }
      : null;
    const [answer] = await deps.sql<{ applied: AppliedAnswer }[]>`
      select rolepass.apply_stripe_customer_read(${deps.sql.json(event)},
        ${customerId}, ${read.readSeq}::bigint, ${subscriptionIds}::text[],
        ${membershipIds}::uuid[], ${inputsMd5}, ${next ? deps.sql.json(next) : null},
        ${decided?.kind === "write" ? decided.trialStartedAt : null}) as applied`;
    const applied = oneRow(answer ? [answer] : [], "apply_stripe_customer_read's answer").applied;
    if (applied.result === "conflict") {
      if (attempt >= CONFLICT_ATTEMPTS) {
        throw new Error(
          `Cannot apply the read of Stripe customer ${customerId}: its membership kept changing`,
        );
      }
      inputs = applied.inputs ?? null;
      inputsMd5 = applied.inputs_md5 ?? null;
      continue;
    }
    if (applied.result === "duplicate") return null;
    if (applied.result === "not_rolepass" || !membership || !decided) {
      return { result: "not_rolepass", customerId };
    }
    if (applied.result === "stale") return unchangedOutcome(membership);
    if (decided.kind === "no_subscription") {
      warnNoSubscription(deps, customerId, membership.id);
      return { result: "no_subscription", membershipId: membership.id };
    }
    return {
      result: "applied",
      membershipId: membership.id,
      subscriptionId: decided.subscriptionId,
      changed: next !== null,
      entitled: decided.next.entitled,
      revoked: null,
      reversal: null,
    };
  }
}

/** The inputs of a membership as read before the apply, with the md5 the apply compares. */
export interface SyncInputsRead {
  inputs: unknown;
  inputs_md5: string | null;
}

/**
 * The inputs of `customerId`'s membership as they stand, as a jsonb column
 * ({@link SyncInputsRead}) of the caller's statement: read with the statement that starts the
 * re-read, they spare {@link applyCustomerReadForEvent} a round trip whenever they are still
 * current at the apply. `subscriptionIds` are those the event names (the listing may add more,
 * whose refunds and disputes the apply then reads: one round trip more).
 */
export function syncInputsOf(
  sql: Sql,
  customerId: string,
  subscriptionIds: string[],
): postgres.PendingQuery<postgres.Row[]> {
  return sql`(select jsonb_build_object('inputs', i, 'inputs_md5', md5(i::text))
    from rolepass.stripe_sync_inputs(
      rolepass.stripe_sync_membership_id(${customerId}, '{}'::uuid[]),
      ${subscriptionIds}::text[]) as i)`;
}

/**
 * Decisions taken again when the membership's inputs changed between their read and the apply
 * (another event's apply, role-sync): each retry is one round trip, and only a membership that
 * changes on every attempt runs out, which Stripe's retry of the event then covers.
 */
const CONFLICT_ATTEMPTS = 5;

type AppliedAnswer =
  | { result: "duplicate" | "not_rolepass" | "stale" | "applied" }
  | { result: "conflict"; inputs?: unknown; inputs_md5?: string | null };

function subscriptionIdsOf(read: CustomerRead): string[] {
  return read.subscriptions.map((s) => s.id);
}

/** A read that met a newer applied one: the membership stays as it is. */
function unchangedOutcome(membership: MembershipRow): SyncOutcome {
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

function warnNoSubscription(deps: SyncDeps, customerId: string, membershipId: string): void {
  deps.logger.warn("No subscription of this customer sells a plan of the guild", {
    customerId,
    membershipId,
  });
}

/** What a read makes of a membership, decided in the core. */
type MembershipDecision =
  | { kind: "no_subscription" }
  | {
    kind: "write";
    next: MembershipState;
    /** The subscription that drives the membership ("" for passes alone: none). */
    subscriptionId: string;
    /** When the member's first trial began, if the read tells it first; else null. */
    trialStartedAt: Date | null;
  };

/**
 * Picks the subscription of `read` that drives the membership and the state it gives (with the
 * refunds and disputes in force and the member's passes); passes alone keep the stored
 * subscription facts.
 */
function decideMembership(
  membership: MembershipRow,
  read: CustomerRead,
  revocationRows: readonly RevocationRow[],
  passes: ReturnType<typeof storedPasses>,
  now: Date,
): MembershipDecision {
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

  const policy = { pastDueGraceMs: membership.past_due_grace_ms };
  const candidates = read.subscriptions.flatMap((subscription) => {
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
      status: subscription.status,
      decision,
      subscription,
      plan,
      revokedFor,
      roleIds,
    }];
  });
  const driving = pickDrivingSubscription(candidates);
  if (!driving && passes.length) {
    return {
      kind: "write",
      next: passOnlyState(membership, passes, now),
      subscriptionId: membership.stripe_subscription_id ?? "",
      trialStartedAt: null,
    };
  }
  if (!driving) return { kind: "no_subscription" };

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
  const firstTrial = firstTrialStart(membership.trial_started_at, read.subscriptions);
  return {
    kind: "write",
    next,
    subscriptionId: driving.id,
    trialStartedAt: firstTrial === null ||
        firstTrial.getTime() === membership.trial_started_at?.getTime()
      ? null
      : firstTrial,
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

/** The membership ids rolepass wrote into the subscriptions' metadata at Checkout. */
function membershipIdsIn(subscriptions: SubscriptionSnapshot[]): string[] {
  return [
    ...new Set(subscriptions.map((s) => s.metadata[ROLEPASS_METADATA.membershipId]).filter(isUuid)),
  ];
}

type MembershipState = {
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
  /** The core's facts of `status` (subscription_state.ts storedStatusFacts), for SQL to read. */
  plan_role_set: PlanRoleSet;
  payment_standing: PaymentStanding;
  /** Why Stripe ended the subscription, as the core read it (subscriptionEndedFor). */
  ended_for: SubscriptionEndedFor | null;
};

function membershipState(
  subscription: SubscriptionSnapshot,
  decision: EntitlementDecision,
  plan: { id: string },
  revokedFor: Revocation | null,
  roleIds: string[],
): MembershipState {
  const roles = membershipRolesOf(decision, roleIds);
  const facts = storedStatusFacts(subscription.status);
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
    plan_role_set: facts.planRoleSet,
    payment_standing: facts.paymentStanding,
    ended_for: subscriptionEndedFor(subscription),
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
      plan_role_set: membership.plan_role_set,
      payment_standing: membership.payment_standing,
      ended_for: membership.ended_for,
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
  "plan_role_set",
  "payment_standing",
  "ended_for",
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

/** Whether the membership already holds `next` for `customerId`. */
function sameMembership(
  current: MembershipRow,
  customerId: string,
  next: MembershipState,
): boolean {
  return current.stripe_customer_id === customerId &&
    STATE_KEYS.every((key) => sameValue(current[key], next[key]));
}

/**
 * Writes `next` (and a first trial's start) when it differs from what the membership holds, so a
 * repeated or stale event writes no history row and queues no role job. One update, so the
 * history row of a trial's start names the event that recorded it, not the change before.
 */
async function writeMembership(
  tx: Transaction,
  current: MembershipRow,
  customerId: string,
  next: MembershipState,
  trialStartedAt: Date | null,
  cause: SyncCause,
): Promise<boolean> {
  if (!trialStartedAt && sameMembership(current, customerId, next)) return false;
  await tx`
    update rolepass.memberships set
      stripe_customer_id = ${customerId},
      ${tx(next, ...STATE_KEYS)},
      trial_started_at = coalesce(${trialStartedAt}, trial_started_at),
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
