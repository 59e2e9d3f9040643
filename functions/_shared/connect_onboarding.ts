/**
 * Starting a guild's Stripe Express onboarding, shared by `deno task connect -- onboard` and
 * `/rolepass onboarding` (done by role-sync): the guild's account, created once, and a fresh
 * single-use Account Link back to the plan page's return page.
 */
import type { Sql } from "./db.ts";
import { issueConnectReturnToken } from "./connect_return_tokens.ts";
import {
  type GuildStripeAccount,
  guildStripeAccount,
  recordGuildStripeAccount,
} from "./guild_stripe_accounts.ts";
import type { StripeGateway } from "./stripe_gateway.ts";

/** What starting onboarding needs. */
export interface OnboardingDeps {
  sql: Sql;
  stripe: StripeGateway;
  /** Where the plan page is served: onboarding comes back to its `/connect/return/<guild>` page. */
  publicSiteUrl: string;
}

/**
 * The plan page's pages an Account Link sends the community back to; the return page answers only
 * with `returnToken` (functions/_shared/connect_return_tokens.ts).
 */
export function onboardingReturnUrls(
  publicSiteUrl: string,
  guildId: string,
  returnToken: string,
): { returnUrl: string; refreshUrl: string } {
  const base = publicSiteUrl.replace(/\/+$/, "");
  return {
    returnUrl: `${base}/connect/return/${guildId}/${returnToken}`,
    refreshUrl: `${base}/connect/refresh/${guildId}`,
  };
}

/**
 * Creates (or reuses) the guild's Express account and a fresh onboarding link; null for a guild
 * rolepass does not know. The account is created under an idempotency key of the guild, so a run
 * cut short between Stripe and the database creates no second account when it is run again.
 */
export async function startOnboarding(
  deps: OnboardingDeps,
  request: { guildId: string; platformFeePercent: number; country: string; email: string | null },
): Promise<
  { account: GuildStripeAccount; created: boolean; url: string; expiresAt: Date } | null
> {
  const [guild] = await deps.sql`select 1 from rolepass.guilds where id = ${request.guildId}`;
  if (!guild) return null;
  let account = await guildStripeAccount(deps.sql, request.guildId);
  const created = account === null;
  if (account === null) {
    const facts = await deps.stripe.createExpressAccount({
      country: request.country,
      email: request.email,
      metadata: { rolepass_guild_id: request.guildId },
      idempotencyKey: `rolepass-connect-account-${request.guildId}`,
    });
    account = await recordGuildStripeAccount(deps.sql, {
      guildId: request.guildId,
      facts,
      platformFeePercent: request.platformFeePercent,
    });
  }
  const link = await deps.stripe.createOnboardingLink({
    accountId: account.accountId,
    ...onboardingReturnUrls(
      deps.publicSiteUrl,
      request.guildId,
      await issueConnectReturnToken(deps.sql, request.guildId),
    ),
  });
  return { account, created, url: link.url, expiresAt: link.expiresAt };
}
