/**
 * Who sells in platform mode: a guild's members pay through Checkout on the platform account, and
 * the money goes to the guild's own connected account (a destination charge, with the guild's
 * platform fee; docs/DECISIONS.md), subscriptions and one-time passes alike. A guild whose account
 * cannot take charges sells nothing: the plan page says so instead of sending the member to a
 * Checkout that would fail.
 */
import { z } from "zod";
import type { CheckoutSeller } from "../_core/checkout_session.ts";
import { canSell, type SellerStanding, sellerStanding, type StripeMode } from "../_core/connect.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import {
  applyConnectedAccountRead,
  guildStripeAccount,
  startStripeRead,
} from "../_shared/guild_stripe_accounts.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import type { Queryable } from "./store.ts";

/**
 * The seller of the guild's sales: null in standalone mode (the deployment's own account), the
 * guild's account in platform mode, or `not_selling_yet` when that account cannot take charges.
 */
export async function sellerOf(
  mode: StripeMode,
  db: Queryable,
  guildId: string,
): Promise<{ ok: true; value: CheckoutSeller | null } | { ok: false; problem: "not_selling_yet" }> {
  if (mode === "standalone") return { ok: true, value: null };
  const account = await guildStripeAccount(db, guildId);
  if (!account || !canSell(mode, account.facts)) return { ok: false, problem: "not_selling_yet" };
  return {
    ok: true,
    value: { accountId: account.accountId, platformFeePercent: account.platformFeePercent },
  };
}

/** `POST /checkout/seller-standing`: where a guild stands, for the onboarding return page. */
export const SELLER_STANDING_PATH = "seller-standing";

/** Its request: the guild the onboarding link was made for. */
export const sellerStandingRequestSchema = z.object({ guildId: discordIdSchema });

/** Its answer: the standing alone (what Stripe still needs is the community's to see). */
export const sellerStandingSchema = z.object({
  standing: z.enum(["not_connected", "onboarding", "restricted", "selling"]),
});

/**
 * The guild's standing read from Stripe now and recorded, so the return page is right before
 * account.updated arrives. Null in standalone mode (no such page).
 */
export async function refreshSellerStanding(
  deps: { sql: Queryable; stripe: StripeGateway; mode: StripeMode },
  guildId: string,
): Promise<{ standing: SellerStanding } | null> {
  if (deps.mode === "standalone") return null;
  const account = await guildStripeAccount(deps.sql, guildId);
  if (!account) return { standing: "not_connected" };
  const readSeq = await startStripeRead(deps.sql);
  const facts = await deps.stripe.retrieveConnectedAccount(account.accountId);
  await applyConnectedAccountRead(deps.sql, facts, readSeq);
  return { standing: sellerStanding(facts) };
}
