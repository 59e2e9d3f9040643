/**
 * The reconciliation pass of one guild: read the members' real roles from Discord, compare them
 * with entitlement ({@linkcode planRepairs}) and queue the role jobs that repair the difference.
 *
 * Members are read in pages of up to 1000 (List Guild Members). That needs the Server Members
 * privileged intent; without it Discord answers 403 50001 and the pass reads the members rolepass
 * knows one by one (Get Guild Member), which cannot see a paid role given to a stranger: the mode
 * is recorded so the operator can tell. Every call goes through the rate limits role-sync shares
 * (functions/_shared/discord_rate_limits.ts). A run that runs out of time or budget records where
 * it stopped and the next run carries on from there. If Discord refuses to show the guild (the bot
 * was removed or lost its permissions), the pass stops, the operator is told once, and the next
 * run tries again from the same place.
 */
import { z } from "zod";
import { reconciliationStoppedMessage } from "../_core/messages/reconciliation_alert.ts";
import { type DiscordMember, type Drift, planRepairs } from "../_core/reconciliation.ts";
import { discordRoutes } from "../_shared/discord_api.ts";
import type { RateLimitedDiscord, RateLimitedResult } from "../_shared/discord_rate_limits.ts";
import type { Logger } from "../_shared/log.ts";
import type {
  GuildReconcileContext,
  PassCounts,
  PassStatus,
  ReadMode,
  ReconciliationStore,
} from "./reconciliation_store.ts";

/** What a pass needs. */
export interface ReconcileDeps {
  store: ReconciliationStore;
  discord: RateLimitedDiscord;
  logger: Logger;
  now: () => Date;
  /** Per Discord call. */
  discordTimeoutMs: number;
  /** Members per List Guild Members page; Discord allows 1 to 1000. */
  pageSize: number;
  /** Members rolepass knows, read one by one per batch in the fallback mode. */
  knownMembersBatch: number;
  /** Repair jobs one run queues at most, so a large drift never floods the queue. */
  maxRepairsPerRun: number;
  /** Repairs are due this far apart (Discord's role bucket is 10 changes per 10 s per guild). */
  repairSpacingMs: number;
}

/** Defaults for production. */
export const RECONCILE_DEFAULTS = {
  pageSize: 1000,
  knownMembersBatch: 100,
  maxRepairsPerRun: 500,
  repairSpacingMs: 1_000,
} as const;

/** What one run came to. */
export interface ReconcileResult {
  guildId: string;
  status: PassStatus | "unknown_guild";
  mode: ReadMode | null;
  counts: PassCounts;
  /** Up to 100 differences found. */
  findings: Drift[];
  /** Why the run stopped early, when it did. */
  detail: string | null;
}

/** The most differences kept for the operator. */
const KEPT_FINDINGS = 100;

const memberPageSchema = z.array(z.object({
  user: z.object({ id: z.string() }),
  roles: z.array(z.string()),
}));

const memberSchema = z.object({ roles: z.array(z.string()) });

/** What an answer to a member read means for the pass. */
type Answer =
  | { kind: "ok"; body: unknown }
  /** 10007: this user is not in the guild (the one-by-one read skips them). */
  | { kind: "not_member" }
  /** Try later from the same place: rate limits, a timeout, an outage. */
  | { kind: "later"; detail: string }
  /** Discord will not show this guild's members: the bot lost access or permissions. */
  | { kind: "refused"; detail: string; code: number | null };

function describe(result: Exclude<RateLimitedResult, { kind: "response" }>): string {
  switch (result.kind) {
    case "deferred":
      return `waiting ${result.waitMs} ms for a Discord rate-limit slot`;
    case "timeout":
      return "Discord timed out";
    case "network":
      return `Cannot reach Discord: ${result.message}`;
  }
}

function classify(result: RateLimitedResult): Answer {
  if (result.kind !== "response") return { kind: "later", detail: describe(result) };
  const { status, code, body } = result.response;
  if (status === 200) return { kind: "ok", body };
  const detail = `Discord answered ${status}${code === null ? "" : ` (code ${code})`}`;
  if (code === 10007) return { kind: "not_member" };
  if (status === 429 || status >= 500) return { kind: "later", detail };
  return { kind: "refused", detail, code };
}

/**
 * Runs (or carries on) the pass of `guildId` until it has read every member or `deadline` (epoch
 * ms) is near. With `dryRun`, nothing is queued or recorded: the drift report.
 */
export async function reconcileGuild(
  deps: ReconcileDeps,
  guildId: string,
  deadline: number,
  options: { dryRun?: boolean } = {},
): Promise<ReconcileResult> {
  const dryRun = options.dryRun ?? false;
  const log = deps.logger.child({ guildId, dryRun });
  const context = await deps.store.loadGuild(guildId);
  const counts: PassCounts = {
    membersChecked: 0,
    missingRoles: 0,
    unpaidRoles: 0,
    comped: 0,
    repairsQueued: 0,
  };
  if (!context) {
    return { guildId, status: "unknown_guild", mode: null, counts, findings: [], detail: null };
  }
  const resumed = dryRun ? null : context.resumable;
  const findings: Drift[] = resumed ? [...resumed.findings] : [];
  if (resumed) Object.assign(counts, resumed.counts);
  let mode: ReadMode = resumed?.mode ?? "list";
  let after: string | null = resumed?.resumeAfter ?? null;
  const startedAt = resumed?.startedAt ?? deps.now();
  let queuedThisRun = 0;

  const end = async (status: PassStatus, detail: string | null): Promise<ReconcileResult> => {
    const result = { guildId, status, mode, counts, findings, detail };
    if (dryRun) return result;
    await deps.store.record(guildId, {
      status,
      mode,
      resumeAfter: status === "completed" ? null : after,
      startedAt,
      counts,
      findings,
      lastError: detail,
      runSoon: status === "in_progress" || status === "deferred",
    });
    if (status === "stopped") await alertOperator(deps, context, counts, detail ?? "");
    log.info("reconciliation run ended", { status, mode, ...counts, detail });
    return result;
  };

  // Live role jobs come first: a pass that would add repairs behind them waits for its next run.
  if (!dryRun && await deps.store.hasDueLiveJobs(guildId)) {
    return await end("deferred", "live role jobs are due");
  }

  while (true) {
    if (deps.now().getTime() > deadline - deps.discordTimeoutMs) {
      return await end("in_progress", "out of time; the next run carries on");
    }
    const read = mode === "list"
      ? await readPage(deps, guildId, after, deadline)
      : await readKnownMembers(deps, guildId, after, deadline);
    if (read.kind === "no_intent") {
      log.info("no Server Members intent: reading the members rolepass knows, one by one");
      mode = "known_members";
      after = null;
      continue;
    }
    const members = read.kind === "members" ? read.members : read.partial;
    if (members.length > 0) {
      const userIds = members.map((member) => member.userId);
      const [entitlements, comps] = await Promise.all([
        deps.store.entitlements(guildId, userIds),
        deps.store.comps(guildId, userIds),
      ]);
      const plan = planRepairs({
        paidRoleIds: context.paidRoleIds,
        members,
        entitlements,
        comps,
        policy: context.policy,
      });
      counts.membersChecked += read.checked;
      counts.comped += plan.comped;
      for (const drift of plan.drift) {
        if (drift.kind === "missing_role") counts.missingRoles++;
        else counts.unpaidRoles++;
        if (findings.length < KEPT_FINDINGS) findings.push(drift);
      }
      if (!dryRun) {
        const queued = await deps.store.enqueueRepairs(
          guildId,
          plan.repairs,
          deps.maxRepairsPerRun - queuedThisRun,
          deps.repairSpacingMs,
        );
        queuedThisRun += queued;
        counts.repairsQueued += queued;
      }
    }
    if (read.kind !== "members") {
      after = read.lastRead ?? after;
      return await end(read.kind === "refused" ? "stopped" : "in_progress", read.detail);
    }
    if (read.lastRead === null) return await end("completed", null);
    after = read.lastRead;
  }
}

/** A page read: members found, how many ids were looked at, and the last one (null: the end). */
type PageRead =
  | { kind: "members"; members: DiscordMember[]; checked: number; lastRead: string | null }
  | { kind: "no_intent" }
  | {
    kind: "later" | "refused";
    detail: string;
    partial: DiscordMember[];
    checked: number;
    lastRead: string | null;
  };

async function readPage(
  deps: ReconcileDeps,
  guildId: string,
  after: string | null,
  deadline: number,
): Promise<PageRead> {
  const result = await deps.discord.send(
    discordRoutes.guildMembersPage(guildId, deps.pageSize, after),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  const answer = classify(result);
  // Missing Access on the list itself is the missing intent; were the bot out of the guild, the
  // one-by-one reads that follow are refused too, and the pass stops there.
  if (answer.kind === "refused" && answer.code === 50001) return { kind: "no_intent" };
  if (answer.kind === "not_member") {
    const detail = "Discord answered 404 (code 10007)";
    return { kind: "refused", detail, partial: [], checked: 0, lastRead: null };
  }
  if (answer.kind !== "ok") {
    return { kind: answer.kind, detail: answer.detail, partial: [], checked: 0, lastRead: null };
  }
  const page = memberPageSchema.safeParse(answer.body);
  if (!page.success) {
    return {
      kind: "later",
      detail: "Discord sent a member list rolepass cannot read",
      partial: [],
      checked: 0,
      lastRead: null,
    };
  }
  const members = page.data.map((m) => ({ userId: m.user.id, roleIds: m.roles }));
  const last = members.at(-1)?.userId ?? null;
  return {
    kind: "members",
    members,
    checked: members.length,
    lastRead: members.length < deps.pageSize ? null : last,
  };
}

async function readKnownMembers(
  deps: ReconcileDeps,
  guildId: string,
  after: string | null,
  deadline: number,
): Promise<PageRead> {
  const ids = await deps.store.knownMembers(guildId, after, deps.knownMembersBatch);
  const members: DiscordMember[] = [];
  let lastRead: string | null = null;
  for (const userId of ids) {
    const result = await deps.discord.send(
      discordRoutes.guildMember(guildId, userId),
      { timeoutMs: deps.discordTimeoutMs },
      deadline,
    );
    const answer = classify(result);
    if (answer.kind === "later" || answer.kind === "refused") {
      return {
        kind: answer.kind,
        detail: answer.detail,
        partial: members,
        checked: members.length,
        lastRead,
      };
    }
    if (answer.kind === "ok") {
      const member = memberSchema.safeParse(answer.body);
      if (member.success) members.push({ userId, roleIds: member.data.roles });
    }
    lastRead = userId;
  }
  return {
    kind: "members",
    members,
    checked: ids.length,
    lastRead: ids.length < deps.knownMembersBatch ? null : lastRead,
  };
}

async function alertOperator(
  deps: ReconcileDeps,
  context: GuildReconcileContext,
  counts: PassCounts,
  detail: string,
): Promise<void> {
  if (!await deps.store.beginStopAlert(context.guildId)) return;
  deps.logger.error("reconciliation stopped: Discord refused to show the guild's members", {
    guildId: context.guildId,
    detail,
  });
  if (!context.operatorLogChannelId) return;
  const result = await deps.discord.send(
    discordRoutes.createMessage(
      context.operatorLogChannelId,
      reconciliationStoppedMessage({
        locale: context.operatorLocale,
        detail,
        membersChecked: counts.membersChecked,
      }),
    ),
    { timeoutMs: deps.discordTimeoutMs },
    deps.now().getTime() + deps.discordTimeoutMs * 2,
  );
  if (result.kind !== "response" || result.response.status >= 300) {
    deps.logger.warn("could not post to the operator log channel", {
      guildId: context.guildId,
      result: result.kind === "response" ? result.response.status : result.kind,
    });
  }
}
