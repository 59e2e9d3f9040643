/**
 * The role-job queue in Postgres, as role-sync sees it: claim with a lease, read the member's
 * current entitlement, record outcomes, notices and alerts. Every write names the claim, so a
 * worker whose lease expired cannot overwrite the work of the one that took the job over.
 */
import { z } from "zod";
import { roleEndReason, rolesHeldNow, SUBSCRIPTION_ENDED_FOR } from "../_core/entitlement.ts";
import { type PlanDisplay, planDisplaySchema } from "../_core/operator_text.ts";
import { type Locale, localeSchema } from "../_core/locale.ts";
import type { OperatorAlert, RoleNotice } from "../_core/messages/role_notice.ts";
import { oneRow, type Sql } from "../_shared/db.ts";

const claimedJobSchema = z.object({
  id: z.coerce.number().int(),
  membership_id: z.string(),
  guild_id: z.string(),
  discord_user_id: z.string(),
  role_id: z.string().nullable(),
  previous_role_id: z.string().nullable(),
  cause: z.string(),
  attempts: z.number().int(),
  claim_id: z.string(),
  notice_status: z.string().nullable(),
  roles_applied_at: z.date().nullable(),
  roles_applied_role_id: z.string().nullable(),
  role_ids: z.array(z.string()),
  previous_role_ids: z.array(z.string()),
  roles_applied_role_ids: z.array(z.string()).nullable(),
  /** One member's own change caused the job: its calls go before bulk work's. */
  live: z.boolean(),
});

/** A job this worker holds the lease of. */
export type ClaimedJob = z.infer<typeof claimedJobSchema>;

const memberRowSchema = z.object({
  guild_id: z.string(),
  discord_user_id: z.string(),
  locale: localeSchema,
  entitled: z.boolean(),
  entitled_role_id: z.string().nullable(),
  entitled_role_ids: z.array(z.string()),
  cancel_at: z.date().nullable(),
  revoked_reason: z.enum(["refund", "dispute"]).nullable(),
  status: z.string().nullable(),
  /** Why Stripe ended the subscription, as the sync stored it (entitlement.ts roleEndReason). */
  ended_for: z.enum(SUBSCRIPTION_ENDED_FOR).nullable(),
  change_cause: z.string(),
  stripe_subscription_id: z.string().nullable(),
  guild_name: z.string(),
  operator_log_channel_id: z.string().nullable(),
  guild_locale: localeSchema,
  entitled_plan_display: z.unknown().nullable(),
  membership_plan_display: z.unknown().nullable(),
  managed_role_ids: z.array(z.string()),
  interaction_token: z.string().nullable(),
  interaction_application_id: z.string().nullable(),
  comps: z.array(z.object({
    roleId: z.string(),
    expiresAt: z.coerce.date().nullable(),
    plan: z.unknown().nullable(),
  })),
  read_at: z.date(),
});

/** The member as the job must make Discord show them, read when the job runs. */
export interface MemberState {
  guildId: string;
  guildName: string;
  memberId: string;
  locale: Locale;
  /** Every role the member should hold now: the membership's, and each comp's in force. */
  roleIds: string[];
  /** The role messages name: the membership's first, else a comp's; null when none is held. */
  namedRoleId: string | null;
  /** The roles held through the membership (paid, or a trial's). */
  paidRoleIds: string[];
  /** Whether the member holds roles by comps only, not through a membership. */
  heldByComp: boolean;
  managedRoleIds: string[];
  /** The plan that grants the entitled role, or the membership's plan when not entitled. */
  plan: PlanDisplay | null;
  /** When a scheduled cancel ends the role. */
  endsAt: Date | null;
  /** Why the role ends early: a refund, a dispute, or a renewal never paid (grace over). */
  revokedReason: "refund" | "dispute" | "payment_failed" | null;
  stripeSubscriptionId: string | null;
  operatorLogChannelId: string | null;
  operatorLocale: Locale;
  /** A live interaction token for a follow-up (never logged), with its application. */
  interaction: { token: string; applicationId: string } | null;
}

/** Final states a job can be closed with. */
export type JobOutcome =
  | "applied"
  | "member_not_in_guild"
  | "membership_gone"
  | "unknown_role"
  | "missing_permissions"
  | "missing_access"
  | "unknown_guild"
  | "unauthorized"
  | "forbidden"
  | "invalid_request"
  | "gave_up";

/** The queue operations role-sync needs. */
export interface RoleJobStore {
  claim(maxJobs: number, leaseSeconds: number): Promise<ClaimedJob[]>;
  loadMember(membershipId: string): Promise<MemberState | null>;
  finish(
    job: ClaimedJob,
    status: "done" | "failed",
    outcome: JobOutcome,
    error?: string,
  ): Promise<boolean>;
  retry(
    job: ClaimedJob,
    delayMs: number,
    error: string,
    countsAsAttempt: boolean,
  ): Promise<boolean>;
  /** Records that the job's role calls succeeded, leaving the member with `roleIds`. */
  recordRolesApplied(job: ClaimedJob, roleIds: readonly string[]): Promise<boolean>;
  /**
   * Finishes the job as applied in one statement: records the roles its calls left the member
   * with (null: it made none) and queues the member's message about the change (null: none).
   */
  finishApplied(
    job: ClaimedJob,
    appliedRoleIds: readonly string[] | null,
    notice: RoleNotice | null,
  ): Promise<boolean>;
  /** Marks the failed job alerted and queues the operator's message, once per failure. */
  alertFailure(job: ClaimedJob, alert: Omit<OperatorAlert, "locale">): Promise<boolean>;
  queueStatus(): Promise<QueueStatus>;
}

/** What GET /role-sync/health reports. */
export interface QueueStatus {
  pending: number;
  failing: number;
  failed: number;
  running: number;
  /** Seconds the oldest due job has waited past its due time; 0 when none is due. */
  oldestDueAgeSeconds: number;
}

function parsePlan(value: unknown): PlanDisplay | null {
  const parsed = planDisplaySchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** The store over a postgres.js client. */
export function createRoleJobStore(sql: Sql): RoleJobStore {
  return {
    async claim(maxJobs, leaseSeconds) {
      const rows = await sql`select * from rolepass.claim_role_jobs(${maxJobs}, ${leaseSeconds})`;
      return rows.map((row) => claimedJobSchema.parse(row));
    },

    async loadMember(membershipId) {
      const rows = await sql`
        select m.guild_id, m.discord_user_id, m.locale, m.entitled, m.entitled_role_id,
          m.entitled_role_ids::text[] as entitled_role_ids, m.cancel_at,
          m.revoked_reason, m.stripe_subscription_id,
          m.status, m.ended_for, m.change_cause,
          g.name as guild_name, g.operator_log_channel_id, g.default_locale as guild_locale,
          (select p.display from rolepass.plans p
            where p.guild_id = m.guild_id and m.entitled_role_id = any (p.discord_role_ids)
            order by (p.id = m.plan_id) desc, p.active desc limit 1) as entitled_plan_display,
          (select p.display from rolepass.plans p where p.id = m.plan_id)
            as membership_plan_display,
          rolepass.managed_role_ids(m.id) as managed_role_ids,
          t.token as interaction_token, t.application_id as interaction_application_id,
          (select coalesce(jsonb_agg(jsonb_build_object('roleId', c.discord_role_id,
              'expiresAt', c.expires_at,
              'plan', (select p.display from rolepass.plans p
                where p.guild_id = c.guild_id and p.discord_role_id = c.discord_role_id
                order by p.active desc limit 1))), '[]'::jsonb)
            from rolepass.role_comps c
            where c.guild_id = m.guild_id and c.discord_user_id = m.discord_user_id) as comps,
          -- Comps expire by the database's clock, as the sweep that ends them reads it.
          now() as read_at
        from rolepass.memberships m
        join rolepass.guilds g on g.id = m.guild_id
        -- Discord interaction tokens live 15 minutes; one about to expire is not worth trying.
        left join rolepass.interaction_tokens t on t.guild_id = m.guild_id
          and t.discord_user_id = m.discord_user_id
          and t.expires_at > now() + interval '30 seconds'
        where m.id = ${membershipId}`;
      if (rows.length === 0) return null;
      const row = memberRowSchema.parse(rows[0]);
      const held = rolesHeldNow(
        { entitled: row.entitled, entitledRoleIds: row.entitled_role_ids },
        row.comps,
        row.read_at,
      );
      const namedRoleId = held.roleId;
      const compPlan = row.comps.find((comp) => comp.roleId === namedRoleId)?.plan;
      return {
        guildId: row.guild_id,
        guildName: row.guild_name,
        memberId: row.discord_user_id,
        locale: row.locale,
        roleIds: held.roleIds,
        namedRoleId,
        paidRoleIds: held.paidRoleIds,
        heldByComp: held.source === "comp",
        managedRoleIds: row.managed_role_ids,
        plan: parsePlan(
          held.source === "comp"
            ? compPlan
            : namedRoleId
            ? row.entitled_plan_display
            : row.membership_plan_display,
        ),
        // The sync stores the scheduled cancel the core decided, in either billing mode.
        endsAt: row.cancel_at,
        // Why Stripe ended it is the fact the sync stored, not the status it ended from.
        revokedReason: roleEndReason({
          revokedReason: row.revoked_reason,
          endedFor: row.ended_for,
          status: row.status,
          changeCause: row.change_cause,
        }),
        stripeSubscriptionId: row.stripe_subscription_id,
        operatorLogChannelId: row.operator_log_channel_id,
        operatorLocale: row.guild_locale,
        interaction: row.interaction_token && row.interaction_application_id
          ? { token: row.interaction_token, applicationId: row.interaction_application_id }
          : null,
      };
    },

    async finish(job, status, outcome, error) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.finish_role_job(${job.id}, ${job.claim_id}, ${status}, ${outcome},
          ${error ?? null}) as ok`,
        "finish_role_job's result",
      );
      return row.ok;
    },

    async retry(job, delayMs, error, countsAsAttempt) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.retry_role_job(${job.id}, ${job.claim_id}, ${Math.round(delayMs)},
          ${error}, ${countsAsAttempt}) as ok`,
        "retry_role_job's result",
      );
      return row.ok;
    },

    async recordRolesApplied(job, roleIds) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.record_role_job_role_set_applied(${job.id}, ${job.claim_id},
          ${[...roleIds]}::text[]) as ok`,
        "record_role_job_role_set_applied's result",
      );
      return row.ok;
    },

    async finishApplied(job, appliedRoleIds, notice) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.finish_role_job_applied(${job.id}, ${job.claim_id},
          ${appliedRoleIds ? [...appliedRoleIds] : null}::text[], 'role_change',
          ${notice ? sql.json(JSON.parse(JSON.stringify(notice))) : null}) as ok`,
        "finish_role_job_applied's result",
      );
      return row.ok;
    },

    async alertFailure(job, alert) {
      const row = oneRow(
        await sql<{ ok: boolean }[]>`
        select rolepass.alert_role_job_failure(${job.id}, ${sql.json(alert)}) as ok`,
        "alert_role_job_failure's result",
      );
      return row.ok;
    },

    async queueStatus() {
      const row = oneRow(
        await sql<
          {
            pending: string;
            failing: string;
            failed: string;
            running: string;
            oldest_due_age_seconds: number | null;
          }[]
        >`
        select s.pending, s.failing, s.failed, s.running,
          (select extract(epoch from now() - min(j.next_attempt_at))::float8
            from rolepass.role_jobs j
            where j.status in ('pending', 'running') and j.next_attempt_at <= now())
            as oldest_due_age_seconds
        from rolepass.role_job_queue_status s`,
        "the role job queue's status",
      );
      return {
        pending: Number(row.pending),
        failing: Number(row.failing),
        failed: Number(row.failed),
        running: Number(row.running),
        oldestDueAgeSeconds: Math.max(0, row.oldest_due_age_seconds ?? 0),
      };
    },
  };
}
