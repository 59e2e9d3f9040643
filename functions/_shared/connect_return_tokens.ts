/**
 * The token in the return URL of a guild's onboarding Account Link (platform mode): issued when
 * the link is made, and the only key to the guild's standing on the plan page's return page. A
 * token is made and checked as a member's link token is (`_core/link_token.ts`): random, stored
 * as its SHA-256 only, and good until it expires; a new onboarding link replaces it.
 */
import type postgres from "postgres";
import {
  CONNECT_RETURN_TOKEN_TTL_SECONDS,
  hashLinkToken,
  isWellFormedLinkToken,
  newLinkToken,
} from "../_core/link_token.ts";
import { type GuildStripeAccount, guildStripeAccount } from "./guild_stripe_accounts.ts";

type Queryable = postgres.Sql | postgres.TransactionSql;

/**
 * Issues a fresh return token for the guild's account (replacing any earlier one) and returns it.
 * Throws when the guild has no account yet: the account is recorded before its link is made.
 */
export async function issueConnectReturnToken(sql: Queryable, guildId: string): Promise<string> {
  const token = newLinkToken();
  const updated = await sql`
    update rolepass.guild_stripe_accounts
    set return_token_hash = ${await hashLinkToken(token)},
      return_token_expires_at = now() + make_interval(secs => ${CONNECT_RETURN_TOKEN_TTL_SECONDS})
    where guild_id = ${guildId}
    returning 1`;
  if (updated.length !== 1) throw new Error(`Guild ${guildId} has no connected account`);
  return token;
}

/**
 * The guild's account when `token` is its live return token; null for a malformed, forged or
 * expired token, or one issued for another guild.
 */
export async function accountOfReturnToken(
  sql: Queryable,
  guildId: string,
  token: string,
): Promise<GuildStripeAccount | null> {
  if (!isWellFormedLinkToken(token)) return null;
  const [match] = await sql`
    select 1 from rolepass.guild_stripe_accounts
    where guild_id = ${guildId} and return_token_hash = ${await hashLinkToken(token)}
      and return_token_expires_at > now()`;
  return match ? await guildStripeAccount(sql, guildId) : null;
}
