/**
 * The database reads and writes behind `/rolepass`. Every query names the guild the command was
 * run in, so an operator sees and changes only their own server: a member id of another server
 * finds nothing.
 */
import { z } from "zod";
import type { RecurringPrice, StoredMembership } from "../_core/admin.ts";
import type { RoleJobSummary } from "../_core/messages/admin.ts";
import { type PlanDisplay, planDisplaySchema } from "../_core/operator_text.ts";
import type { Locale } from "../_core/locale.ts";
import { billingIntervalSchema } from "../_core/price.ts";
import { SUBSCRIPTION_STATUSES } from "../_core/stripe_shapes.ts";
import type { Sql } from "../_shared/db.ts";

/** A member's row as `status` reads it. */
export interface MemberRecord {
  membership: StoredMembership;
  /** The comp in force, if an operator gave one. */
  comp: CompRecord | null;
  plan: PlanDisplay | null;
  stripeCustomerId: string | null;
  lastRoleJob: RoleJobSummary | null;
}

/** A comp as `status` shows it. */
export interface CompRecord {
  roleId: string;
  expiresAt: Date | null;
}

/** What recording a comp did: refused (nothing changed), or given with its role job queued. */
export type CompGrant =
  | { ok: false; reason: "not_a_plan_role" | "date_passed" }
  | { ok: true; plan: PlanDisplay | null; expiresAt: Date | null; replacedRoleId: string | null };

/** Members of one plan and status. */
export interface MemberCount {
  plan: PlanDisplay | null;
  status: string | null;
  count: number;
}

/** The guild's role queue. */
export interface QueueHealth {
  pending: number;
  running: number;
  failed: number;
  oldestOpenAt: Date | null;
}

/** What `/rolepass` reads and writes, per guild. */
export interface AdminStore {
  member(guildId: string, memberId: string): Promise<MemberRecord | null>;
  memberCounts(guildId: string): Promise<MemberCount[]>;
  entitledPrices(guildId: string): Promise<RecurringPrice[]>;
  queueHealth(guildId: string): Promise<QueueHealth>;
  failedRoleJobs(guildId: string, limit: number): Promise<RoleJobSummary[]>;
  /** Puts the guild's failed role jobs back in the queue; returns how many. */
  retryFailedRoleJobs(guildId: string): Promise<number>;
  /**
   * Gives `memberId` the role of the plan whose role is `roleId`, free, through `lastDay`
   * (`YYYY-MM-DD`, in the server's accounting time zone) or until revoked; replaces the member's
   * previous comp and queues the role job.
   */
  grantComp(
    guildId: string,
    memberId: string,
    roleId: string,
    reason: string,
    lastDay: string | null,
  ): Promise<CompGrant>;
  /** Ends the member's comp and queues the role job; returns its role, null when there was none. */
  revokeComp(guildId: string, memberId: string): Promise<string | null>;
  /**
   * Records work role-sync does and answers through the interaction's token (which is kept only
   * until it is answered or expires), or says why there is nothing to do.
   */
  requestAdminWork(work: AdminWork): Promise<AdminWorkRequest>;
}

/** `/rolepass resync`, `health`, `onboarding` or `dashboard`, handed to role-sync. */
export interface AdminWork {
  guildId: string;
  kind: "resync" | "health" | "onboarding" | "dashboard";
  operatorId: string;
  /** resync's member, and the roles Discord said they hold (null when it did not say). */
  memberId: string | null;
  memberRoleIds: readonly string[] | null;
  locale: Locale;
  applicationId: string;
  interactionToken: string;
}

/** Whether the work was recorded, or why not (nothing was recorded). */
export type AdminWorkRequest =
  | { ok: true }
  | { ok: false; reason: "unknown_guild" | "unknown_member" | "no_customer" };

const adminWorkRow = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), id: z.number() }),
  z.object({
    ok: z.literal(false),
    reason: z.enum(["unknown_guild", "unknown_member", "no_customer"]),
  }),
]);

const compGrantRow = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(false), reason: z.enum(["not_a_plan_role", "date_passed"]) }),
  z.object({
    ok: z.literal(true),
    plan: planDisplaySchema.nullable(),
    expiresAt: z.coerce.date().nullable(),
    replacedRoleId: z.string().nullable(),
  }),
]);

const date = z.coerce.date();

const roleJobRow = z.object({
  id: z.coerce.number(),
  discord_user_id: z.string(),
  entitled: z.boolean(),
  role_id: z.string().nullable(),
  previous_role_id: z.string().nullable(),
  status: z.enum(["pending", "running", "done", "failed"]),
  outcome: z.string().nullable(),
  last_error: z.string().nullable(),
  updated_at: date,
});

function roleJobSummary(row: z.infer<typeof roleJobRow>): RoleJobSummary {
  return {
    id: row.id,
    memberId: row.discord_user_id,
    grants: row.entitled,
    // A removal names the role it took (previous_role_id); a grant names the role it gave.
    roleId: row.entitled ? row.role_id : (row.previous_role_id ?? row.role_id),
    status: row.status,
    outcome: row.outcome,
    lastError: row.last_error,
    at: row.updated_at,
  };
}

const memberRow = z.object({
  status: z.enum(SUBSCRIPTION_STATUSES).nullable(),
  current_period_end: date.nullable(),
  cancel_at: date.nullable(),
  cancel_at_period_end: z.boolean(),
  past_due_since: date.nullable(),
  entitled: z.boolean(),
  revoked_reason: z.enum(["refund", "dispute"]).nullable(),
  past_due_grace_ms: z.coerce.number(),
  stripe_customer_id: z.string().nullable(),
  display: planDisplaySchema.nullable(),
  job: roleJobRow.nullable(),
  comp: z.object({ roleId: z.string(), expiresAt: z.coerce.date().nullable() }).nullable(),
});

const countRow = z.object({
  display: planDisplaySchema.nullable(),
  status: z.string().nullable(),
  count: z.coerce.number(),
});

const priceRow = z.object({
  unit_amount: z.coerce.number(),
  currency: z.string(),
  billing_interval: billingIntervalSchema,
  interval_count: z.coerce.number(),
});

const queueRow = z.object({
  pending: z.coerce.number(),
  running: z.coerce.number(),
  failed: z.coerce.number(),
  oldest_open_at: date.nullable(),
});

/** The store on the functions' Postgres connection. */
export function createAdminStore(sql: Sql): AdminStore {
  return {
    async member(guildId, memberId) {
      const rows = await sql`
        select m.status, m.current_period_end, m.cancel_at, m.cancel_at_period_end,
          m.past_due_since, m.entitled, m.revoked_reason, m.stripe_customer_id,
          extract(epoch from g.past_due_grace) * 1000 as past_due_grace_ms, p.display,
          (select to_jsonb(j) from rolepass.role_jobs j
            where j.membership_id = m.id order by j.id desc limit 1) as job,
          (select jsonb_build_object('roleId', c.discord_role_id, 'expiresAt', c.expires_at)
            from rolepass.role_comps c
            where c.guild_id = m.guild_id and c.discord_user_id = m.discord_user_id
              and (c.expires_at is null or c.expires_at > now())
            -- A comp holds a row per role of its plan: the plan's first role names it.
            order by c.expires_at desc nulls first,
              exists (select 1 from rolepass.plans p
                where p.guild_id = c.guild_id and p.discord_role_id = c.discord_role_id) desc
            limit 1) as comp
        from rolepass.memberships m
        join rolepass.guilds g on g.id = m.guild_id
        left join rolepass.plans p on p.id = m.plan_id
        where m.guild_id = ${guildId} and m.discord_user_id = ${memberId}`;
      if (rows.length === 0) return null;
      const row = memberRow.parse(rows[0]);
      return {
        membership: {
          status: row.status,
          currentPeriodEnd: row.current_period_end,
          cancelAt: row.cancel_at,
          cancelAtPeriodEnd: row.cancel_at_period_end,
          pastDueSince: row.past_due_since,
          entitled: row.entitled,
          revokedReason: row.revoked_reason,
          pastDueGraceMs: row.past_due_grace_ms,
        },
        comp: row.comp,
        plan: row.display,
        stripeCustomerId: row.stripe_customer_id,
        lastRoleJob: row.job ? roleJobSummary(row.job) : null,
      };
    },

    async memberCounts(guildId) {
      const rows = await sql`
        select p.display, m.status, count(*) as count
        from rolepass.memberships m
        left join rolepass.plans p on p.id = m.plan_id
        where m.guild_id = ${guildId} and m.status is not null
        group by p.id, p.display, p.sort_order, m.status
        order by p.sort_order nulls last, m.status`;
      return rows.map((row) => {
        const parsed = countRow.parse(row);
        return { plan: parsed.display, status: parsed.status, count: parsed.count };
      });
    },

    async entitledPrices(guildId) {
      const rows = await sql`
        select p.unit_amount, p.currency, p.billing_interval, p.interval_count
        from rolepass.memberships m
        join rolepass.plans p on p.id = m.plan_id
        -- A one-time pass (no billing interval) is no recurring revenue.
        where m.guild_id = ${guildId} and m.entitled and p.billing_interval is not null`;
      return rows.map((row) => {
        const parsed = priceRow.parse(row);
        return {
          unitAmount: parsed.unit_amount,
          currency: parsed.currency,
          interval: parsed.billing_interval,
          intervalCount: parsed.interval_count,
        };
      });
    },

    async queueHealth(guildId) {
      const [row] = await sql`
        select count(*) filter (where j.status = 'pending') as pending,
          count(*) filter (where j.status = 'running') as running,
          count(*) filter (where j.status = 'failed') as failed,
          min(j.created_at) filter (where j.status in ('pending', 'running')) as oldest_open_at
        from rolepass.role_jobs j
        where j.guild_id = ${guildId} and j.status in ('pending', 'running', 'failed')`;
      const parsed = queueRow.parse(row);
      return {
        pending: parsed.pending,
        running: parsed.running,
        failed: parsed.failed,
        oldestOpenAt: parsed.oldest_open_at,
      };
    },

    async failedRoleJobs(guildId, limit) {
      const rows = await sql`
        select j.id, j.discord_user_id, j.entitled, j.role_id, j.previous_role_id, j.status,
          j.outcome, j.last_error, j.updated_at
        from rolepass.role_jobs j
        where j.guild_id = ${guildId} and j.status = 'failed'
        order by j.updated_at desc, j.id desc
        limit ${limit}`;
      return rows.map((row) => roleJobSummary(roleJobRow.parse(row)));
    },

    async retryFailedRoleJobs(guildId) {
      const [row] = await sql`select rolepass.retry_failed_role_jobs(${guildId}) as requeued`;
      return z.object({ requeued: z.coerce.number() }).parse(row).requeued;
    },

    async grantComp(guildId, memberId, roleId, reason, lastDay) {
      const [row] = await sql`
        select rolepass.grant_role_comp(${guildId}, ${memberId}, ${roleId}, ${reason},
          ${lastDay}::date) as grant`;
      return compGrantRow.parse(z.object({ grant: z.unknown() }).parse(row).grant);
    },

    async requestAdminWork(work) {
      const [row] = await sql`
        select rolepass.request_admin_work(${work.guildId}, ${work.kind}, ${work.operatorId},
          ${work.memberId}, ${work.memberRoleIds ? [...work.memberRoleIds] : null}::text[],
          ${work.locale}, ${work.applicationId}, ${work.interactionToken}) as request`;
      const request = adminWorkRow.parse(z.object({ request: z.unknown() }).parse(row).request);
      return request.ok ? { ok: true } : request;
    },

    async revokeComp(guildId, memberId) {
      const [row] = await sql`
        select rolepass.revoke_role_comp(${guildId}, ${memberId}) as role_id`;
      return z.object({ role_id: z.string().nullable() }).parse(row).role_id;
    },
  };
}
