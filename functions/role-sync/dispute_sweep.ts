/**
 * Platform mode: the lost disputes whose `charge.dispute.closed` never led to a recovery. The
 * webhook takes a lost dispute back from the guild's transfer when that event arrives; when it
 * never does (Stripe stops retrying after 3 days, the Events API keeps 30 and a dispute can stay
 * open for months), or when the hourly catch-up processed it without the recovery, the guild would
 * keep money the platform lost. Each catch-up pass therefore re-reads from Stripe the disputes that
 * are still open in the ledger, or lost with no recovery recorded, a day after they were opened:
 * it moves the ledger's status on as the event would, and recovers a lost one through the
 * webhook's own {@linkcode recoverDispute}, whose idempotency key and unique row make it once.
 */
import { disputeFacts } from "../_core/ledger.ts";
import type { Sql } from "../_shared/db.ts";
import type { Logger } from "../_shared/log.ts";
import { recordMoneyFacts } from "../_shared/money_ledger.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import { recoverDispute } from "../stripe-webhook/connect_dispute.ts";

/** A dispute's webhook normally comes within seconds; a day later the sweep looks for itself. */
export const DISPUTE_SWEEP_AFTER_MS = 86_400_000;

/** What a sweep did. */
export interface DisputeSweep {
  /** Disputes re-read from Stripe. */
  checked: number;
  /** Of those, the ones taken back from their guild now. */
  recovered: number;
  /** Disputes Stripe could not be read or recovered for, with the reason; the next pass retries. */
  failed: { disputeId: string; error: string }[];
}

/**
 * Re-reads the disputes the ledger leaves unsettled (see the module comment), oldest first, until
 * all are done or `deadline` (epoch ms on `deps.now`'s clock) passes.
 */
export async function sweepLostDisputes(
  deps: { sql: Sql; stripe: StripeGateway; now: () => Date; logger: Logger },
  deadline: number,
): Promise<DisputeSweep> {
  const openedBefore = new Date(deps.now().getTime() - DISPUTE_SWEEP_AFTER_MS);
  const unsettled = await deps.sql<{ dispute_id: string }[]>`
    select l.stripe_object_id as dispute_id
    from rolepass.money_ledger l
    join rolepass.guild_stripe_accounts a on a.guild_id = l.guild_id
    where l.kind = 'dispute' and l.occurred_at < ${openedBefore}
      and (rolepass.dispute_status_rank(l.dispute_status) < 3
        or (l.dispute_status = 'lost' and a.lost_dispute_recovery <> 'none'
          and not exists (
            select 1 from rolepass.connect_money_movements m
            where m.stripe_dispute_id = l.stripe_object_id)))
    order by l.occurred_at, l.id`;
  const sweep: DisputeSweep = { checked: 0, recovered: 0, failed: [] };
  for (const { dispute_id: disputeId } of unsettled) {
    if (deps.now().getTime() >= deadline) break;
    try {
      const dispute = await deps.stripe.retrieveDispute(disputeId);
      const context = await deps.stripe.chargeContext(dispute.charge);
      if (context) {
        await deps.sql.begin((tx) => recordMoneyFacts(tx, disputeFacts(dispute, context), null));
      }
      sweep.checked++;
      if (dispute.status !== "lost") continue;
      const outcome = await recoverDispute(deps, { disputeId, eventId: null }, deps.logger);
      if (outcome.recovery === "recovered") sweep.recovered++;
    } catch (error) {
      sweep.failed.push({
        disputeId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  if (sweep.failed.length) {
    deps.logger.error("Some disputes could not be re-read from Stripe", { failed: sweep.failed });
  }
  return sweep;
}
