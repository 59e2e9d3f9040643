/**
 * Platform mode, on the platform endpoint: an event about a member's money (a subscription, an
 * invoice, a Checkout Session, a charge, a refund or a dispute) is applied only when that money
 * goes to the account of the guild that owns the customer's membership. Money paid to another
 * guild's account, or to the platform alone, is recorded as ignored with why, and changes nothing:
 * a subscription edited in the Dashboard to pay another community never grants, renews, refunds
 * or revokes anything in this one. Where the money goes is re-read from Stripe, not taken from the
 * payload.
 */
import { foreignMoneyReason } from "../_core/connect.ts";
import type { StripeEventEnvelope } from "../_core/stripe_shapes.ts";
import { guildStripeAccount } from "../_shared/guild_stripe_accounts.ts";
import type { Logger } from "../_shared/log.ts";
import { isEventDone, recordIgnored } from "../_shared/stripe_event_ledger.ts";
import { isMissingStripeObject, type MoneyObject } from "../_shared/stripe_gateway.ts";
import type { ConnectWebhookDeps } from "./connect.ts";

/** The Stripe object whose money an event of the platform endpoint is about; null for none. */
export function moneyObjectOf(envelope: StripeEventEnvelope): MoneyObject | null {
  const id = envelope.data.object.id;
  if (typeof id !== "string" || envelope.account !== null) return null;
  const type = envelope.type;
  if (type.startsWith("customer.subscription.")) return { kind: "subscription", id };
  if (type.startsWith("invoice.")) return { kind: "invoice", id };
  if (type === "checkout.session.completed") return { kind: "checkout_session", id };
  if (type === "charge.refunded") return { kind: "charge", id };
  if (type.startsWith("refund.")) return { kind: "refund", id };
  if (type.startsWith("charge.dispute.")) return { kind: "dispute", id };
  return null;
}

/**
 * Refuses the event when its money goes elsewhere than the account of the guild whose member the
 * customer is: records it as ignored and returns why. Null lets the event be processed as usual
 * (no money object, a replay, another mode's event, no member of any guild, or the right account).
 */
export async function refuseForeignMoney(
  deps: ConnectWebhookDeps,
  envelope: StripeEventEnvelope,
  logger: Logger,
): Promise<{ status: "ignored"; why: string } | null> {
  const object = moneyObjectOf(envelope);
  if (object === null || envelope.livemode !== deps.livemode) return null;
  if (await isEventDone(deps.sql, envelope.id)) return null;
  let money;
  try {
    money = await deps.stripe.retrieveMoneyDestination(object);
  } catch (error) {
    // The event's own processing records an object Stripe does not have.
    if (isMissingStripeObject(error)) return null;
    throw error;
  }
  if (money.customerId === null) return null;
  const [member] = await deps.sql<{ guild_id: string }[]>`
    select guild_id from rolepass.memberships where stripe_customer_id = ${money.customerId}`;
  if (!member) return null;
  const account = await guildStripeAccount(deps.sql, member.guild_id);
  const reason = foreignMoneyReason(member.guild_id, account?.accountId ?? null, money);
  if (reason === null) return null;
  const why = `${object.kind} ${object.id}: ${reason}`;
  await recordIgnored(deps.sql, envelope, why);
  logger.warn("Refused an event whose money is not the guild's", {
    eventId: envelope.id,
    guildId: member.guild_id,
    why,
  });
  return { status: "ignored", why };
}
