/**
 * Sending the notices outbox: each message owed to a member or an operator log channel is posted
 * once. Channel messages (DMs, the log channel) carry the notice's nonce with `enforce_nonce`, so
 * a retry after a timeout or a 5xx gets the first message back instead of posting a second. A
 * follow-up takes no nonce, so it is tried at most once; when its outcome is unknown the member
 * gets a DM instead.
 */
import { type Notice, noticeMessage, parseNotice } from "../_core/notices.ts";
import { type AttemptSetback, crashSetback, nextStepAfter } from "../_core/job_step.ts";
import {
  classifyNoticeAnswer,
  type DiscordAnswer,
  type NoticeOutcome,
  type RetryPolicy,
} from "../_core/role_plan.ts";
import {
  isGlobalRateLimit,
  type RateLimitedDiscord,
  type RateLimitedResult,
  retryAfterMsOf,
} from "../_shared/discord_rate_limits.ts";
import { discordRoutes } from "../_shared/discord_api.ts";
import type { Logger } from "../_shared/log.ts";
import type { ClaimedNotice, NoticeStore } from "./notices_store.ts";

/** What sending notices needs. */
export interface NoticeWorkerDeps {
  /** The notices outbox. */
  notices: NoticeStore;
  discord: RateLimitedDiscord;
  logger: Logger;
  retryPolicy: RetryPolicy;
  /** Per Discord call. */
  discordTimeoutMs: number;
  /** Jobs or notices worked on at once by one invocation. */
  concurrency: number;
  /** Longer than any job can take: an invocation that dies mid-job frees it after this. */
  leaseSeconds: number;
  now: () => number;
  random: () => number;
}

/** What one drain of the outbox did. */
export interface NoticeDrainSummary {
  claimed: number;
  sent: number;
  retried: number;
  ended: number;
}

/** Discord's answer as the core classifies it. */
export function answerOf(result: Exclude<RateLimitedResult, { kind: "deferred" }>): DiscordAnswer {
  if (result.kind !== "response") return result;
  const { response } = result;
  return {
    kind: "response",
    status: response.status,
    code: response.code,
    retryAfterMs: response.status === 429 ? retryAfterMsOf(response) : null,
    global: response.status === 429 && isGlobalRateLimit(response),
  };
}

type Step =
  | { kind: "outcome"; outcome: NoticeOutcome }
  | { kind: "deferred"; waitMs: number };

/** Claims and sends due notices until none is left or `deadline` (epoch ms) is near. */
export async function drainNotices(
  deps: NoticeWorkerDeps,
  deadline: number,
): Promise<NoticeDrainSummary> {
  const summary: NoticeDrainSummary = { claimed: 0, sent: 0, retried: 0, ended: 0 };
  const lastStart = deadline - Math.min(deps.discordTimeoutMs, 1_000);
  while (deps.now() < lastStart) {
    const batch = await deps.notices.claim(Math.max(1, deps.concurrency), deps.leaseSeconds);
    if (batch.length === 0) break;
    summary.claimed += batch.length;
    const ends = await Promise.all(
      batch.map((notice) =>
        sendNotice(deps, notice, deadline).catch(async (error) => {
          deps.logger.error("notice crashed", { noticeId: notice.id, error });
          return await putBackOrGiveUp(deps, notice, crashSetback(error));
        })
      ),
    );
    for (const end of ends) summary[end]++;
  }
  return summary;
}

async function sendNotice(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  deadline: number,
): Promise<"sent" | "retried" | "ended"> {
  const parsed = parseNotice(notice);
  if (!parsed.ok) {
    await deps.notices.finish(notice, "failed", parsed.reason);
    return "ended";
  }
  const step = parsed.notice.audience === "operator"
    ? await postToChannel(deps, notice, parsed.notice, notice.log_channel_id, deadline)
    : await tellMember(deps, notice, parsed.notice, deadline);
  if (step.kind === "deferred") {
    return await putBackOrGiveUp(deps, notice, { kind: "no_slot", waitMs: step.waitMs });
  }
  const { outcome } = step;
  switch (outcome.kind) {
    case "sent":
      await deps.notices.finish(notice, "sent");
      return "sent";
    case "dms_closed":
      await deps.notices.finish(notice, "dms_closed");
      return "ended";
    case "not_sent":
      await deps.notices.finish(notice, "not_sent", outcome.detail);
      return "ended";
    case "token_dead":
      await deps.notices.finish(notice, "not_sent", "the interaction token is dead");
      return "ended";
    case "rate_limited":
      return await putBackOrGiveUp(deps, notice, outcome);
    case "unknown":
      // Safe to send again: the nonce makes Discord return the first message if it was posted.
      return await putBackOrGiveUp(deps, notice, { kind: "unavailable", detail: outcome.detail });
  }
}

/** Applies the core's next step after `setback`: the one place a notice is put back or ends. */
async function putBackOrGiveUp(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  setback: AttemptSetback,
): Promise<"retried" | "ended"> {
  const step = nextStepAfter(setback, notice.attempts, deps.retryPolicy, deps.random());
  if (step.kind === "retry") {
    await deps.notices.retry(notice, step.delayMs, step.error, step.countsAsAttempt);
    return "retried";
  }
  await deps.notices.finish(notice, "failed", `gave up: ${step.detail}`);
  return "ended";
}

async function postToChannel(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  message: Notice,
  channelId: string | null,
  deadline: number,
): Promise<Step> {
  if (!channelId) {
    return { kind: "outcome", outcome: { kind: "not_sent", detail: "no channel to post in" } };
  }
  const result = await deps.discord.send(
    discordRoutes.createMessage(
      channelId,
      noticeMessage(message, { via: "channel", nonce: notice.nonce }),
    ),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  if (result.kind === "deferred") return { kind: "deferred", waitMs: result.waitMs };
  return { kind: "outcome", outcome: classifyNoticeAnswer(answerOf(result)) };
}

/**
 * A follow-up on the member's interaction while its token lives (15 minutes), tried once; else,
 * or when the follow-up's outcome is unknown, a DM with the nonce.
 */
async function tellMember(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  message: Notice,
  deadline: number,
): Promise<Step> {
  const { discord } = deps;
  const timeoutMs = deps.discordTimeoutMs;
  if (
    notice.interaction_token && notice.interaction_application_id && !notice.followup_tried &&
    await deps.notices.beginFollowup(notice)
  ) {
    const result = await discord.send(
      discordRoutes.createFollowup(
        notice.interaction_application_id,
        notice.interaction_token,
        noticeMessage(message, { via: "followup" }),
      ),
      { timeoutMs },
      deadline,
    );
    if (result.kind !== "deferred") {
      const outcome = classifyNoticeAnswer(answerOf(result));
      if (outcome.kind === "sent" || outcome.kind === "not_sent") {
        return { kind: "outcome", outcome };
      }
      // Dead token, 429, timeout or 5xx: the member gets a DM, the follow-up is not tried again.
    }
  }
  if (!notice.discord_user_id) {
    return { kind: "outcome", outcome: { kind: "not_sent", detail: "the notice names no member" } };
  }
  const opened = await discord.send(
    discordRoutes.createDm(notice.discord_user_id),
    { timeoutMs },
    deadline,
  );
  if (opened.kind === "deferred") return { kind: "deferred", waitMs: opened.waitMs };
  const channelId = opened.kind === "response" && opened.response.status === 200
    ? (opened.response.body as { id?: unknown } | null)?.id
    : undefined;
  if (typeof channelId !== "string") {
    // Opening the DM channel posts nothing, so any failure here can be tried again.
    const outcome = classifyNoticeAnswer(answerOf(opened));
    return {
      kind: "outcome",
      outcome: outcome.kind === "sent"
        ? { kind: "not_sent", detail: "could not open the DM channel" }
        : outcome,
    };
  }
  return await postToChannel(deps, notice, message, channelId, deadline);
}
