/**
 * Doing role jobs: make the member's Discord roles match their membership as it is now, tell the
 * member once, and tell the operator when Discord refuses for good.
 */
import {
  operatorAlertMessage,
  type RoleNotice,
  roleNoticeMessage,
} from "../_core/messages/role_notice.ts";
import {
  type CallOutcome,
  classifyNoticeAnswer,
  classifyRoleAnswer,
  type DiscordAnswer,
  type NoticeOutcome,
  planRoleChanges,
  type RefusalReason,
  retryDelayMs,
  type RetryPolicy,
  shouldGiveUp,
} from "../_core/role_plan.ts";
import {
  isGlobalRateLimit,
  type RateLimitedDiscord,
  type RateLimitedResult,
  retryAfterMsOf,
} from "../_shared/discord_rate_limits.ts";
import type { Logger } from "../_shared/log.ts";
import type { ClaimedJob, MemberState, RoleJobStore } from "./role_job_store.ts";

/** What doing role jobs needs. */
export interface RoleSyncWorkerDeps {
  store: RoleJobStore;
  discord: RateLimitedDiscord;
  logger: Logger;
  retryPolicy: RetryPolicy;
  /** Per Discord call. */
  discordTimeoutMs: number;
  /** Jobs worked on at once by one invocation. */
  concurrency: number;
  /** Longer than any job can take: an invocation that dies mid-job frees it after this. */
  leaseSeconds: number;
  now: () => number;
  random: () => number;
}

/** What one drain did. */
export interface DrainSummary {
  claimed: number;
  done: number;
  failed: number;
  retried: number;
}

/** How one job ended, for the summary. */
type JobEnd = "done" | "failed" | "retried" | "lost";

function answerOf(result: Exclude<RateLimitedResult, { kind: "deferred" }>): DiscordAnswer {
  if (result.kind !== "response") return result;
  const { response } = result;
  return {
    kind: "response",
    status: response.status,
    code: response.code,
    retryAfterSeconds: response.status === 429 ? retryAfterMsOf(response) / 1000 : null,
    global: response.status === 429 && isGlobalRateLimit(response),
  };
}

/** The audit-log reason: visible to the guild's moderators, so it names the subscription. */
function auditReason(job: ClaimedJob, member: MemberState, action: "add" | "remove"): string {
  const subscription = member.stripeSubscriptionId ?? "no subscription";
  return `rolepass: ${
    action === "add" ? "subscription entitles" : "subscription no longer entitles"
  } the member (${subscription}; ${job.cause}; job ${job.id})`;
}

/**
 * Claims and does due jobs until none is left or `deadline` (epoch ms) is near, with
 * `deps.concurrency` jobs in flight.
 */
export async function drainRoleJobs(
  deps: RoleSyncWorkerDeps,
  deadline: number,
): Promise<DrainSummary> {
  const summary: DrainSummary = { claimed: 0, done: 0, failed: 0, retried: 0 };
  // A job is not started in the last second; its calls' timeouts are cut to the deadline anyway.
  const lastStart = deadline - Math.min(deps.discordTimeoutMs, 1_000);
  const workers = Math.max(1, deps.concurrency);
  // One claim statement serves every worker that is idle at the time: a claim scans the queue,
  // and with one claim per job the claims, not Discord's limits, paced a burst.
  const claimed: ClaimedJob[] = [];
  let waiting = 0;
  let claiming: Promise<number> | null = null;
  const nextJob = async (): Promise<ClaimedJob | undefined> => {
    waiting++;
    try {
      while (claimed.length === 0) {
        claiming ??= deps.store.claim(waiting, deps.leaseSeconds).then((jobs) => {
          claimed.push(...jobs);
          return jobs.length;
        }).finally(() => claiming = null);
        // Nothing due: this worker stops, as the others do when their next claim finds nothing.
        if (await claiming === 0) return undefined;
      }
      return claimed.shift();
    } finally {
      waiting--;
    }
  };
  const worker = async () => {
    while (deps.now() < lastStart) {
      const job = await nextJob();
      if (!job) return;
      summary.claimed++;
      const end = await runRoleJob(deps, job, deadline).catch(async (error) => {
        const message = `crashed: ${error instanceof Error ? error.message : String(error)}`;
        deps.logger.error("role job crashed", { jobId: job.id, error });
        // A job that crashes every time (bad data) must not be retried forever.
        const settled = shouldGiveUp(job.attempts, deps.retryPolicy)
          ? deps.store.finish(job, "failed", "gave_up", message).then(() => "failed" as const)
          : deps.store.retry(
            job,
            retryDelayMs(job.attempts, deps.retryPolicy, deps.random()),
            message,
            true,
          ).then(() => "retried" as const);
        return await settled.catch(() => "lost" as const);
      });
      if (end === "done") summary.done++;
      else if (end === "failed") summary.failed++;
      else if (end === "retried") summary.retried++;
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, worker));
  } finally {
    // A job claimed for a worker that then failed goes back at once rather than at lease expiry.
    for (const job of claimed.splice(0)) {
      await deps.store.retry(job, 0, "claimed but not started", false).catch(() => false);
    }
  }
  return summary;
}

/** Does one claimed job. */
export async function runRoleJob(
  deps: RoleSyncWorkerDeps,
  job: ClaimedJob,
  deadline: number,
): Promise<JobEnd> {
  const { store, logger } = deps;
  const log = logger.child({ jobId: job.id, guildId: job.guild_id, memberId: job.discord_user_id });
  const member = await store.loadMember(job.membership_id);
  if (!member) {
    return await store.finish(job, "done", "membership_gone") ? "done" : "lost";
  }
  const changes = planRoleChanges({
    entitledRoleId: member.entitledRoleId,
    managedRoleIds: member.managedRoleIds,
    previousRoleId: job.previous_role_id,
  });
  // A retry that only owes the member's message finds its calls recorded: the membership still
  // wants the role they left, so they are not sent again.
  const rolesAlreadyApplied = job.roles_applied_at !== null &&
    job.roles_applied_role_id === member.entitledRoleId;
  const calls = rolesAlreadyApplied ? [] : [
    ...changes.add.map((roleId) => ({ method: "PUT", roleId, action: "add" as const })),
    ...changes.remove.map((roleId) => ({ method: "DELETE", roleId, action: "remove" as const })),
  ];
  for (const call of calls) {
    const result = await deps.discord.call(
      call.method,
      `/guilds/${member.guildId}/members/${member.memberId}/roles/${call.roleId}`,
      { auditLogReason: auditReason(job, member, call.action), timeoutMs: deps.discordTimeoutMs },
      deadline,
    );
    if (result.kind === "deferred") {
      return await retry(deps, job, result.waitMs, "waiting for a Discord rate-limit slot", false);
    }
    const outcome: CallOutcome = classifyRoleAnswer(answerOf(result));
    switch (outcome.kind) {
      case "done":
        continue;
      case "member_not_in_guild":
        log.info("member is not in the guild; the role is granted when they come back");
        return await store.finish(job, "done", "member_not_in_guild") ? "done" : "lost";
      case "rate_limited":
        return await retry(deps, job, outcome.retryAfterMs, "rate limited by Discord", false);
      case "refused":
        return await fail(deps, job, member, call, outcome.reason, outcome.detail);
      case "unavailable":
        if (shouldGiveUp(job.attempts, deps.retryPolicy)) {
          return await fail(deps, job, member, call, "gave_up", outcome.detail);
        }
        return await retry(
          deps,
          job,
          retryDelayMs(job.attempts, deps.retryPolicy, deps.random()),
          outcome.detail,
          true,
        );
    }
  }
  if (calls.length > 0 && !await store.recordRolesApplied(job, member.entitledRoleId)) {
    return "lost";
  }
  if (changes.kind !== "none" && job.notice_status === null) {
    const roleId = changes.kind === "revoke"
      ? (job.previous_role_id ?? changes.remove[0])
      : changes.add[0];
    const notice: RoleNotice = {
      kind: changes.kind,
      locale: member.locale,
      guildName: member.guildName,
      plan: member.plan,
      roleId,
      endsAt: changes.kind === "revoke" ? null : member.endsAt,
      revokedReason: changes.kind === "revoke" ? member.revokedReason : null,
    };
    const told = await tellMember(deps, job, member, notice, deadline);
    if (told.kind === "retry") {
      return await retry(
        deps,
        job,
        told.delayMs,
        "the member's message has to wait",
        told.countsAsAttempt ?? false,
      );
    }
    log.info("role job done", { change: changes.kind, notice: told.status });
  }
  return await store.finish(job, "done", "applied") ? "done" : "lost";
}

async function retry(
  deps: RoleSyncWorkerDeps,
  job: ClaimedJob,
  delayMs: number,
  error: string,
  countsAsAttempt: boolean,
): Promise<JobEnd> {
  return await deps.store.retry(job, delayMs, error, countsAsAttempt) ? "retried" : "lost";
}

async function fail(
  deps: RoleSyncWorkerDeps,
  job: ClaimedJob,
  member: MemberState,
  call: { roleId: string; action: "add" | "remove" },
  reason: RefusalReason | "gave_up",
  detail: string,
): Promise<JobEnd> {
  const { store, logger } = deps;
  if (!await store.finish(job, "failed", reason, detail)) return "lost";
  logger.error("role job failed; the operator is told", {
    jobId: job.id,
    guildId: member.guildId,
    memberId: member.memberId,
    roleId: call.roleId,
    reason,
    detail,
  });
  if (!member.operatorLogChannelId || !await store.beginAlert(job)) return "failed";
  const result = await deps.discord.call(
    "POST",
    `/channels/${member.operatorLogChannelId}/messages`,
    {
      body: operatorAlertMessage({
        locale: member.operatorLocale,
        action: call.action === "add" ? "grant" : "revoke",
        roleId: call.roleId,
        memberId: member.memberId,
        reason,
        detail,
        jobId: job.id,
      }),
      timeoutMs: deps.discordTimeoutMs,
    },
    deps.now() + deps.discordTimeoutMs * 2,
  );
  if (result.kind !== "response" || result.response.status >= 300) {
    logger.warn("could not post to the operator log channel", {
      jobId: job.id,
      channelId: member.operatorLogChannelId,
      result: result.kind === "response" ? result.response.status : result.kind,
    });
  }
  return "failed";
}

type Told =
  | { kind: "recorded"; status: string }
  | { kind: "retry"; delayMs: number; countsAsAttempt?: boolean };

/**
 * Posts the member's message: a follow-up on the interaction while its token lives (15 minutes),
 * else a DM. The right to post is taken in the database first, so the message goes out at most
 * once per job even when an answer is lost or the worker dies.
 */
async function tellMember(
  deps: RoleSyncWorkerDeps,
  job: ClaimedJob,
  member: MemberState,
  notice: RoleNotice,
  deadline: number,
): Promise<Told> {
  const { store, discord } = deps;
  if (!await store.beginNotice(job)) return { kind: "recorded", status: "already_handled" };
  const record = async (outcome: NoticeOutcome): Promise<Told> => {
    switch (outcome.kind) {
      case "sent":
      case "dms_closed":
      case "unknown":
      case "not_sent":
        await store.endNotice(job, outcome.kind);
        return { kind: "recorded", status: outcome.kind };
      case "token_dead":
        await store.endNotice(job, "not_sent");
        return { kind: "recorded", status: "not_sent" };
      case "rate_limited":
        await store.endNotice(job, null);
        return { kind: "retry", delayMs: outcome.retryAfterMs };
    }
  };
  const timeoutMs = deps.discordTimeoutMs;

  if (member.interaction) {
    const { applicationId, token } = member.interaction;
    const result = await discord.call(
      "POST",
      `/webhooks/${applicationId}/${token}`,
      { body: roleNoticeMessage(notice, { ephemeral: true }), timeoutMs, withoutBotToken: true },
      deadline,
    );
    if (result.kind === "deferred") {
      await store.endNotice(job, null);
      return { kind: "retry", delayMs: result.waitMs };
    }
    const outcome = classifyNoticeAnswer(answerOf(result));
    if (outcome.kind !== "token_dead") return record(outcome);
  }

  const opened = await discord.call(
    "POST",
    "/users/@me/channels",
    { body: { recipient_id: member.memberId }, timeoutMs },
    deadline,
  );
  if (opened.kind === "deferred") {
    await store.endNotice(job, null);
    return { kind: "retry", delayMs: opened.waitMs };
  }
  const channelId = opened.kind === "response" && opened.response.status === 200
    ? (opened.response.body as { id?: unknown } | null)?.id
    : undefined;
  if (typeof channelId !== "string") {
    // Opening the DM channel posts nothing, so a 429 or an outage here can be tried again.
    const outcome = classifyNoticeAnswer(answerOf(opened));
    if (outcome.kind === "rate_limited") return record(outcome);
    if (outcome.kind === "unknown" && !shouldGiveUp(job.attempts, deps.retryPolicy)) {
      await store.endNotice(job, null);
      const delayMs = retryDelayMs(job.attempts, deps.retryPolicy, deps.random());
      return { kind: "retry", delayMs, countsAsAttempt: true };
    }
    return record({ kind: "not_sent", detail: "could not open the DM channel" });
  }
  const sent = await discord.call(
    "POST",
    `/channels/${channelId}/messages`,
    { body: roleNoticeMessage(notice, { ephemeral: false }), timeoutMs },
    deadline,
  );
  if (sent.kind === "deferred") {
    await store.endNotice(job, null);
    return { kind: "retry", delayMs: sent.waitMs };
  }
  return record(classifyNoticeAnswer(answerOf(sent)));
}
