/**
 * Refunds in platform mode: before `deno task refund` refunds a member of a guild, the charge is
 * checked to have paid the guild's own connected account, and the guild's policy gives the
 * refund's Connect flags (reverse the transfer; refund the platform's fee or keep it).
 */
import { destinationRefund } from "../_core/connect.ts";
import type { Sql } from "../_shared/db.ts";
import { guildStripeAccount } from "../_shared/guild_stripe_accounts.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";

/** The Connect flags of a refund of `chargeId` for `guildId`, or why it must not happen. */
export async function connectedRefundFlags(
  deps: { sql: Sql; stripe: StripeGateway },
  guildId: string,
  chargeId: string,
): Promise<
  | { ok: true; flags: { reverseTransfer: boolean; refundApplicationFee: boolean } }
  | { ok: false; reason: string }
> {
  const settings = await guildStripeAccount(deps.sql, guildId);
  const charge = await deps.stripe.retrieveChargeDestination(chargeId);
  const decision = destinationRefund(settings, charge.destination);
  return decision.ok ? decision : { ok: false, reason: `charge ${chargeId}: ${decision.reason}` };
}
