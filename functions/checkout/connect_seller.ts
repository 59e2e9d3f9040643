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
import { accountOfReturnToken } from "../_shared/connect_return_tokens.ts";
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

/**
 * The account a member's portal opens on behalf of: the guild's connected account in platform
 * mode, whether or not it can sell today (a member of a restricted community must still be able to
 * cancel); null in standalone mode and for a guild with no account.
 */
export async function portalOnBehalfOf(
  mode: StripeMode,
  db: Queryable,
  guildId: string,
): Promise<string | null> {
  if (mode === "standalone") return null;
  return (await guildStripeAccount(db, guildId))?.accountId ?? null;
}

/** `POST /checkout/seller-standing`: where a guild stands, for the onboarding return page. */
export const SELLER_STANDING_PATH = "seller-standing";

/** Its request: the guild and the token of the return URL its onboarding link came back to. */
export const sellerStandingRequestSchema = z.object({
  guildId: discordIdSchema,
  token: z.string().max(64),
});

/** Its answer: the standing alone (what Stripe still needs is the community's to see). */
export const sellerStandingSchema = z.object({
  standing: z.enum(["not_connected", "onboarding", "restricted", "selling"]),
});

/**
 * How stale the recorded state of an account that cannot sell yet may be before the return page
 * reads it from Stripe again: the community often comes back before account.updated does.
 */
export const STANDING_RECHECK_SECONDS = 10;

/**
 * The guild's standing for the holder of its onboarding return token; null for any other caller
 * (a forged, expired or other guild's token) and in standalone mode (no such page). The answer is
 * the recorded state, which account.updated keeps true; Stripe is asked again only while the guild
 * cannot sell yet and its last read is older than {@link STANDING_RECHECK_SECONDS}.
 */
export async function returnPageStanding(
  deps: { sql: Queryable; stripe: StripeGateway; mode: StripeMode; now: () => Date },
  request: { guildId: string; token: string },
): Promise<{ standing: SellerStanding } | null> {
  if (deps.mode === "standalone") return null;
  const account = await accountOfReturnToken(deps.sql, request.guildId, request.token);
  if (!account) return null;
  const recorded = sellerStanding(account.facts);
  const recheckAfter = deps.now().getTime() - STANDING_RECHECK_SECONDS * 1000;
  if (recorded === "selling" || (account.readAt && account.readAt.getTime() > recheckAfter)) {
    return { standing: recorded };
  }
  const readSeq = await startStripeRead(deps.sql);
  const facts = await deps.stripe.retrieveConnectedAccount(account.accountId);
  await applyConnectedAccountRead(deps.sql, facts, readSeq);
  return { standing: sellerStanding(facts) };
}
