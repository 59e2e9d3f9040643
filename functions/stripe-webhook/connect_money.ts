/**
 * Platform mode's money between the platform and the communities, on the platform endpoint:
 * `transfer.created` / `transfer.reversed` and `application_fee.created` /
 * `application_fee.refunded` are re-read from Stripe and recorded in
 * rolepass.connect_money_movements for the guild that owns the account the money went to or came
 * from, under that account's lock, once per event. Money of an account no guild owns is recorded
 * as ignored and written nowhere.
 */
import type { StripeEventEnvelope } from "../_core/stripe_shapes.ts";
import { guildOfConnectedAccount } from "../_shared/guild_stripe_accounts.ts";
import type { Logger } from "../_shared/log.ts";
import { claimEvent, isEventDone, recordIgnored } from "../_shared/stripe_event_ledger.ts";
import type { ConnectMoney } from "../_shared/stripe_gateway.ts";
import type { ConnectWebhookDeps } from "./connect.ts";
import { settleFailedEvent } from "./event_failures.ts";

/** What happened to a money event; the HTTP answer reports it. */
export type MoneyEventOutcome =
  | { status: "applied"; guildId: string; movements: number }
  | { status: "duplicate" }
  | { status: "ignored"; why: string };

const TRANSFER_EVENTS = new Set(["transfer.created", "transfer.reversed", "transfer.updated"]);
const FEE_EVENTS = new Set(["application_fee.created", "application_fee.refunded"]);

/** Whether the event is one of platform mode's money movements. */
export function isConnectMoneyEvent(type: string): boolean {
  return TRANSFER_EVENTS.has(type) || FEE_EVENTS.has(type);
}

/** Re-reads the transfer or fee the event is about and records every movement not yet recorded. */
export async function processConnectMoneyEvent(
  deps: ConnectWebhookDeps,
  envelope: StripeEventEnvelope,
  logger: Logger,
): Promise<MoneyEventOutcome> {
  if (await isEventDone(deps.sql, envelope.id)) return { status: "duplicate" };
  const objectId = envelope.data.object.id;
  if (typeof objectId !== "string" || envelope.livemode !== deps.livemode) {
    const why = typeof objectId !== "string"
      ? "event without an object id"
      : "event of the other mode than the Stripe key's";
    await recordIgnored(deps.sql, envelope, why);
    return { status: "ignored", why };
  }
  const isTransfer = TRANSFER_EVENTS.has(envelope.type);
  try {
    const money = isTransfer
      ? await deps.stripe.retrieveTransferMoney(objectId)
      : await deps.stripe.retrieveApplicationFeeMoney(objectId);
    const guildId = await guildOfConnectedAccount(deps.sql, money.accountId);
    if (guildId === null) {
      const why = `account ${money.accountId} belongs to no guild`;
      await recordIgnored(deps.sql, envelope, why);
      return { status: "ignored", why };
    }
    return await deps.sql.begin(async (tx) => {
      const lock = tx`pg_advisory_xact_lock(hashtextextended(${
        "stripe_account:" + money.accountId
      }, 0))`;
      if (!await claimEvent(tx, envelope, lock)) return { status: "duplicate" } as const;
      const movements = movementsOf(money, isTransfer);
      for (const row of movements) {
        await tx`
          insert into rolepass.connect_money_movements (guild_id, stripe_account_id, kind,
            stripe_object_id, stripe_parent_id, stripe_charge_id, amount, currency, occurred_at,
            stripe_event_id, stripe_dispute_id)
          values (${guildId}, ${money.accountId}, ${row.kind}, ${row.id}, ${row.parentId},
            ${money.chargeId}, ${row.amount}, ${money.currency}, ${row.occurredAt},
            ${envelope.id}, ${row.disputeId})
          on conflict (kind, stripe_object_id) do nothing`;
      }
      return { status: "applied", guildId, movements: movements.length } as const;
    });
  } catch (error) {
    return await settleFailedEvent(deps.sql, envelope, error, logger, {
      whyMissing: () => `Stripe has no ${isTransfer ? "transfer" : "application fee"} ${objectId}`,
      failed: "Stripe Connect money event failed; Stripe will retry it",
    });
  }
}

function movementsOf(money: ConnectMoney, isTransfer: boolean) {
  const [kind, returnedKind] = isTransfer
    ? ["transfer", "transfer_reversal"] as const
    : ["application_fee", "application_fee_refund"] as const;
  return [
    {
      kind,
      id: money.id,
      parentId: null,
      amount: money.amount,
      occurredAt: money.created,
      disputeId: null,
    },
    ...money.returned.map((item) => ({
      kind: returnedKind,
      id: item.id,
      parentId: money.id,
      amount: item.amount,
      occurredAt: item.created,
      // A reversal that recovered a lost dispute names it (connect_dispute.ts).
      disputeId: isTransfer ? item.disputeId : null,
    })),
  ];
}
