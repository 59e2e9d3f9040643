/**
 * What role-sync does next with a role job or a notice after one attempt, decided once for both
 * queues: try again at a time, counted as an attempt or not, or give up with a reason.
 *
 * Waiting is never counted: a rate-limit slot that did not come before the invocation's deadline,
 * or a 429 whose `retry_after` Discord gave, says nothing about the job itself. An outage (5xx,
 * timeout, network error, a crash of our own) is counted and backed off, and gives up after the
 * policy's attempts, so a job that fails every time cannot loop. A refusal a retry cannot fix
 * (401, 403, an unknown role) gives up at once: Discord bans an IP that repeats them
 * (https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans).
 */
import { type RefusalReason, retryDelayMs, type RetryPolicy, shouldGiveUp } from "./role_plan.ts";

/** What one attempt came to, when it did not finish the job. */
export type AttemptSetback =
  /** Waiting for a rate-limit slot would pass the deadline; nothing was sent. */
  | { kind: "no_slot"; waitMs: number }
  /** Discord answered 429: nothing was done, and it said when to come back. */
  | { kind: "rate_limited"; retryAfterMs: number }
  /**
   * Discord did not answer (5xx, timeout, network) or the attempt crashed. For a message sent
   * with a nonce, it may have been posted: sending it again is safe, Discord returns the first.
   */
  | { kind: "unavailable"; detail: string }
  /** Discord refused for good; the operator has to fix something first. */
  | { kind: "refused"; reason: RefusalReason; detail: string };

/** The one next step for a job or notice after a setback. */
export type NextStep =
  | { kind: "retry"; delayMs: number; countsAsAttempt: boolean; error: string }
  | { kind: "give_up"; reason: RefusalReason | "gave_up"; detail: string };

/**
 * The next step after `setback`, for a job or notice that has made `attempts` attempts (this one
 * included). `random` is a number in [0, 1) for the backoff's jitter.
 */
export function nextStepAfter(
  setback: AttemptSetback,
  attempts: number,
  policy: RetryPolicy,
  random: number,
): NextStep {
  switch (setback.kind) {
    case "no_slot":
      return {
        kind: "retry",
        delayMs: setback.waitMs,
        countsAsAttempt: false,
        error: "waiting for a Discord rate-limit slot",
      };
    case "rate_limited":
      return {
        kind: "retry",
        delayMs: setback.retryAfterMs,
        countsAsAttempt: false,
        error: "rate limited by Discord",
      };
    case "refused":
      return { kind: "give_up", reason: setback.reason, detail: setback.detail };
    case "unavailable":
      return shouldGiveUp(attempts, policy)
        ? { kind: "give_up", reason: "gave_up", detail: setback.detail }
        : {
          kind: "retry",
          delayMs: retryDelayMs(attempts, policy, random),
          countsAsAttempt: true,
          error: setback.detail,
        };
  }
}

/** A crash of our own as a setback: retried with backoff, then given up like an outage. */
export function crashSetback(error: unknown): AttemptSetback {
  return {
    kind: "unavailable",
    detail: `crashed: ${error instanceof Error ? error.message : String(error)}`,
  };
}
