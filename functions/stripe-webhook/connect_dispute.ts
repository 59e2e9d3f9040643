/**
 * Platform mode: a lost dispute on a guild's destination charge. Stripe debits the platform the
 * disputed amount and its dispute fee; as the guild's policy says, rolepass takes them back from the
 * guild with a reversal of the charge's transfer (https://docs.stripe.com/api/transfer_reversals),
 * records it in rolepass.connect_money_movements and tells the guild's operators.
 *
 * Runs on every delivery of `charge.dispute.closed` to the platform endpoint, after the event's
 * own processing (the member's role, the money ledger), and from role-sync's hourly sweep of the
 * disputes whose closing event never came (dispute_sweep.ts); decides from Stripe's current dispute
 * and transfer, never from the payload. A reversal carries the dispute's id in its metadata and is
 * created under an idempotency key of the dispute, so a replayed or repeated event, or a retry
 * after a failure, finds the reversal already made and reverses nothing twice.
 */
import { lostDisputeRecovery } from "../_core/connect.ts";
import type { StripeEventEnvelope } from "../_core/stripe_shapes.ts";
import { guildStripeAccountOf } from "../_shared/guild_stripe_accounts.ts";
import type { Logger } from "../_shared/log.ts";
import type { ConnectMoney, DisputedCharge } from "../_shared/stripe_gateway.ts";
import type { ConnectWebhookDeps } from "./connect.ts";

/** The event after which a dispute's outcome is known. */
const DISPUTE_CLOSED = "charge.dispute.closed";

/** What happened to the recovery of a dispute. */
export type DisputeRecoveryOutcome =
  | { recovery: "recovered"; guildId: string; reversalId: string; amount: number }
  | { recovery: "already_recovered"; guildId: string; reversalId: string }
  | { recovery: "none"; why: string };

/** Whether `envelope` may close a dispute rolepass recovers from a guild. */
export function isDisputeClosedEvent(envelope: StripeEventEnvelope): boolean {
  return envelope.type === DISPUTE_CLOSED && envelope.account === null;
}

/**
 * Recovers the dispute `envelope` closed from the guild whose account its charge paid, once.
 * Throws on dependency failures: the caller answers 500 and Stripe's retry comes back to it.
 */
export async function recoverLostDispute(
  deps: ConnectWebhookDeps,
  envelope: StripeEventEnvelope,
  logger: Logger,
): Promise<DisputeRecoveryOutcome> {
  const disputeId = envelope.data.object.id;
  if (typeof disputeId !== "string" || envelope.livemode !== deps.livemode) {
    return { recovery: "none", why: "not a dispute of this deployment's mode" };
  }
  return await recoverDispute(deps, { disputeId, eventId: envelope.id }, logger);
}

/**
 * Recovers dispute `disputeId` from the guild whose account its charge paid, once, as Stripe says
 * it stands now: the closing event's work, also done by role-sync's sweep of disputes whose
 * closing event never came (`eventId` null then). Throws on dependency failures.
 */
export async function recoverDispute(
  deps: Pick<ConnectWebhookDeps, "sql" | "stripe">,
  { disputeId, eventId }: { disputeId: string; eventId: string | null },
  logger: Logger,
): Promise<DisputeRecoveryOutcome> {
  const dispute = await deps.stripe.retrieveDisputedCharge(disputeId);
  if (dispute.status !== "lost") {
    return { recovery: "none", why: `the dispute is ${dispute.status}` };
  }
  if (dispute.destination === null || dispute.transferId === null) {
    return { recovery: "none", why: "the charge paid no connected account" };
  }
  const account = await guildStripeAccountOf(deps.sql, dispute.destination);
  if (account === null) {
    return { recovery: "none", why: `account ${dispute.destination} belongs to no guild` };
  }
  const transfer = await deps.stripe.retrieveTransferMoney(dispute.transferId);
  if (transfer.accountId !== account.accountId) {
    throw new Error(
      `Stripe answered transfer ${transfer.id} to ${transfer.accountId}, not to ` +
        `${account.accountId}`,
    );
  }
  const made = transfer.returned.find((reversal) => reversal.disputeId === dispute.id);
  if (made) {
    await recordRecovery(deps, eventId, { ...dispute, guildId: account.guildId }, transfer, made);
    return { recovery: "already_recovered", guildId: account.guildId, reversalId: made.id };
  }
  const decision = lostDisputeRecovery(
    dispute,
    { amount: transfer.amount, reversed: transfer.returned.reduce((sum, r) => sum + r.amount, 0) },
    { recovery: account.lostDisputeRecovery, refundApplicationFee: account.refundApplicationFee },
  );
  if (!decision.recover) return { recovery: "none", why: decision.why };
  const reversal = await deps.stripe.reverseTransfer({
    transferId: transfer.id,
    amount: decision.reverseAmount,
    refundApplicationFee: decision.refundApplicationFee,
    metadata: { rolepass_dispute_id: dispute.id, rolepass_guild_id: account.guildId },
    idempotencyKey: `rolepass-dispute-recovery-${dispute.id}`,
  });
  await recordRecovery(
    deps,
    eventId,
    { ...dispute, guildId: account.guildId },
    transfer,
    { ...reversal, disputeId: dispute.id },
  );
  logger.info("Recovered a lost dispute from the guild's transfer", {
    disputeId: dispute.id,
    guildId: account.guildId,
    reversalId: reversal.id,
    amount: reversal.amount,
    notRecovered: decision.notRecovered,
  });
  return {
    recovery: "recovered",
    guildId: account.guildId,
    reversalId: reversal.id,
    amount: reversal.amount,
  };
}

/**
 * Records the reversal as the guild's money going back to the platform, linked to the dispute,
 * and queues the operator's line once per dispute (its change key). Under the account's lock, as
 * the money events are.
 */
async function recordRecovery(
  deps: Pick<ConnectWebhookDeps, "sql">,
  eventId: string | null,
  dispute: DisputedCharge & { guildId: string },
  transfer: ConnectMoney,
  reversal: { id: string; amount: number; created: Date; disputeId: string | null },
): Promise<void> {
  await deps.sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${
      "stripe_account:" + transfer.accountId
    }, 0))`;
    await tx`
      insert into rolepass.connect_money_movements (guild_id, stripe_account_id, kind,
        stripe_object_id, stripe_parent_id, stripe_charge_id, amount, currency, occurred_at,
        stripe_event_id, stripe_dispute_id)
      values (${dispute.guildId}, ${transfer.accountId}, 'transfer_reversal', ${reversal.id},
        ${transfer.id}, ${transfer.chargeId}, ${reversal.amount}, ${transfer.currency},
        ${reversal.created}, ${eventId}, ${dispute.id})
      on conflict (kind, stripe_object_id) do nothing`;
    const [member] = await tx<{ discord_user_id: string }[]>`
      select discord_user_id from rolepass.memberships
      where guild_id = ${dispute.guildId} and stripe_customer_id = ${dispute.customerId}`;
    await tx`select rolepass.enqueue_operator_notice(${dispute.guildId}, 'dispute_recovered',
      ${
      tx.json({
        ...(member ? { memberId: member.discord_user_id } : {}),
        amountMinor: reversal.amount,
        currency: transfer.currency,
      })
    }, ${"dispute_recovered:" + dispute.id})`;
  });
}
