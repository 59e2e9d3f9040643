/**
 * Platform mode: the connected accounts whose `account.updated` never reached the Connect
 * endpoint. The endpoint keeps each guild's recorded account state (rolepass.guild_stripe_accounts)
 * true, but Stripe stops retrying an event after 3 days, and nothing else would notice: a guild
 * whose account Stripe enabled could not sell, or one whose charges Stripe stopped would keep
 * opening Checkouts that fail. Each hourly catch-up pass therefore re-reads from Stripe, oldest
 * record first and at most ACCOUNT_SWEEP_LIMIT of them (role-sync's configuration, default
 * {@linkcode DEFAULT_ACCOUNT_SWEEP_LIMIT}), the accounts whose state was
 * recorded over an hour ago and that cannot take charges, have requirements due, or were not read
 * for a day; and records each read as the endpoint does ({@linkcode applyConnectedAccountRead},
 * whose read number lets a newer read, from a late event, win).
 */
import type { Sql } from "../_shared/db.ts";
import { applyConnectedAccountRead, startStripeRead } from "../_shared/guild_stripe_accounts.ts";
import type { Logger } from "../_shared/log.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";

/** An account state recorded within the hour is left alone: its event may still be on its way. */
export const ACCOUNT_SWEEP_AFTER_MS = 3_600_000;

/** Even an account that sells is read again once a day: Stripe may have stopped it since. */
export const ACCOUNT_REREAD_MS = 86_400_000;

/**
 * Accounts read per pass unless ACCOUNT_SWEEP_LIMIT says otherwise. At a few hundred milliseconds
 * a read this stays well inside the pass's budget, and the daily re-read of 200 accounts an hour
 * keeps up with some 4,800 guilds.
 */
export const DEFAULT_ACCOUNT_SWEEP_LIMIT = 200;

/** What a sweep did. */
export interface AccountSweep {
  /** Accounts re-read from Stripe and recorded. */
  checked: number;
  /** Of those, the ones whose recorded charges_enabled changed. */
  changed: number;
  /** Accounts Stripe could not be read for, with the reason; their record is as it was. */
  failed: { accountId: string; error: string }[];
}

/**
 * Re-reads the connected accounts described in the module comment, oldest record first, until
 * `limit` are done, none is left, or `deadline` (epoch ms on `deps.now`'s clock) passes. Only
 * accounts a guild owns are read: they come from the guilds' own rows.
 */
export async function sweepConnectedAccounts(
  deps: { sql: Sql; stripe: StripeGateway; now: () => Date; logger: Logger },
  deadline: number,
  limit: number = DEFAULT_ACCOUNT_SWEEP_LIMIT,
): Promise<AccountSweep> {
  const now = deps.now().getTime();
  const recordedBefore = new Date(now - ACCOUNT_SWEEP_AFTER_MS);
  const readBefore = new Date(now - ACCOUNT_REREAD_MS);
  const due = await deps.sql<{ account_id: string; charges_enabled: boolean }[]>`
    select stripe_account_id as account_id, charges_enabled
    from rolepass.guild_stripe_accounts
    where coalesce(read_at, created_at) < ${recordedBefore}
      and (not charges_enabled or cardinality(requirements_due) > 0
        or coalesce(read_at, created_at) < ${readBefore})
    order by coalesce(read_at, created_at), guild_id
    limit ${limit}`;
  const sweep: AccountSweep = { checked: 0, changed: 0, failed: [] };
  for (const { account_id: accountId, charges_enabled: couldSell } of due) {
    if (deps.now().getTime() >= deadline) break;
    try {
      const readSeq = await startStripeRead(deps.sql);
      const facts = await deps.stripe.retrieveConnectedAccount(accountId);
      if (facts.accountId !== accountId) {
        throw new Error(`Stripe answered account ${facts.accountId} for ${accountId}`);
      }
      await applyConnectedAccountRead(deps.sql, facts, readSeq);
      sweep.checked++;
      if (facts.chargesEnabled !== couldSell) sweep.changed++;
    } catch (error) {
      sweep.failed.push({
        accountId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  if (sweep.failed.length) {
    deps.logger.error("Some connected accounts could not be re-read from Stripe", {
      failed: sweep.failed,
    });
  }
  return sweep;
}
