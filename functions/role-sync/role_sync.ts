/**
 * Doing role jobs: make the member's Discord roles match their membership as it is now, tell the
 * member once, and tell the operator when Discord refuses for good.
 */
import type { RoleNotice } from "../_core/messages/role_notice.ts";
import { roleChangeIsNews, roleChangeNoticeKind } from "../_core/notices.ts";
import {
  type AttemptSetback,
  crashSetback,
  type NextStep,
  nextStepAfter,
} from "../_core/job_step.ts";
import { classifyRoleAnswer, planRoleChanges, sameRoleSet } from "../_core/role_plan.ts";
import { discordRoutes } from "../_shared/discord_api.ts";
import { answerOf, drainNotices, type NoticeWorkerDeps } from "./notices.ts";
import type { ClaimedJob, MemberState, RoleJobStore } from "./role_job_store.ts";

/** What doing role jobs needs: what sending notices needs (drained after the jobs), and the jobs. */
export interface RoleSyncWorkerDeps extends NoticeWorkerDeps {
  store: RoleJobStore;
}

/** What one drain did. */
export interface DrainSummary {
  claimed: number;
  done: number;
  failed: number;
  retried: number;
  /** Notices (member and operator messages) claimed and sent by the same drain. */
  noticesSent: number;
}

/** How one job ended, for the summary. */
type JobEnd = "done" | "failed" | "retried" | "lost";

/** The audit-log reason: visible to the guild's moderators, so it names the subscription. */
function auditReason(job: ClaimedJob, member: MemberState, action: "add" | "remove"): string {
  const subscription = member.stripeSubscriptionId ?? "no subscription";
  return `rolepass: ${
    action === "add" ? "subscription entitles" : "subscription no longer entitles"
  } the member (${subscription}; ${job.cause}; job ${job.id})`;
}

/**
 * Claims and does due jobs until none is left or `deadline` (epoch ms) is near, with
 * `deps.concurrency` jobs in flight, then sends the notices that are due.
 */
export async function drainRoleJobs(
  deps: RoleSyncWorkerDeps,
  deadline: number,
): Promise<DrainSummary> {
  const summary: DrainSummary = { claimed: 0, done: 0, failed: 0, retried: 0, noticesSent: 0 };
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
    while (deps.now().getTime() < lastStart) {
      // A worker takes a job only when Discord's global window has room for its call: a job
      // waiting for the window would go before a live job queued meanwhile.
      const jobOver = await deps.discord.untilRoom(lastStart);
      const job = deps.now().getTime() < lastStart
        ? await nextJob().catch((error) => {
          jobOver();
          throw error;
        })
        : undefined;
      if (!job) {
        jobOver();
        return;
      }
      summary.claimed++;
      const end = await runRoleJob(deps, job, deadline).catch(async (error) => {
        deps.logger.error("role job crashed", { jobId: job.id, error });
        // A job that crashes every time (bad data) gives up like one Discord keeps failing.
        return await applyStep(deps, job, stepAfter(deps, job, crashSetback(error)), null)
          .catch(() => "lost" as const);
      }).finally(jobOver);
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
  // The jobs just done queued their members' messages: they go out in the same invocation.
  summary.noticesSent = (await drainNotices(deps, deadline)).sent;
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
    roleIds: member.roleIds,
    managedRoleIds: member.managedRoleIds,
    previousRoleIds: previousRolesOf(job),
  });
  // A retry that only owes the member's message finds its calls recorded: the membership still
  // wants the roles they left, so they are not sent again.
  const rolesAlreadyApplied = job.roles_applied_at !== null &&
    sameRoleSet(appliedRolesOf(job), member.roleIds);
  const calls = rolesAlreadyApplied ? [] : [
    ...changes.add.map((roleId) => ({ roleId, action: "add" as const })),
    ...changes.remove.map((roleId) => ({ roleId, action: "remove" as const })),
  ];
  for (const call of calls) {
    const route = call.action === "add"
      ? discordRoutes.addMemberRole
      : discordRoutes.removeMemberRole;
    const result = await deps.discord.send(
      route(member.guildId, member.memberId, call.roleId, auditReason(job, member, call.action)),
      { timeoutMs: deps.discordTimeoutMs, priority: job.live ? "live" : "bulk" },
      deadline,
    );
    if (result.kind === "deferred") {
      const setback: AttemptSetback = { kind: "no_slot", waitMs: result.waitMs };
      return await applyStep(deps, job, stepAfter(deps, job, setback), { member, call });
    }
    const outcome = classifyRoleAnswer(answerOf(result));
    if (outcome.kind === "done") continue;
    if (outcome.kind === "member_not_in_guild") {
      log.info("member is not in the guild; the job ends without a role change");
      return await store.finish(job, "done", "member_not_in_guild") ? "done" : "lost";
    }
    return await applyStep(deps, job, stepAfter(deps, job, outcome), { member, call });
  }
  // The roles the calls left the member with, recorded as the job finishes.
  const applied = calls.length > 0 ? member.roleIds : null;
  const finish = async (notice: RoleNotice | null) =>
    await store.finishApplied(job, applied, notice).catch(async (error) => {
      // The calls succeeded: a retry must find them recorded and not make them again.
      if (applied) await store.recordRolesApplied(job, applied).catch(() => false);
      throw error;
    });
  // The role-change messages speak of subscriptions: a role a comp holds is not one to announce.
  const news = roleChangeIsNews(previousRolesOf(job), member.roleIds, job.cause);
  if (changes.kind === "none" || member.heldByComp || !news) {
    return await finish(null) ? "done" : "lost";
  }
  const roleId = changes.kind === "revoke"
    ? (job.previous_role_id ?? changes.remove[0])
    : (member.namedRoleId ?? changes.add[0]);
  if (roleId === undefined) {
    throw new Error(`Cannot tell the member of a ${changes.kind}: it names no role`);
  }
  // A plan with several roles is told as one change naming them all.
  const told = changes.kind === "revoke"
    ? previousRolesOf(job).filter((id) => changes.remove.includes(id))
    : member.paidRoleIds;
  // The message goes through the notices outbox, queued with the job's end: told once.
  const finished = await finish({
    kind: roleChangeNoticeKind(changes.kind, job.cause),
    locale: member.locale,
    guildName: member.guildName,
    plan: member.plan,
    roleId,
    otherRoleIds: told.filter((id) => id !== roleId),
    endsAt: changes.kind === "revoke" ? null : member.endsAt,
    revokedReason: changes.kind === "revoke" ? member.revokedReason : null,
  });
  log.info("role job done", { change: changes.kind });
  return finished ? "done" : "lost";
}

/** The roles a job says the member had before its change (jobs queued before sets name one). */
function previousRolesOf(job: ClaimedJob): string[] {
  if (job.previous_role_ids.length > 0) return job.previous_role_ids;
  return job.previous_role_id ? [job.previous_role_id] : [];
}

/** The roles a job's recorded calls left the member with. */
function appliedRolesOf(job: ClaimedJob): string[] {
  if (job.roles_applied_role_ids) return job.roles_applied_role_ids;
  return job.roles_applied_role_id ? [job.roles_applied_role_id] : [];
}

function stepAfter(deps: RoleSyncWorkerDeps, job: ClaimedJob, setback: AttemptSetback): NextStep {
  return nextStepAfter(setback, job.attempts, deps.retryPolicy, deps.random());
}

/** The Discord call a job was making when it stopped, and whose member. */
interface StoppedCall {
  member: MemberState;
  call: { roleId: string; action: "add" | "remove" };
}

/**
 * Applies `step` to the job: the one place a job is put back or given up. A job that gives up on
 * a Discord call is told to the operator; one that crashed before any call is only recorded.
 */
async function applyStep(
  deps: RoleSyncWorkerDeps,
  job: ClaimedJob,
  step: NextStep,
  stopped: StoppedCall | null,
): Promise<JobEnd> {
  const { store, logger } = deps;
  if (step.kind === "retry") {
    return await store.retry(job, step.delayMs, step.error, step.countsAsAttempt)
      ? "retried"
      : "lost";
  }
  const { reason, detail } = step;
  if (!await store.finish(job, "failed", reason, detail)) return "lost";
  if (!stopped) return "failed";
  const { member, call } = stopped;
  logger.error("role job failed; the operator is told", {
    jobId: job.id,
    guildId: member.guildId,
    memberId: member.memberId,
    roleId: call.roleId,
    reason,
    detail,
  });
  // Through the outbox, with the other operator log messages and their rate limits.
  await store.alertFailure(job, {
    action: call.action === "add" ? "grant" : "revoke",
    roleId: call.roleId,
    memberId: member.memberId,
    reason,
    detail,
    jobId: job.id,
  });
  return "failed";
}
