/**
 * One-time passes in the database (`rolepass.member_passes`): recorded from Stripe's re-read of a
 * paid Checkout Session, read back for the membership's entitlement, and taken back (or given
 * back) when the guild's refund or dispute policy says so. Every write runs in the caller's
 * transaction, under the customer's lock (subscription_sync.ts, lockCustomer), so a pass and the
 * membership it entitles change together.
 */
import { revocationOf } from "../_core/entitlement.ts";
import {
  type PassAccess,
  passAccessUntil,
  type PassPayment,
  passPaymentReversal,
  passRevocation,
  type PassStatus,
  type StoredPass,
  withPasses,
} from "../_core/one_time_pass.ts";
import {
  decideReversal,
  type ReversalDecision,
  type ReversalPolicy,
  type ReversalStage,
} from "../_core/refund_dispute_policy.ts";
import type { Transaction } from "./subscription_sync.ts";

/** What recording a paid pass did. */
export type PassRecord =
  | { result: "recorded"; membershipId: string; accessUntil: Date | null }
  | { result: "already_recorded"; membershipId: string }
  | { result: "not_rolepass"; why: string };

interface PassTarget {
  membership_id: string;
  plan_id: string;
  access_kind: "lifetime" | "duration";
  access_seconds: number | null;
  /** The end of the member's live pass of the same plan, which a renewal extends. */
  live_until: Date | null;
  recorded: boolean;
}

/**
 * Records a paid pass once per Checkout Session. The membership is the customer's (or, when the
 * customer was never stored, the one named in the session's metadata); the plan is the guild's
 * one-time plan of a price on the session. A renewal bought while a pass of the same plan is live
 * starts where that one ends.
 */
export async function recordPass(
  tx: Transaction,
  payment: PassPayment,
  eventId: string | null,
): Promise<PassRecord> {
  const [target] = await tx<PassTarget[]>`
    with membership as (
      select m.id, m.guild_id from rolepass.memberships m
      where m.stripe_customer_id = ${payment.customerId}
        or (m.stripe_customer_id is null and m.id::text = ${payment.membershipId ?? ""})
      order by m.stripe_customer_id is null
      limit 1
    )
    select membership.id as membership_id, p.id as plan_id, p.access_kind,
      extract(epoch from p.access_duration)::float8 as access_seconds,
      (select max(x.access_until) from rolepass.member_passes x
        where x.membership_id = membership.id and x.plan_id = p.id and not x.taken_back
          and x.access_until > ${payment.paidAt}
          and x.stripe_checkout_session_id <> ${payment.sessionId}) as live_until,
      exists (select from rolepass.member_passes x
        where x.stripe_checkout_session_id = ${payment.sessionId}) as recorded
    from membership
    join rolepass.plans p on p.guild_id = membership.guild_id
    where p.stripe_price_id = any(${payment.priceIds}::text[]) and p.access_kind <> 'subscription'
    limit 1`;
  if (!target) {
    return { result: "not_rolepass", why: "no membership's guild sells a pass at this price" };
  }
  if (target.recorded) return { result: "already_recorded", membershipId: target.membership_id };
  const access: PassAccess = target.access_kind === "lifetime" || target.access_seconds === null
    ? { kind: "lifetime" }
    : { kind: "duration", seconds: target.access_seconds, iso: "" };
  const accessUntil = passAccessUntil(access, payment.paidAt, target.live_until);
  const [inserted] = await tx<{ id: string }[]>`
    insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
      stripe_checkout_session_id, stripe_payment_intent_id, stripe_charge_id, amount, currency,
      paid_at, access_until, stripe_event_id)
    values (${target.membership_id}, ${target.plan_id}, ${payment.customerId},
      ${payment.sessionId}, ${payment.paymentIntentId}, ${payment.chargeId}, ${payment.amount},
      ${payment.currency}, ${payment.paidAt}, ${accessUntil}, ${eventId})
    on conflict (stripe_checkout_session_id) do nothing
    returning id`;
  // A refund or dispute whose event came before the pass's own found no pass to apply to: the
  // guild's policy decides on what Stripe says of the charge now.
  const stage = passPaymentReversal(payment);
  if (inserted && stage) {
    const [policies] = await tx<{ refund: ReversalPolicy; dispute: ReversalPolicy }[]>`
      select g.refund_policy as refund, g.dispute_policy as dispute
      from rolepass.memberships m join rolepass.guilds g on g.id = m.guild_id
      where m.id = ${target.membership_id}`;
    if (policies) {
      await applyPassReversal(
        tx,
        { id: inserted.id, membershipId: target.membership_id, status: "active" },
        decideReversal(stage, policies),
        revocationOf(stage),
        eventId,
      );
    }
  }
  return { result: "recorded", membershipId: target.membership_id, accessUntil };
}

/** A pass as the sync's inputs carry it (JSON, from `rolepass.stripe_sync_inputs`). */
export interface PassRow {
  plan_id: string;
  role_ids: string[];
  status: PassStatus;
  /** ISO time; null for life. */
  access_until: string | null;
}

/** The passes of {@link PassRow}s. */
export function storedPasses(rows: readonly PassRow[]): StoredPass[] {
  return rows.map((row) => ({
    planId: row.plan_id,
    roleIds: row.role_ids,
    status: row.status,
    accessUntil: row.access_until === null ? null : new Date(row.access_until),
  }));
}

/** A membership's passes, with their plans' roles. */
export async function passesOf(tx: Transaction, membershipId: string): Promise<StoredPass[]> {
  const rows = await tx<
    { plan_id: string; role_ids: string[]; status: PassStatus; access_until: Date | null }[]
  >`
    select x.plan_id, p.discord_role_ids::text[] as role_ids, x.status, x.access_until
    from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
    where x.membership_id = ${membershipId}`;
  return rows.map((row) => ({
    planId: row.plan_id,
    roleIds: row.role_ids,
    status: row.status,
    accessUntil: row.access_until,
  }));
}

/** A pass found by the charge (or PaymentIntent) that paid it. */
export interface PaidPass {
  id: string;
  membershipId: string;
  status: PassStatus;
}

/** The pass a charge paid, or null when the charge paid no pass. */
export async function passOfCharge(
  tx: Transaction,
  charge: { id: string; paymentIntentId: string | null },
): Promise<PaidPass | null> {
  const [row] = await tx<{ id: string; membership_id: string; status: PassStatus }[]>`
    select id, membership_id, status from rolepass.member_passes
    where stripe_charge_id = ${charge.id}
      or stripe_payment_intent_id = ${charge.paymentIntentId ?? ""}
    limit 1`;
  return row ? { id: row.id, membershipId: row.membership_id, status: row.status } : null;
}

/**
 * Takes a pass back (a full refund, a dispute) or gives it back (a won dispute) as the guild's
 * policy decided; anything else leaves it. Returns whether the pass changed.
 */
export async function applyPassReversal(
  tx: Transaction,
  pass: PaidPass,
  decision: ReversalDecision,
  reason: "refund" | "dispute",
  eventId: string | null,
): Promise<boolean> {
  const next: PassStatus | null = decision.revoke
    ? (reason === "dispute" ? "disputed" : "refunded")
    : decision.lift && pass.status === "disputed"
    ? "active"
    : null;
  if (!next || next === pass.status) return false;
  await tx`
    update rolepass.member_passes
    set status = ${next}, status_event_id = ${eventId}, updated_at = now()
    where id = ${pass.id}`;
  return true;
}

/**
 * Applies the guild's policy to a refund or dispute of a pass's charge: decides it as for a
 * subscription's charge (refund_dispute_policy.ts) and takes the pass back or gives it back.
 * @returns the decision, or null when the charge paid no pass
 */
export async function reversePass(
  tx: Transaction,
  policies: { refund: ReversalPolicy; dispute: ReversalPolicy },
  reversal: { stage: ReversalStage; chargeId: string; eventId: string },
): Promise<ReversalDecision | null> {
  const pass = await passOfCharge(tx, { id: reversal.chargeId, paymentIntentId: null });
  if (!pass) return null;
  const decision = decideReversal(reversal.stage, policies);
  await applyPassReversal(tx, pass, decision, revocationOf(reversal.stage), reversal.eventId);
  return decision;
}

/** The entitlement columns of a membership that passes add to. */
interface EntitlementColumns {
  plan_id: string | null;
  entitled: boolean;
  entitled_role_ids: string[];
  entitled_until: Date | null;
  revoked_reason: string | null;
}

/**
 * Folds a membership's passes into the state its subscriptions decided (`_core/one_time_pass.ts`,
 * withPasses): a live pass adds its roles and may extend the end; a membership only passes
 * entitle carries no subscription's revocation, and one that no pass entitles any more says why.
 */
export function foldPasses<T extends EntitlementColumns>(
  state: T,
  passes: readonly StoredPass[],
  now: Date,
): T {
  if (!passes.length) return state;
  const held = withPasses(
    {
      entitled: state.entitled,
      roleIds: state.entitled_role_ids,
      planId: state.plan_id,
      until: state.entitled_until,
    },
    passes,
    now,
  );
  return {
    ...state,
    plan_id: held.planId ?? state.plan_id,
    entitled: held.entitled,
    entitled_role_ids: held.roleIds,
    entitled_until: held.until,
    revoked_reason: held.byPassOnly
      ? null
      : held.entitled
      ? state.revoked_reason
      : state.revoked_reason ?? passRevocation(passes),
  };
}
