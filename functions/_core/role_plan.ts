/**
 * What role-sync does for one member, decided without I/O: which Discord roles to add and remove
 * so Discord matches the membership, what each Discord answer means, and when to try again.
 *
 * Platform facts behind the outcomes (https://discord.com/developers/docs/topics/rate-limits,
 * opcodes-and-status-codes): 401, 403 and 429 count towards the 10,000 invalid requests per
 * 10 minutes that get an IP banned, so errors a retry cannot fix are never retried; 10007 means
 * the member left the guild; a 429 carries `retry_after` in seconds.
 */

/** What the membership says the member should have now. */
export interface MemberEntitlement {
  /** Every role the member should hold now (paid and comped); empty when none. */
  roleIds: readonly string[];
  /**
   * Every role rolepass may have granted this member: each role a role job ever named for them
   * (so a plan whose roles were changed since still has its old roles removed).
   */
  managedRoleIds: readonly string[];
  /** The roles the member had before the change being applied (the job's previous roles). */
  previousRoleIds: readonly string[];
}

/** The Discord calls that make the member's roles match their entitlement. */
export interface RoleChanges {
  add: string[];
  remove: string[];
  /** What the member is told: new roles, a plan change, a removal, or nothing. */
  kind: "grant" | "swap" | "revoke" | "none";
}

/**
 * Decides which roles to add and remove: every role the member should hold is added (Discord's
 * add is idempotent), every managed role they should not hold is removed, so a role two plans (or
 * a plan and a comp) share is never removed while one still gives it. Adds come first, so a paying
 * member is never left without a role between the calls of a plan change.
 */
export function planRoleChanges(entitlement: MemberEntitlement): RoleChanges {
  const wanted = new Set(entitlement.roleIds);
  const remove = [...new Set(entitlement.managedRoleIds)]
    .filter((roleId) => !wanted.has(roleId))
    .sort();
  const add = [...wanted].sort();
  const previous = entitlement.previousRoleIds;
  const kind = add.length > 0
    ? (previous.length > 0 && !sameRoleSet(previous, add) ? "swap" : "grant")
    : (remove.length > 0 ? "revoke" : "none");
  return { add, remove, kind };
}

/** Whether two lists hold the same roles, whatever their order or repeats. */
export function sameRoleSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((id) => right.has(id));
}

/** What came back from one Discord call, reduced to what the decision needs. */
export type DiscordAnswer =
  | {
    kind: "response";
    status: number;
    /** Discord's JSON error code, when the body had one. */
    code: number | null;
    /**
     * How long a 429 says to wait, in milliseconds: Discord sends seconds, converted once where
     * the answer is read (`retryAfterMsOf`).
     */
    retryAfterMs?: number | null;
    /** Whether a 429 was global (body `global` or `X-RateLimit-Scope: global`). */
    global?: boolean;
  }
  | { kind: "timeout" }
  | { kind: "network"; message: string };

/** Why Discord refused for good; the operator has to fix something before a retry can work. */
export type RefusalReason =
  | "unknown_role"
  | "missing_permissions"
  | "missing_access"
  | "unknown_guild"
  | "unauthorized"
  | "forbidden"
  | "invalid_request";

/** What an answer means for the job. */
export type CallOutcome =
  | { kind: "done" }
  | { kind: "member_not_in_guild" }
  | { kind: "refused"; reason: RefusalReason; detail: string }
  | { kind: "rate_limited"; retryAfterMs: number; global: boolean }
  | { kind: "unavailable"; detail: string };

/** Classifies a role add or remove answer. */
export function classifyRoleAnswer(answer: DiscordAnswer): CallOutcome {
  if (answer.kind === "timeout") return { kind: "unavailable", detail: "Discord timed out" };
  if (answer.kind === "network") {
    return { kind: "unavailable", detail: `Cannot reach Discord: ${answer.message}` };
  }
  const { status, code } = answer;
  if (status >= 200 && status < 300) return { kind: "done" };
  if (code === 10007) return { kind: "member_not_in_guild" };
  if (status === 429) {
    return {
      kind: "rate_limited",
      retryAfterMs: Math.max(0, answer.retryAfterMs ?? 1_000),
      global: answer.global ?? false,
    };
  }
  if (status >= 500) return { kind: "unavailable", detail: `Discord answered ${status}` };
  const detail = `Discord answered ${status}${code === null ? "" : ` (code ${code})`}`;
  if (code === 10011) return { kind: "refused", reason: "unknown_role", detail };
  if (code === 50013) return { kind: "refused", reason: "missing_permissions", detail };
  if (code === 50001) return { kind: "refused", reason: "missing_access", detail };
  if (code === 10004) return { kind: "refused", reason: "unknown_guild", detail };
  if (status === 401) return { kind: "refused", reason: "unauthorized", detail };
  if (status === 403) return { kind: "refused", reason: "forbidden", detail };
  return { kind: "refused", reason: "invalid_request", detail };
}

/** How a member's message went. */
export type NoticeOutcome =
  | { kind: "sent" }
  /** 50007: the member does not accept DMs from the bot; recorded, never retried. */
  | { kind: "dms_closed" }
  /** The interaction token is dead (expired or unknown): nothing was posted, use a DM. */
  | { kind: "token_dead" }
  /** 404, 10003 Unknown Channel: nothing was posted; a kept DM channel is opened again. */
  | { kind: "channel_gone" }
  /** 429: nothing was posted; the message may be tried again after the wait. */
  | { kind: "rate_limited"; retryAfterMs: number; global: boolean }
  /** A timeout or 5xx: it may have been posted, so it is never sent again (at most once). */
  | { kind: "unknown"; detail: string }
  /** Any other refusal: nothing was posted and retrying will not help. */
  | { kind: "not_sent"; detail: string };

/** Classifies the answer to posting the member's message (follow-up or DM). */
export function classifyNoticeAnswer(answer: DiscordAnswer): NoticeOutcome {
  if (answer.kind === "timeout") return { kind: "unknown", detail: "Discord timed out" };
  if (answer.kind === "network") return { kind: "unknown", detail: answer.message };
  const { status, code } = answer;
  if (status >= 200 && status < 300) return { kind: "sent" };
  if (status === 429) {
    return {
      kind: "rate_limited",
      retryAfterMs: Math.max(0, answer.retryAfterMs ?? 1_000),
      global: answer.global ?? false,
    };
  }
  if (status >= 500) return { kind: "unknown", detail: `Discord answered ${status}` };
  if (code === 50007 || code === 50278) return { kind: "dms_closed" };
  if (status === 404 && code === 10003) return { kind: "channel_gone" };
  // 50027 invalid webhook token (an expired interaction), 10015 unknown webhook, 10062 unknown
  // interaction: the follow-up was not posted.
  if (code === 50027 || code === 10015 || code === 10062) return { kind: "token_dead" };
  return {
    kind: "not_sent",
    detail: `Discord answered ${status}${code === null ? "" : ` (code ${code})`}`,
  };
}

/** How often and how long a job is retried after 5xx answers and timeouts. */
export interface RetryPolicy {
  /** Attempts (including the first) before the job gives up and the operator is told. */
  maxAttempts: number;
  /** Delay after the first failure. */
  baseDelayMs: number;
  /** No delay is longer than this. */
  maxDelayMs: number;
}

/** Defaults: 8 attempts over roughly 20 minutes at most. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 2_000,
  maxDelayMs: 5 * 60_000,
};

/**
 * The delay before attempt `attempts + 1`: capped exponential backoff with "equal jitter" (half
 * fixed, half random), so many jobs failing together do not come back together.
 *
 * @param attempts attempts made so far (1 after the first failure).
 * @param random a number in [0, 1).
 */
export function retryDelayMs(attempts: number, policy: RetryPolicy, random: number): number {
  const exponential = policy.baseDelayMs * 2 ** Math.max(0, attempts - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(capped / 2 + (capped / 2) * random);
}

/** Whether a job that has made `attempts` attempts should give up after another failure. */
export function shouldGiveUp(attempts: number, policy: RetryPolicy): boolean {
  return attempts >= policy.maxAttempts;
}
