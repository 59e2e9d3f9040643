/**
 * The Postgres side of reconciliation: a guild's paid roles, policy and pass state; what rolepass
 * knows of a page of members; comps; queueing repairs; recording what a pass did.
 */
import { z } from "zod";
import type {
  Drift,
  DriftPolicy,
  MemberEntitlementFacts,
  Repair,
} from "../_core/reconciliation.ts";
import { compKey } from "../_core/reconciliation.ts";
import { type Locale, localeSchema } from "../_core/locale.ts";
import { oneRow, type Sql } from "../_shared/db.ts";

/** How a pass read the guild's members. */
export type ReadMode = "list" | "known_members";

/** Where a pass ended. */
export type PassStatus = "in_progress" | "completed" | "deferred" | "stopped";

/** What a pass has counted, summed over the runs that resumed one another. */
export interface PassCounts {
  membersChecked: number;
  missingRoles: number;
  unpaidRoles: number;
  comped: number;
  repairsQueued: number;
}

/** A pass still to be carried on. */
export interface ResumablePass {
  mode: ReadMode;
  resumeAfter: string;
  startedAt: Date;
  counts: PassCounts;
  findings: Drift[];
}

/** What the pass needs to know about the guild. */
export interface GuildReconcileContext {
  guildId: string;
  /** Roles of every plan of the guild, active or not. */
  paidRoleIds: Set<string>;
  policy: DriftPolicy;
  operatorLogChannelId: string | null;
  operatorLocale: Locale;
  /** Set when an earlier run stopped part-way (for time or Discord's refusal). */
  resumable: ResumablePass | null;
}

/** What a run records at its end. */
export interface PassRecord {
  status: PassStatus;
  mode: ReadMode | null;
  resumeAfter: string | null;
  startedAt: Date;
  counts: PassCounts;
  findings: Drift[];
  lastError: string | null;
  /** Run again in about a minute (a run cut short), rather than at the next interval. */
  runSoon: boolean;
}

/** The reconciliation queries. */
export interface ReconciliationStore {
  loadGuild(guildId: string): Promise<GuildReconcileContext | null>;
  /** Whether the guild has live role jobs due now (a pass then waits). */
  hasDueLiveJobs(guildId: string): Promise<boolean>;
  entitlements(guildId: string, userIds: string[]): Promise<Map<string, MemberEntitlementFacts>>;
  comps(guildId: string, userIds: string[]): Promise<Set<string>>;
  /** Members rolepass knows in the guild, in Discord's id order, after `after`. */
  knownMembers(guildId: string, after: string | null, limit: number): Promise<string[]>;
  enqueueRepairs(
    guildId: string,
    repairs: Repair[],
    maxJobs: number,
    spacingMs: number,
  ): Promise<number>;
  record(guildId: string, pass: PassRecord): Promise<void>;
  /** Takes the right to tell the operator the pass stopped: true once per stop. */
  beginStopAlert(guildId: string): Promise<boolean>;
}

const driftSchema = z.array(z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("missing_role"), userId: z.string(), roleId: z.string() }),
  z.object({
    kind: z.literal("unpaid_role"),
    userId: z.string(),
    roleId: z.string(),
    rolepassGranted: z.boolean(),
  }),
]));

const guildRowSchema = z.object({
  id: z.string(),
  role_drift_policy: z.enum(["report", "remove"]),
  operator_log_channel_id: z.string().nullable(),
  default_locale: localeSchema,
  paid_role_ids: z.array(z.string()),
  status: z.string().nullable(),
  mode: z.enum(["list", "known_members"]).nullable(),
  resume_after: z.string().nullable(),
  started_at: z.date().nullable(),
  members_checked: z.number().int().nullable(),
  missing_roles: z.number().int().nullable(),
  unpaid_roles: z.number().int().nullable(),
  comped: z.number().int().nullable(),
  repairs_queued: z.number().int().nullable(),
  findings: z.unknown(),
});

/** The store over a postgres.js client. */
export function createReconciliationStore(sql: Sql): ReconciliationStore {
  return {
    async loadGuild(guildId) {
      const rows = await sql`
        select g.id, g.role_drift_policy, g.operator_log_channel_id, g.default_locale,
          -- A trial's own roles are sold roles too: held without a trial, they are drift.
          array(select distinct r from rolepass.plans p,
              unnest(p.discord_role_ids || coalesce(p.trial_role_ids, '{}')) r
            where p.guild_id = g.id) as paid_role_ids,
          r.status, r.mode, r.resume_after, r.started_at, r.members_checked, r.missing_roles,
          r.unpaid_roles, r.comped, r.repairs_queued, r.findings
        from rolepass.guilds g
        left join rolepass.guild_reconciliations r on r.guild_id = g.id
        where g.id = ${guildId}`;
      if (rows.length === 0) return null;
      const row = guildRowSchema.parse(rows[0]);
      const resumable = row.status !== "completed" && row.status !== "idle" &&
          row.mode && row.resume_after && row.started_at
        ? {
          mode: row.mode,
          resumeAfter: row.resume_after,
          startedAt: row.started_at,
          counts: {
            membersChecked: row.members_checked ?? 0,
            missingRoles: row.missing_roles ?? 0,
            unpaidRoles: row.unpaid_roles ?? 0,
            comped: row.comped ?? 0,
            repairsQueued: row.repairs_queued ?? 0,
          },
          findings: driftSchema.catch([]).parse(row.findings),
        }
        : null;
      return {
        guildId: row.id,
        paidRoleIds: new Set(row.paid_role_ids),
        policy: row.role_drift_policy,
        operatorLogChannelId: row.operator_log_channel_id,
        operatorLocale: row.default_locale,
        resumable,
      };
    },

    async hasDueLiveJobs(guildId) {
      const row = oneRow(
        await sql<{ busy: boolean }[]>`
        select exists (
          select 1 from rolepass.role_jobs j
          where j.guild_id = ${guildId} and j.status in ('pending', 'running')
            and j.next_attempt_at <= now()
        ) as busy`,
        "whether the guild has due role jobs",
      );
      return row.busy;
    },

    async entitlements(guildId, userIds) {
      if (userIds.length === 0) return new Map();
      const rows = await sql<
        { discord_user_id: string; entitled_role_ids: string[]; managed: string[] }[]
      >`
        select m.discord_user_id,
          case when m.entitled then m.entitled_role_ids::text[] else '{}' end
            as entitled_role_ids,
          rolepass.managed_role_ids(m.id) as managed
        from rolepass.memberships m
        where m.guild_id = ${guildId} and m.discord_user_id = any (${userIds}::text[])`;
      return new Map(rows.map((row) => [row.discord_user_id, {
        entitledRoleIds: row.entitled_role_ids,
        managedRoleIds: row.managed,
      }]));
    },

    async comps(guildId, userIds) {
      if (userIds.length === 0) return new Set();
      const rows = await sql<{ discord_user_id: string; discord_role_id: string }[]>`
        select c.discord_user_id, c.discord_role_id from rolepass.role_comps c
        where c.guild_id = ${guildId} and c.discord_user_id = any (${userIds}::text[])
          and (c.expires_at is null or c.expires_at > now())`;
      return new Set(rows.map((row) => compKey(row.discord_user_id, row.discord_role_id)));
    },

    async knownMembers(guildId, after, limit) {
      // Ids ordered as Discord orders them (as numbers): by length, then by text.
      const rows = await sql<{ discord_user_id: string }[]>`
        select m.discord_user_id from rolepass.memberships m
        where m.guild_id = ${guildId}
          and (${after}::text is null
            or (length(m.discord_user_id), m.discord_user_id) > (length(${after}), ${after}))
        order by length(m.discord_user_id), m.discord_user_id
        limit ${limit}`;
      return rows.map((row) => row.discord_user_id);
    },

    async enqueueRepairs(guildId, repairs, maxJobs, spacingMs) {
      if (repairs.length === 0 || maxJobs <= 0) return 0;
      const row = oneRow(
        await sql<{ queued: number }[]>`
        select rolepass.enqueue_role_repairs(${guildId}, ${sql.json(repairs)}, ${maxJobs},
          ${spacingMs}) as queued`,
        "enqueue_role_repairs's result",
      );
      return row.queued;
    },

    async record(guildId, pass) {
      const { counts } = pass;
      await sql`
        insert into rolepass.guild_reconciliations as r (guild_id, next_run_at, status, mode,
          resume_after, started_at, finished_at, members_checked, missing_roles, unpaid_roles,
          comped, repairs_queued, findings, last_error, alerted_at)
        values (${guildId}, now() + interval '1 minute', ${pass.status}, ${pass.mode},
          ${pass.resumeAfter}, ${pass.startedAt}, now(), ${counts.membersChecked},
          ${counts.missingRoles}, ${counts.unpaidRoles}, ${counts.comped},
          ${counts.repairsQueued}, ${sql.json(pass.findings)}, ${pass.lastError}, null)
        on conflict (guild_id) do update set
          next_run_at = case when ${pass.runSoon}
            then least(r.next_run_at, now() + interval '1 minute') else r.next_run_at end,
          status = excluded.status, mode = excluded.mode, resume_after = excluded.resume_after,
          started_at = excluded.started_at, finished_at = excluded.finished_at,
          members_checked = excluded.members_checked, missing_roles = excluded.missing_roles,
          unpaid_roles = excluded.unpaid_roles, comped = excluded.comped,
          repairs_queued = excluded.repairs_queued, findings = excluded.findings,
          last_error = excluded.last_error,
          alerted_at = case when excluded.status = 'completed' then null else r.alerted_at end`;
    },

    async beginStopAlert(guildId) {
      const rows = await sql`
        update rolepass.guild_reconciliations set alerted_at = now()
        where guild_id = ${guildId} and alerted_at is null
        returning guild_id`;
      return rows.length > 0;
    },
  };
}
