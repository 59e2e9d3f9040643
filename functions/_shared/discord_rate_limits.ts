/**
 * Discord calls that respect Discord's rate limits across every instance of a function.
 *
 * Before each call a slot is taken in the database (`rolepass.acquire_discord_slot`): the bucket
 * state learned from `X-RateLimit-*` headers and a sliding window for the global 50 requests/s
 * live there, so a burst of jobs spread over many isolates drains at Discord's rate instead of
 * discovering it through 429s (429s count towards the invalid-request limit that bans an IP:
 * https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans).
 * Every answer's headers are written back (`rolepass.record_discord_rate_limit`), with how long
 * the call took: a request reaches Discord somewhere between taking its slot and its answer, so
 * the global window counts each request until one window after its answer, which holds however
 * late a busy isolate sends what it was allowed to.
 */
import { oneRow, type Sql } from "./db.ts";
import {
  type DiscordApi,
  type DiscordResponse,
  type DiscordRoute,
  type RouteBucket,
  routeBucketOf,
} from "./discord_api.ts";

/** Discord's documented global limit per bot. */
export const DISCORD_GLOBAL_LIMIT_PER_SECOND = 50;

/** What a rate-limited call came to. */
export type RateLimitedResult =
  | { kind: "response"; response: DiscordResponse }
  | { kind: "timeout" }
  | { kind: "network"; message: string }
  /** Waiting for a slot would pass the caller's deadline; nothing was sent. */
  | { kind: "deferred"; waitMs: number };

/** Options of {@linkcode createRateLimitedDiscord}. */
export interface RateLimitedDiscordOptions {
  api: DiscordApi;
  sql: Sql;
  /** Requests per window for the global limit. Default 50. */
  globalLimit?: number;
  /**
   * The sliding window for the global limit. Default 1 000 ms, Discord's second: a request counts
   * from its slot until this long after its answer, so travel time needs no extra margin.
   */
  globalWindowMs?: number;
  /** How many 429s one call waits out before giving the answer back. Default 2. */
  maxRateLimitWaits?: number;
  /**
   * The longest one call sleeps for a slot or a 429; a longer wait returns `deferred` so the
   * caller can put its job back and do another one (a busy guild does not hold up the rest).
   * Default 1 500.
   */
  maxWaitMs?: number;
  /** Clock in epoch ms; tests may replace it. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Discord calls that wait for their slot first. */
export interface RateLimitedDiscord {
  /**
   * Takes a slot, sends `route` (built by `discordRoutes`), records the answer's rate-limit
   * headers, and waits out a 429 when the wait fits before `deadline` (epoch ms).
   */
  send(
    route: DiscordRoute,
    options: { timeoutMs?: number },
    deadline: number,
  ): Promise<RateLimitedResult>;
}

function numberHeader(headers: Headers, name: string): number | null {
  const value = headers.get(name);
  if (value === null || value.trim() === "") return null;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : null;
}

/** The `retry_after` of a 429 in milliseconds, from the body or else the `Retry-After` header. */
export function retryAfterMsOf(response: DiscordResponse): number {
  const body = response.body as { retry_after?: unknown } | null;
  if (body && typeof body.retry_after === "number") return Math.ceil(body.retry_after * 1000);
  const header = numberHeader(response.headers, "Retry-After");
  return header === null ? 1_000 : Math.ceil(header * 1000);
}

/** Whether a 429 was Discord's global limit rather than the route's bucket. */
export function isGlobalRateLimit(response: DiscordResponse): boolean {
  const body = response.body as { global?: unknown } | null;
  return body?.global === true ||
    response.headers.get("X-RateLimit-Global")?.toLowerCase() === "true" ||
    response.headers.get("X-RateLimit-Scope") === "global";
}

/** Creates the rate-limited caller over `api`, with its bucket state in `sql`. */
export function createRateLimitedDiscord(options: RateLimitedDiscordOptions): RateLimitedDiscord {
  const { api, sql } = options;
  const globalLimit = options.globalLimit ?? DISCORD_GLOBAL_LIMIT_PER_SECOND;
  const globalWindowMs = options.globalWindowMs ?? 1_000;
  const maxWaits = options.maxRateLimitWaits ?? 2;
  const maxWaitMs = options.maxWaitMs ?? 1_500;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));

  /** A slot taken: `takenAt` (the database's clock) names a global one. */
  interface Slot {
    kind: "taken";
    takenAt: Date | null;
    /** `performance.now()` before the slot was asked for: the call's time is measured from it. */
    askedAt: number;
  }

  async function acquire(
    bucket: RouteBucket,
    deadline: number,
    maxInFlightMs: number,
  ): Promise<Slot | { kind: "wait"; waitMs: number }> {
    while (true) {
      const askedAt = performance.now();
      const { wait_ms: wait, taken_at: takenAt } = oneRow(
        await sql<
          { wait_ms: number; taken_at: Date | null }[]
        >`
        select * from rolepass.acquire_discord_slot(${bucket.key}, ${bucket.global},
          ${globalLimit}, ${globalWindowMs}, ${maxInFlightMs})`,
        "acquire_discord_slot's result",
      );
      if (wait <= 0) return { kind: "taken", takenAt, askedAt };
      if (wait > maxWaitMs || now() + wait >= deadline) return { kind: "wait", waitMs: wait };
      await sleep(wait);
    }
  }

  async function record(
    bucket: RouteBucket,
    slot: Slot,
    response: DiscordResponse | null,
  ): Promise<void> {
    const headers = response?.headers ?? new Headers();
    const limited = response?.status === 429;
    const resetAfter = numberHeader(headers, "X-RateLimit-Reset-After");
    await sql`
      select rolepass.record_discord_rate_limit(
        ${bucket.key},
        ${headers.get("X-RateLimit-Bucket")},
        ${numberHeader(headers, "X-RateLimit-Limit")},
        ${numberHeader(headers, "X-RateLimit-Remaining")},
        ${resetAfter === null ? null : Math.ceil(resetAfter * 1000)},
        ${response && limited ? retryAfterMsOf(response) : null},
        ${response !== null && limited && isGlobalRateLimit(response)},
        ${slot.takenAt},
        ${Math.ceil(performance.now() - slot.askedAt)}
      )`;
  }

  return {
    async send(route, requestOptions, deadline) {
      const bucket = await routeBucketOf(route.method, route.path);
      for (let waits = 0;; waits++) {
        const requestTimeoutMs = requestOptions.timeoutMs ?? 10_000;
        // A slot whose answer is never recorded (the isolate died) stops counting after this.
        const slot = await acquire(bucket, deadline, requestTimeoutMs + 5_000);
        if (slot.kind === "wait") return { kind: "deferred", waitMs: slot.waitMs };
        const timeoutMs = Math.max(1, Math.min(requestTimeoutMs, deadline - now()));
        let response: DiscordResponse;
        try {
          response = await api.send(route, { timeoutMs });
        } catch (error) {
          await record(bucket, slot, null);
          if (error instanceof DOMException && error.name === "TimeoutError") {
            return { kind: "timeout" };
          }
          return {
            kind: "network",
            message: error instanceof Error ? error.message : String(error),
          };
        }
        await record(bucket, slot, response);
        if (response.status !== 429 || waits >= maxWaits) return { kind: "response", response };
        const retryAfter = retryAfterMsOf(response);
        if (retryAfter > maxWaitMs || now() + retryAfter >= deadline) {
          return { kind: "response", response };
        }
      }
    },
  };
}
