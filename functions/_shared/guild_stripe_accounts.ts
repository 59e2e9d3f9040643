/**
 * The guilds' connected accounts in platform mode (`rolepass.guild_stripe_accounts`): which Stripe
 * account each guild sells through, what rolepass last read of it, its fee and refund policy.
 * Rows are parsed once here; the rest of the code gets the core's types.
 */
import type postgres from "postgres";
import { z } from "zod";
import {
  type ConnectedAccountFacts,
  connectedAccountIdSchema,
  type GuildSellerSettings,
  type LostDisputeRecovery,
  lostDisputeRecoverySchema,
} from "../_core/connect.ts";
import { discordIdSchema } from "../_core/discord_id.ts";

type Queryable = postgres.Sql | postgres.TransactionSql;

/** A guild's connected account as rolepass keeps it. */
export interface GuildStripeAccount extends GuildSellerSettings {
  guildId: string;
  facts: ConnectedAccountFacts;
  /** When rolepass last applied a read of the account from Stripe; null before any. */
  readAt: Date | null;
  /** What the platform takes back from the guild when a dispute is lost. */
  lostDisputeRecovery: LostDisputeRecovery;
}

const accountRow = z.object({
  guild_id: discordIdSchema,
  stripe_account_id: connectedAccountIdSchema,
  details_submitted: z.boolean(),
  charges_enabled: z.boolean(),
  payouts_enabled: z.boolean(),
  requirements_due: z.array(z.string()),
  disabled_reason: z.string().nullable(),
  platform_fee_percent: z.coerce.number(),
  refund_application_fee: z.boolean(),
  lost_dispute_recovery: lostDisputeRecoverySchema,
  read_at: z.date().nullable(),
}).transform((row): GuildStripeAccount => ({
  guildId: row.guild_id,
  accountId: row.stripe_account_id,
  platformFeePercent: row.platform_fee_percent,
  refundApplicationFee: row.refund_application_fee,
  lostDisputeRecovery: row.lost_dispute_recovery,
  readAt: row.read_at,
  facts: {
    accountId: row.stripe_account_id,
    detailsSubmitted: row.details_submitted,
    chargesEnabled: row.charges_enabled,
    payoutsEnabled: row.payouts_enabled,
    requirementsDue: row.requirements_due,
    disabledReason: row.disabled_reason,
  },
}));

/** The guild's connected account, or null when it has none yet. */
export async function guildStripeAccount(
  sql: Queryable,
  guildId: string,
): Promise<GuildStripeAccount | null> {
  const rows = await sql`
    select guild_id, stripe_account_id, details_submitted, charges_enabled, payouts_enabled,
      requirements_due, disabled_reason, platform_fee_percent, refund_application_fee,
      lost_dispute_recovery, read_at
    from rolepass.guild_stripe_accounts where guild_id = ${guildId}`;
  return rows[0] ? accountRow.parse(rows[0]) : null;
}

/**
 * Records the account just created for the guild, with its fee. A guild keeps its first account:
 * when one is already recorded, that one is returned and `facts` is not stored.
 */
export async function recordGuildStripeAccount(
  sql: Queryable,
  account: { guildId: string; facts: ConnectedAccountFacts; platformFeePercent: number },
): Promise<GuildStripeAccount> {
  const { guildId, facts, platformFeePercent } = account;
  await sql`
    insert into rolepass.guild_stripe_accounts (guild_id, stripe_account_id, details_submitted,
      charges_enabled, payouts_enabled, requirements_due, disabled_reason, platform_fee_percent)
    values (${guildId}, ${facts.accountId}, ${facts.detailsSubmitted}, ${facts.chargesEnabled},
      ${facts.payoutsEnabled}, ${facts.requirementsDue}, ${facts.disabledReason},
      ${platformFeePercent})
    on conflict (guild_id) do nothing`;
  const recorded = await guildStripeAccount(sql, guildId);
  if (!recorded) throw new Error(`Cannot read the connected account of guild ${guildId}`);
  return recorded;
}

/** Changes a guild's platform fee, whether refunds give it back, and what lost disputes recover. */
export async function setGuildSellerPolicy(
  sql: Queryable,
  guildId: string,
  policy: {
    platformFeePercent?: number;
    refundApplicationFee?: boolean;
    lostDisputeRecovery?: LostDisputeRecovery;
  },
): Promise<GuildStripeAccount | null> {
  await sql`
    update rolepass.guild_stripe_accounts set
      platform_fee_percent = coalesce(${policy.platformFeePercent ?? null}::numeric,
        platform_fee_percent),
      refund_application_fee = coalesce(${policy.refundApplicationFee ?? null}::boolean,
        refund_application_fee),
      lost_dispute_recovery = coalesce(${policy.lostDisputeRecovery ?? null}::text,
        lost_dispute_recovery),
      updated_at = now()
    where guild_id = ${guildId}`;
  return await guildStripeAccount(sql, guildId);
}

/** The start number of a read of Stripe, taken just before it is sent. */
export async function startStripeRead(sql: Queryable): Promise<bigint> {
  const [row] = await sql<{ seq: string }[]>`select rolepass.start_stripe_read()::text as seq`;
  if (!row) throw new Error("Cannot start a Stripe read: the database returned no number");
  return BigInt(row.seq);
}

/**
 * Applies a read of a connected account begun at `readSeq` (a newer read applied first wins).
 * Returns the guild that owns the account, or null when no guild does.
 */
export async function applyConnectedAccountRead(
  sql: Queryable,
  facts: ConnectedAccountFacts,
  readSeq: bigint,
): Promise<string | null> {
  const [row] = await sql<{ guild_id: string | null }[]>`
    select rolepass.apply_stripe_account_read(${facts.accountId}, ${readSeq.toString()}::bigint,
      ${facts.detailsSubmitted}, ${facts.chargesEnabled}, ${facts.payoutsEnabled},
      ${facts.requirementsDue}::text[], ${facts.disabledReason}) as guild_id`;
  return row?.guild_id ?? null;
}

/** The guild that owns the connected account and its settings, or null. */
export async function guildStripeAccountOf(
  sql: Queryable,
  accountId: string,
): Promise<GuildStripeAccount | null> {
  const guildId = await guildOfConnectedAccount(sql, accountId);
  return guildId === null ? null : await guildStripeAccount(sql, guildId);
}

/** The guild that owns the connected account, or null. */
export async function guildOfConnectedAccount(
  sql: Queryable,
  accountId: string,
): Promise<string | null> {
  const [row] = await sql<{ guild_id: string }[]>`
    select guild_id from rolepass.guild_stripe_accounts where stripe_account_id = ${accountId}`;
  return row?.guild_id ?? null;
}
