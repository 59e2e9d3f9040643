/**
 * Sending the notices outbox: each message owed to a member or an operator log channel is posted
 * once. Channel messages (DMs, the log channel) carry the notice's nonce with `enforce_nonce`:
 * "if another message was created by the same author with the same nonce, that message will be
 * returned and no new message will be created", checked "in the past few minutes"
 * (https://discord.com/developers/docs/resources/message#create-message). So a retry after a
 * timeout or a 5xx is safe within that window, and a message is not posted again after it.
 *
 * A member is told by DM first. The ephemeral follow-up on their interaction (its token lives 15
 * minutes) takes no nonce, so it is used only when the DM is impossible (DMs closed, or the DM
 * channel refused for good), tried at most once, and a follow-up whose outcome is unknown ends the
 * notice: trying another channel then could show the member the message twice.
 *
 * A member's DM channel is kept once opened: opening one spends Discord's global `dm_channels`
 * capacity, and Discord gives the same channel every time. A kept channel Discord answers
 * 10003 Unknown Channel for is dropped and opened again, once per attempt.
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
import type { ClaimedNotice, NoticeEnd, NoticeStore } from "./notices_store.ts";

/**
 * How long after a post whose outcome is unknown a retry still sends the message. Discord checks a
 * nonce "in the past few minutes"; two minutes stays inside that, and the minute's sweep still gets
 * two retries.
 */
export const NONCE_WINDOW_SECONDS = 120;

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
  now: () => Date;
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
  | { kind: "deferred"; waitMs: number }
  /** The notice ends here, whatever Discord would answer to another try. */
  | { kind: "end"; status: NoticeEnd; detail: string };

/** Claims and sends due notices until none is left or `deadline` (epoch ms) is near. */
export async function drainNotices(
  deps: NoticeWorkerDeps,
  deadline: number,
): Promise<NoticeDrainSummary> {
  const summary: NoticeDrainSummary = { claimed: 0, sent: 0, retried: 0, ended: 0 };
  const lastStart = deadline - Math.min(deps.discordTimeoutMs, 1_000);
  while (deps.now().getTime() < lastStart) {
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
  if (step.kind === "end") {
    await deps.notices.finish(notice, step.status, step.detail);
    return step.status === "sent" ? "sent" : "ended";
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
    case "channel_gone":
      await deps.notices.finish(notice, "not_sent", "the channel no longer exists (10003)");
      return "ended";
    case "rate_limited":
      return await putBackOrGiveUp(deps, notice, outcome);
    case "unknown":
      // Safe to send again within the nonce's window: Discord returns the first message if it
      // was posted (postToChannel refuses a post after the window).
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
  if (!await deps.notices.beginPost(notice, NONCE_WINDOW_SECONDS)) {
    return {
      kind: "end",
      status: "failed",
      detail: `not posted again: a post whose answer was lost is over ${NONCE_WINDOW_SECONDS} s ` +
        "old, past the nonce's window, so a post could be a second copy",
    };
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
  const outcome = classifyNoticeAnswer(answerOf(result));
  if (outcome.kind === "unknown") await deps.notices.recordPostUnknown(notice);
  return { kind: "outcome", outcome };
}

/** A DM the member cannot get: their DMs are closed, or Discord refused the DM channel. */
interface DmImpossible {
  kind: "dm_impossible";
  detail: string;
}

/**
 * A DM with the nonce; when Discord says the DM is impossible, the follow-up on the member's
 * interaction, once, if its token lives.
 */
async function tellMember(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  message: Notice,
  deadline: number,
): Promise<Step> {
  if (!notice.discord_user_id) {
    return { kind: "outcome", outcome: { kind: "not_sent", detail: "the notice names no member" } };
  }
  if (notice.followup_tried) {
    // An earlier attempt sent the follow-up and never learnt how it went (it stopped mid-call).
    return {
      kind: "end",
      status: "failed",
      detail: "the follow-up's outcome is unknown; no other channel is tried, so the member " +
        "is never told twice",
    };
  }
  const dm = await sendDm(deps, notice, notice.discord_user_id, message, deadline);
  if (dm.kind !== "dm_impossible") return dm;
  return await followUpOnce(deps, notice, message, deadline, dm);
}

async function sendDm(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  memberId: string,
  message: Notice,
  deadline: number,
): Promise<Step | DmImpossible> {
  const kept = await deps.notices.dmChannelOf(memberId);
  if (kept !== null) {
    const posted = await postToChannel(deps, notice, message, kept, deadline);
    if (posted.kind !== "outcome" || posted.outcome.kind !== "channel_gone") {
      return dmStepOf(posted);
    }
    await deps.notices.forgetDmChannel(memberId, kept);
  }
  const opened = await deps.discord.send(
    discordRoutes.createDm(memberId),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  if (opened.kind === "deferred") return { kind: "deferred", waitMs: opened.waitMs };
  const answer = answerOf(opened);
  const channelId = opened.kind === "response" && opened.response.status === 200
    ? (opened.response.body as { id?: unknown } | null)?.id
    : undefined;
  if (typeof channelId !== "string") {
    const outcome = classifyNoticeAnswer(answer);
    switch (outcome.kind) {
      // Opening the DM channel posts nothing, so these are tried again.
      case "rate_limited":
      case "unknown":
        return { kind: "outcome", outcome };
      case "sent":
        return {
          kind: "outcome",
          outcome: { kind: "unknown", detail: "Discord opened no DM channel" },
        };
      default:
        return {
          kind: "dm_impossible",
          detail: `cannot open the DM channel: ${described(answer)}`,
        };
    }
  }
  await deps.notices.rememberDmChannel(memberId, channelId);
  return dmStepOf(await postToChannel(deps, notice, message, channelId, deadline));
}

/** A DM post's step; closed DMs make the DM impossible (the follow-up may still tell them). */
function dmStepOf(posted: Step): Step | DmImpossible {
  if (posted.kind === "outcome" && posted.outcome.kind === "dms_closed") {
    return { kind: "dm_impossible", detail: "the member does not accept DMs from the bot" };
  }
  return posted;
}

/**
 * The follow-up, when the DM is impossible: tried once (taken in the outbox before the call, so
 * an invocation that dies mid-call does not try it again), given back only when Discord certainly
 * did not post it. Without a live token the notice ends as closed DMs, which tells the operator.
 */
async function followUpOnce(
  deps: NoticeWorkerDeps,
  notice: ClaimedNotice,
  message: Notice,
  deadline: number,
  dm: DmImpossible,
): Promise<Step> {
  const dmsClosed = (detail: string): Step => ({ kind: "end", status: "dms_closed", detail });
  if (!notice.interaction_token || !notice.interaction_application_id) {
    return dmsClosed(`${dm.detail}; no live interaction token for a follow-up`);
  }
  if (!await deps.notices.beginFollowup(notice)) {
    return { kind: "end", status: "failed", detail: "the follow-up was already tried" };
  }
  const result = await deps.discord.send(
    discordRoutes.createFollowup(
      notice.interaction_application_id,
      notice.interaction_token,
      noticeMessage(message, { via: "followup" }),
    ),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  if (result.kind === "deferred") {
    await deps.notices.releaseFollowup(notice);
    return { kind: "deferred", waitMs: result.waitMs };
  }
  const answer = answerOf(result);
  const outcome = classifyNoticeAnswer(answer);
  switch (outcome.kind) {
    case "sent":
      return { kind: "outcome", outcome };
    case "rate_limited":
      await deps.notices.releaseFollowup(notice);
      return { kind: "outcome", outcome };
    case "unknown":
      return {
        kind: "end",
        status: "failed",
        detail: `${dm.detail}; the follow-up's outcome is unknown (${outcome.detail}), and no ` +
          "other channel is tried, so the member is never told twice",
      };
    default:
      return dmsClosed(`${dm.detail}; the follow-up was refused: ${described(answer)}`);
  }
}

/** A Discord answer in a few words, for a notice's recorded error. */
function described(answer: DiscordAnswer): string {
  if (answer.kind === "timeout") return "Discord timed out";
  if (answer.kind === "network") return answer.message;
  return `Discord answered ${answer.status}${answer.code === null ? "" : ` (code ${answer.code})`}`;
}
