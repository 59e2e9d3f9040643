/**
 * The checkout function's Postgres adapter: link tokens, the plans of a guild, memberships and
 * checkout attempts. Rows are parsed with zod as they leave the database.
 *
 * Locks are transaction-scoped row locks (`for update`), never session advisory locks: Supabase's
 * transaction pooler hands a connection to another client between transactions.
 */
import type postgres from "postgres";
import { z } from "zod";
import { type Locale, localeSchema } from "../_core/locale.ts";
import { billingIntervalSchema } from "../_core/price.ts";
import type { Sql } from "../_shared/db.ts";
import { type CheckoutCompletion, checkoutCompletionSchema } from "./contract.ts";

/** A client or a transaction: every query runs on either. */
export type Queryable = postgres.Sql | postgres.TransactionSql;

const linkTokenRowSchema = z.object({
  id: z.string().uuid(),
  purpose: z.enum(["join", "manage"]),
  guild_id: z.string(),
  discord_user_id: z.string(),
  locale: localeSchema,
  expires_at: z.date(),
  used_at: z.date().nullable(),
  created_at: z.date(),
});
/** A stored link token (found by the hash of the token in the link). */
export type LinkTokenRow = z.infer<typeof linkTokenRowSchema>;

const guildRowSchema = z.object({
  id: z.string(),
  name: z.string(),
  seller_notice: z.unknown(),
  /** Stripe Tax at Checkout, with the address collection it needs (null when tax is off). */
  automatic_tax: z.boolean(),
  billing_address_collection: z.enum(["auto", "required"]).nullable(),
});
/** A guild as the plan page needs it; `seller_notice` is parsed by the caller. */
export type GuildRow = z.infer<typeof guildRowSchema>;

const planRowSchema = z.object({
  id: z.string().uuid(),
  guild_id: z.string(),
  stripe_price_id: z.string(),
  display: z.unknown(),
  unit_amount: z.number().int(),
  currency: z.string(),
  /** Null for a pass (a one-time price). */
  billing_interval: billingIntervalSchema.nullable(),
  interval_count: z.number().int(),
  access_kind: z.enum(["subscription", "lifetime", "duration"]),
  /** A duration pass's length in seconds. */
  access_seconds: z.number().nullable(),
  allow_promotion_codes: z.boolean(),
  tax_behavior: z.enum(["inclusive", "exclusive", "unspecified"]),
  /** Null: the plan has no trial. */
  trial_days: z.number().int().nullable(),
  trial_payment_method: z.enum(["required", "if_required"]),
  trial_missing_payment_method: z.enum(["cancel", "pause"]),
  /** What a trial grants: null the paid roles, empty nothing, else roles of its own. */
  trial_role_ids: z.array(z.string()).nullable(),
});
/** The columns a plan read selects, with a pass's length in seconds. */
const PLAN_COLUMNS = `p.id, p.guild_id, p.stripe_price_id, p.display, p.unit_amount, p.currency,
  p.billing_interval, p.interval_count, p.access_kind,
  extract(epoch from p.access_duration)::float8 as access_seconds, p.allow_promotion_codes,
  p.tax_behavior, p.trial_days, p.trial_payment_method, p.trial_missing_payment_method,
  p.trial_role_ids::text[] as trial_role_ids`;
/** An active plan of a guild; `display` is parsed by the caller. */
export type PlanRow = z.infer<typeof planRowSchema>;

const membershipRowSchema = z.object({
  id: z.string().uuid(),
  guild_id: z.string(),
  discord_user_id: z.string(),
  stripe_customer_id: z.string().nullable(),
  stripe_subscription_id: z.string().nullable(),
  status: z.string().nullable(),
  entitled: z.boolean(),
  /** Whether the member holds a live subscription, as the sync decided and stored it. */
  subscription_live: z.boolean(),
  /** When the member's first trial in the guild began: no second one. */
  trial_started_at: z.date().nullable(),
});
/** What checkout needs of a membership. */
export type MembershipRow = z.infer<typeof membershipRowSchema>;
/** The columns every membership read selects: the row schema's keys, so the two cannot drift. */
const MEMBERSHIP_COLUMNS = Object.keys(membershipRowSchema.shape);

const attemptRowSchema = z.object({
  id: z.string().uuid(),
  link_token_id: z.string().uuid().nullable(),
  plan_id: z.string().uuid().nullable(),
  kind: z.enum(["checkout", "portal"]),
  stripe_session_id: z.string(),
  status: z.enum(["open", "completed", "expired"]),
  /** Null on rows recorded before the column existed: the link's language applies. */
  locale: localeSchema.nullable(),
});
/** A recorded Checkout or Portal session. */
export type AttemptRow = z.infer<typeof attemptRowSchema>;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Finds a link token by the SHA-256 of the token. */
export async function findLinkToken(
  sql: Queryable,
  tokenHash: Uint8Array,
): Promise<LinkTokenRow | null> {
  const rows = await sql`
    select id, purpose, guild_id, discord_user_id, locale, expires_at, used_at, created_at
    from rolepass.link_tokens
    where token_hash = decode(${hex(tokenHash)}, 'hex')`;
  return rows.length ? linkTokenRowSchema.parse(rows[0]) : null;
}

/** Re-reads a link token under a row lock, serialising every request made with that link. */
export async function lockLinkToken(tx: Queryable, id: string): Promise<LinkTokenRow> {
  const rows = await tx`
    select id, purpose, guild_id, discord_user_id, locale, expires_at, used_at, created_at
    from rolepass.link_tokens where id = ${id} for update`;
  return linkTokenRowSchema.parse(rows[0]);
}

/** Marks a link token as used, unless it already is (then returns false). */
export async function markLinkTokenUsed(tx: Queryable, id: string, now: Date): Promise<boolean> {
  const rows = await tx`
    update rolepass.link_tokens set used_at = ${now}
    where id = ${id} and used_at is null
    returning id`;
  return rows.length === 1;
}

/** A guild and its active plans, in the operator's order. */
export async function loadGuildPlans(
  sql: Queryable,
  guildId: string,
): Promise<{ guild: GuildRow; plans: PlanRow[] } | null> {
  const guilds = await sql`
    select id, name, seller_notice, automatic_tax, billing_address_collection
    from rolepass.guilds where id = ${guildId}`;
  if (!guilds.length) return null;
  const plans = await sql`
    select ${sql.unsafe(PLAN_COLUMNS)}
    from rolepass.plans p
    where p.guild_id = ${guildId} and p.active
    order by p.sort_order, p.created_at, p.id`;
  return {
    guild: guildRowSchema.parse(guilds[0]),
    plans: plans.map((row) => planRowSchema.parse(row)),
  };
}

/** One active plan of a guild, or null. */
export async function findActivePlan(
  sql: Queryable,
  guildId: string,
  planId: string,
): Promise<PlanRow | null> {
  const rows = await sql`
    select ${sql.unsafe(PLAN_COLUMNS)}
    from rolepass.plans p
    where p.id = ${planId} and p.guild_id = ${guildId} and p.active`;
  return rows.length ? planRowSchema.parse(rows[0]) : null;
}

/** What Checkout needs of a guild beside the plan: its Stripe Tax setting. */
export async function findGuildTax(
  sql: Queryable,
  guildId: string,
): Promise<{ automaticTax: boolean; billingAddressCollection: "auto" | "required" | null }> {
  const rows = await sql`
    select automatic_tax, billing_address_collection from rolepass.guilds where id = ${guildId}`;
  const row = guildRowSchema.pick({ automatic_tax: true, billing_address_collection: true })
    .parse(rows[0]);
  return {
    automaticTax: row.automatic_tax,
    billingAddressCollection: row.billing_address_collection,
  };
}

const livePassRowSchema = z.object({
  plan_id: z.string().uuid(),
  access_until: z.date().nullable(),
});

/** The member's longest-lasting live pass, or null (a lifetime pass outlasts any other). */
export async function findLivePass(
  sql: Queryable,
  membershipId: string,
): Promise<{ planId: string; accessUntil: Date | null } | null> {
  const rows = await sql`
    select plan_id, access_until from rolepass.member_passes
    where membership_id = ${membershipId} and not taken_back
      and (access_until is null or access_until > now())
    order by access_until desc nulls first
    limit 1`;
  if (!rows.length) return null;
  const row = livePassRowSchema.parse(rows[0]);
  return { planId: row.plan_id, accessUntil: row.access_until };
}

/** The member's membership in a guild, or null (no lock). */
export async function findMembership(
  sql: Queryable,
  guildId: string,
  discordUserId: string,
): Promise<MembershipRow | null> {
  const rows = await sql`
    select ${sql(MEMBERSHIP_COLUMNS)}
    from rolepass.memberships
    where guild_id = ${guildId} and discord_user_id = ${discordUserId}`;
  return rows.length ? membershipRowSchema.parse(rows[0]) : null;
}

/**
 * Creates the member's membership row if there is none. Committed on its own, before anything is
 * asked of Stripe: the row's id names the customer's idempotency key, so it must survive a failed
 * attempt, or the retry would use a new key and could make a second customer. The unique
 * (guild_id, discord_user_id) constraint makes concurrent creation yield one row.
 */
export async function ensureMembership(
  sql: Queryable,
  member: { guildId: string; discordUserId: string; locale: Locale },
): Promise<void> {
  await sql`
    insert into rolepass.memberships (guild_id, discord_user_id, locale, change_cause)
    values (${member.guildId}, ${member.discordUserId}, ${member.locale}, 'join_link')
    on conflict (guild_id, discord_user_id) do nothing`;
}

/**
 * Returns the member's membership locked for update (see {@link ensureMembership}); the lock makes
 * the customer check-and-create one critical section per member.
 */
export async function lockMembership(
  tx: Queryable,
  member: { guildId: string; discordUserId: string },
): Promise<MembershipRow> {
  const rows = await tx`
    select ${tx(MEMBERSHIP_COLUMNS)}
    from rolepass.memberships
    where guild_id = ${member.guildId} and discord_user_id = ${member.discordUserId}
    for update`;
  return membershipRowSchema.parse(rows[0]);
}

/** Stores the Stripe customer created for a membership. */
export async function setMembershipCustomer(
  tx: Queryable,
  membershipId: string,
  customerId: string,
): Promise<void> {
  await tx`
    update rolepass.memberships
    set stripe_customer_id = ${customerId}, change_cause = 'stripe_customer_created',
      change_event_id = null
    where id = ${membershipId}`;
}

/** The sessions already opened with a link token. */
export async function attemptsForLinkToken(
  sql: Queryable,
  linkTokenId: string,
): Promise<AttemptRow[]> {
  const rows = await sql`
    select id, link_token_id, plan_id, kind, stripe_session_id, status, locale
    from rolepass.checkout_attempts where link_token_id = ${linkTokenId}
    order by created_at`;
  return rows.map((row) => attemptRowSchema.parse(row));
}

/** The member's Checkout sessions still recorded as open. */
export async function openCheckoutAttempts(
  sql: Queryable,
  membershipId: string,
): Promise<AttemptRow[]> {
  const rows = await sql`
    select id, link_token_id, plan_id, kind, stripe_session_id, status, locale
    from rolepass.checkout_attempts
    where membership_id = ${membershipId} and kind = 'checkout' and status = 'open'
    order by created_at`;
  return rows.map((row) => attemptRowSchema.parse(row));
}

const sessionAttemptRowSchema = attemptRowSchema.extend({
  membership_id: z.string().uuid(),
  stripe_customer_id: z.string().nullable(),
  completion: checkoutCompletionSchema.shape.status.nullable(),
});
/** A Checkout attempt found by its session id, with its membership's Stripe customer. */
export type SessionAttemptRow = z.infer<typeof sessionAttemptRowSchema>;

/** The Checkout attempt recorded for a Stripe Checkout session id, or null. */
export async function findCheckoutAttemptBySession(
  sql: Queryable,
  stripeSessionId: string,
): Promise<SessionAttemptRow | null> {
  const rows = await sql`
    select a.id, a.link_token_id, a.plan_id, a.kind, a.stripe_session_id, a.status, a.locale,
      a.membership_id, m.stripe_customer_id, a.completion
    from rolepass.checkout_attempts a
    join rolepass.memberships m on m.id = a.membership_id
    where a.stripe_session_id = ${stripeSessionId} and a.kind = 'checkout'`;
  return rows.length ? sessionAttemptRowSchema.parse(rows[0]) : null;
}

/** Records what Stripe says became of an earlier session. */
export async function setAttemptStatus(
  tx: Queryable,
  attemptId: string,
  status: "completed" | "expired",
): Promise<void> {
  await tx`update rolepass.checkout_attempts set status = ${status} where id = ${attemptId}`;
}

/** Records a session Stripe has created (a replayed session is already recorded: no-op). */
export async function recordAttempt(
  tx: Queryable,
  attempt: {
    membershipId: string;
    linkTokenId: string;
    planId: string | null;
    kind: "checkout" | "portal";
    stripeSessionId: string;
    locale: Locale;
  },
): Promise<void> {
  await tx`
    insert into rolepass.checkout_attempts (membership_id, link_token_id, plan_id, kind,
      stripe_session_id, locale)
    values (${attempt.membershipId}, ${attempt.linkTokenId}, ${attempt.planId}, ${attempt.kind},
      ${attempt.stripeSessionId}, ${attempt.locale})
    on conflict (stripe_session_id) do nothing`;
}

/**
 * Claims the right to ask Stripe about an attempt's session now: granted to one request at a time,
 * and only when the session has no recorded completion, is not known to be expired, and was not
 * asked about since `checkedBefore`. Without the claim, the caller answers from the database.
 */
export async function claimSessionCheck(
  sql: Queryable,
  attemptId: string,
  now: Date,
  checkedBefore: Date,
): Promise<boolean> {
  const rows = await sql`
    update rolepass.checkout_attempts set stripe_checked_at = ${now}
    where id = ${attemptId} and completion is null and status <> 'expired'
      and (stripe_checked_at is null or stripe_checked_at <= ${checkedBefore})
    returning id`;
  return rows.length === 1;
}

/** Gives a claim back after Stripe failed, so the member's retry asks again at once. */
export async function releaseSessionCheck(sql: Queryable, attemptId: string): Promise<void> {
  await sql`update rolepass.checkout_attempts set stripe_checked_at = null where id = ${attemptId}`;
}

/** Records that a session completed and what the thank-you page was told about it. */
export async function recordCompletion(
  sql: Queryable,
  attemptId: string,
  completion: CheckoutCompletion["status"],
): Promise<void> {
  await sql`
    update rolepass.checkout_attempts set status = 'completed', completion = ${completion}
    where id = ${attemptId}`;
}

/** The Stripe status the sync last wrote on a membership (`trialing`, `active`, ...). */
export async function findMembershipStatus(
  sql: Queryable,
  membershipId: string,
): Promise<string | null> {
  const [row] = await sql`select status from rolepass.memberships where id = ${membershipId}`;
  return row ? z.string().nullable().parse(row.status) : null;
}

/** Runs `fn` in one transaction. */
export function inTransaction<T>(sql: Sql, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  return sql.begin((tx) => fn(tx)) as Promise<T>;
}
