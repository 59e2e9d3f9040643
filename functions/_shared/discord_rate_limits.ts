/**
 * Discord calls that respect Discord's rate limits across every instance of a function.
 *
 * Before each call a slot is taken in the database (`rolepass.acquire_discord_slot`): the bucket
 * state learned from `X-RateLimit-*` headers and a sliding window for the global 50 requests/s
 * live there, so a burst of jobs spread over many isolates drains at Discord's rate instead of
 * discovering it through 429s (429s count towards the invalid-request limit that bans an IP:
 * https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit-aka-cloudflare-bans).
 * Every answer's headers are written back (`rolepass.record_discord_rate_limit`), with the latest
 * the request can have reached Discord: the global window counts each request until one window
 * after that, which holds however late a busy isolate sends what it was allowed to.
 *
 * A request reaches Discord somewhere between its slot and its answer. Counting it until its
 * answer plus a window held every slot one round trip too long: with 100 ms of latency, 50 slots
 * served 45 requests/s. Every request travels there and back about as long as the fastest round
 * trip seen lately, so the latest it can have arrived is its answer less that fastest round trip,
 * less {@link TRAVEL_JITTER_MS} for one way being faster than the other by chance (when the
 * fastest is under 50 ms, nothing is taken off). A request that still arrives early is answered
 * with a 429, which is honoured. Callers waiting for the global window queue in their process,
 * live work first, and only the head of the queue asks the database again.
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

/** Whether someone waits for a call now (a member's own change) or it is bulk work. */
export type CallPriority = "live" | "bulk";

/** Options of {@linkcode createRateLimitedDiscord}. */
export interface RateLimitedDiscordOptions {
  api: DiscordApi;
  sql: Sql;
  /** Requests per window for the global limit. Default 50. */
  globalLimit?: number;
  /**
   * The sliding window for the global limit. Default 1 000 ms, Discord's second: a request counts
   * from its slot until this long after it can at the latest have reached Discord.
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
  /** The clock; tests may replace it. */
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** Discord calls that wait for their slot first. */
export interface RateLimitedDiscord {
  /**
   * Takes a slot, sends `route` (built by `discordRoutes`), records the answer's rate-limit
   * headers, and waits out a 429 when the wait fits before `deadline` (epoch ms). A `live` call
   * takes the next free global slot before any `bulk` call of this process (the default).
   */
  send(
    route: DiscordRoute,
    options: { timeoutMs?: number; priority?: CallPriority },
    deadline: number,
  ): Promise<RateLimitedResult>;
  /**
   * Lets the caller in to take a job once few calls of this process wait for the global window
   * (or at `deadline`, epoch ms), and resolves with the function to call when that job is over
   * or none was found. A worker that asks before it takes a job holds no job while the window is
   * full, so the job it takes when there is room is the most urgent one.
   */
  untilRoom(deadline: number): Promise<() => void>;
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

/**
 * How many jobs a process keeps ready for the global window: calls waiting for it, and workers
 * let in to take a job. Enough that a freed slot is used at once while the next jobs are being
 * taken; few enough that a live job taken now waits for no bulk job taken before it but the one
 * asking, since live calls go first in the queue.
 */
const READY_CALLS = 4;

/** What a caller's turn at the global window came to. */
type Turn = { kind: "ask" } | { kind: "wait"; waitMs: number };

interface QueuedCaller {
  rank: number;
  arrival: number;
  giveUpAfterMs: number;
  deadline: number;
  resolve: (turn: Turn) => void;
}

/** A worker let in to take a job, until it calls or says it is done. */
type Entrant = Record<never, never>;

/**
 * The callers of one process waiting for the global window, live before bulk and first come
 * first served within each. Only the head asks the database, and only once the window has room
 * again, so a freed slot goes to the head rather than to whichever of many pollers asks first,
 * and a waiting caller costs no query. Workers wait here before they take a job (`untilRoom`),
 * so jobs are not taken faster than the window lets their calls go.
 */
class GlobalWindowQueue {
  #callers: QueuedCaller[] = [];
  #roomWaiters: { deadline: number; resolve: (entrant: Entrant) => void }[] = [];
  #entrants: Entrant[] = [];
  #asking = false;
  /** Callers told to wait for the window, about to take their place again. */
  #returning = 0;
  /** When the window has room again, epoch ms. */
  #roomAt = 0;
  /** The earliest wake-up already set (epoch ms). */
  #wakeAt = Infinity;
  #arrivals = 0;
  #now: () => number;
  #sleep: (ms: number) => Promise<void>;

  constructor(now: () => number, sleep: (ms: number) => Promise<void>) {
    this.#now = now;
    this.#sleep = sleep;
  }

  /** See {@linkcode RateLimitedDiscord.untilRoom}. */
  async untilRoom(deadline: number): Promise<() => void> {
    const entrant = await new Promise<Entrant>((resolve) => {
      this.#roomWaiters.push({ deadline, resolve });
      this.#next();
    });
    return () => {
      const at = this.#entrants.indexOf(entrant);
      if (at < 0) return;
      this.#entrants.splice(at, 1);
      this.#next();
    };
  }

  /** A place in the queue; `arrival` keeps a caller's place when it comes back. */
  arrival(): number {
    return this.#arrivals++;
  }

  /** Waits for this caller's turn to ask, or says how long the window is shut past its limits. */
  turn(
    priority: CallPriority,
    arrival: number,
    giveUpAfterMs: number,
    deadline: number,
  ): Promise<Turn> {
    return new Promise((resolve) => {
      this.#callers.push({
        rank: priority === "live" ? 0 : 1,
        arrival,
        giveUpAfterMs,
        deadline,
        resolve,
      });
      this.#callers.sort((a, b) => a.rank - b.rank || a.arrival - b.arrival);
      // A caller coming back after a wait, else the worker let in longest ago, is calling now.
      if (this.#returning > 0) this.#returning--;
      else this.#entrants.shift();
      this.#next();
    });
  }

  /** The head asked; `globalWaitMs` is how long the window stays shut, if that is what it said. */
  asked(globalWaitMs: number | null): void {
    this.#asking = false;
    if (globalWaitMs !== null) {
      this.#roomAt = Math.max(this.#roomAt, this.#now() + globalWaitMs);
      this.#returning++;
    }
    this.#next();
  }

  #next(): void {
    const now = this.#now();
    const shutMs = this.#roomAt - now;
    this.#letWorkersIn(now, shutMs);
    if (this.#asking) return;
    if (shutMs > 0) {
      // Callers who would wait past their limits are told now, as the database would tell them.
      this.#callers = this.#callers.filter((caller) => {
        const keep = shutMs <= caller.giveUpAfterMs && now + shutMs < caller.deadline;
        if (!keep) caller.resolve({ kind: "wait", waitMs: shutMs });
        return keep;
      });
      if (this.#callers.length > 0) this.#wakeIn(shutMs);
      return;
    }
    const head = this.#callers.shift();
    if (!head) return;
    this.#asking = true;
    head.resolve({ kind: "ask" });
  }

  /** Lets waiting workers in while fewer than {@link READY_CALLS} jobs are ready. */
  #letWorkersIn(now: number, shutMs: number): void {
    this.#roomWaiters = this.#roomWaiters.filter((waiter) => {
      // One whose deadline the window's shut time passes is let go, to find it passed.
      const late = now + Math.max(0, shutMs) >= waiter.deadline;
      if (late) waiter.resolve({});
      return !late;
    });
    while (
      this.#roomWaiters.length > 0 &&
      this.#callers.length + (this.#asking ? 1 : 0) + this.#returning + this.#entrants.length <
        READY_CALLS
    ) {
      const entrant: Entrant = {};
      this.#entrants.push(entrant);
      this.#roomWaiters.shift()?.resolve(entrant);
    }
  }

  #wakeIn(ms: number): void {
    const at = this.#now() + ms;
    if (at >= this.#wakeAt) return;
    this.#wakeAt = at;
    this.#sleep(ms).then(() => {
      if (this.#wakeAt === at) this.#wakeAt = Infinity;
      this.#next();
    });
  }
}

/** How many recent round trips the fastest one is taken from. */
const ROUND_TRIPS_KEPT = 64;

/** How many round trips must be seen before the fastest is trusted: one slow call is no sample. */
const ROUND_TRIPS_TRUSTED = 16;

/**
 * How much of the fastest round trip is not counted as travel every request makes: a request's
 * way there and another's way back can each be faster than the fastest round trip's halves.
 */
export const TRAVEL_JITTER_MS = 20;

/**
 * Below this, the fastest round trip is mostly this machine's own scheduling (a busy event loop,
 * a double on loopback), which a request can skip: nothing is counted as travel.
 */
const LOCAL_ROUND_TRIP_MS = 50;

/** Creates the rate-limited caller over `api`, with its bucket state in `sql`. */
export function createRateLimitedDiscord(options: RateLimitedDiscordOptions): RateLimitedDiscord {
  const { api, sql } = options;
  const globalLimit = options.globalLimit ?? DISCORD_GLOBAL_LIMIT_PER_SECOND;
  const globalWindowMs = options.globalWindowMs ?? 1_000;
  const maxWaits = options.maxRateLimitWaits ?? 2;
  const maxWaitMs = options.maxWaitMs ?? 1_500;
  const clock = options.now ?? (() => new Date());
  const now = () => clock().getTime();
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const globalWindow = new GlobalWindowQueue(now, sleep);
  const roundTrips: number[] = [];

  /** A slot taken: `takenAt` (the database's clock) names a global one. */
  interface Slot {
    kind: "taken";
    takenAt: Date | null;
    /** `performance.now()` before the slot was asked for: the call's time is measured from it. */
    askedAt: number;
  }

  async function askDatabase(bucket: RouteBucket, maxInFlightMs: number) {
    return oneRow(
      await sql<
        { wait_ms: number; taken_at: Date | null; waiting_for: "bucket" | "global" | null }[]
      >`
      select * from rolepass.acquire_discord_slot(${bucket.key}, ${bucket.global},
        ${globalLimit}, ${globalWindowMs}, ${maxInFlightMs})`,
      "acquire_discord_slot's result",
    );
  }

  async function acquire(
    bucket: RouteBucket,
    priority: CallPriority,
    deadline: number,
    maxInFlightMs: number,
  ): Promise<Slot | { kind: "wait"; waitMs: number }> {
    const arrival = globalWindow.arrival();
    while (true) {
      if (bucket.global) {
        const turn = await globalWindow.turn(priority, arrival, maxWaitMs, deadline);
        if (turn.kind === "wait") return turn;
      }
      const askedAt = performance.now();
      const answer = await askDatabase(bucket, maxInFlightMs).catch((error) => {
        if (bucket.global) globalWindow.asked(null);
        throw error;
      });
      const { wait_ms: wait, taken_at: takenAt, waiting_for: waitingFor } = answer;
      const globalWait = wait > 0 && waitingFor === "global";
      if (bucket.global) globalWindow.asked(globalWait ? wait : null);
      if (wait <= 0) return { kind: "taken", takenAt, askedAt };
      // The queue keeps this caller's place and gives it its turn when the window has room.
      if (globalWait) continue;
      if (wait > maxWaitMs || now() + wait >= deadline) return { kind: "wait", waitMs: wait };
      await sleep(wait);
    }
  }

  /** Notes a round trip to Discord; returns the travel every request makes both ways, in ms. */
  function certainTravel(roundTripMs: number): number {
    roundTrips.push(roundTripMs);
    if (roundTrips.length > ROUND_TRIPS_KEPT) roundTrips.shift();
    if (roundTrips.length < ROUND_TRIPS_TRUSTED) return 0;
    const fastest = Math.min(...roundTrips);
    return fastest < LOCAL_ROUND_TRIP_MS ? 0 : fastest - TRAVEL_JITTER_MS;
  }

  async function record(
    bucket: RouteBucket,
    slot: Slot,
    response: DiscordResponse | null,
    reachedAfterMs: number,
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
        ${Math.max(0, Math.ceil(reachedAfterMs))}
      )`;
  }

  return {
    untilRoom: (deadline) => globalWindow.untilRoom(deadline),
    async send(route, requestOptions, deadline) {
      const bucket = await routeBucketOf(route.method, route.path);
      const priority = requestOptions.priority ?? "bulk";
      for (let waits = 0;; waits++) {
        const requestTimeoutMs = requestOptions.timeoutMs ?? 10_000;
        // A slot whose answer is never recorded (the isolate died) stops counting after this.
        const slot = await acquire(bucket, priority, deadline, requestTimeoutMs + 5_000);
        if (slot.kind === "wait") return { kind: "deferred", waitMs: slot.waitMs };
        const timeoutMs = Math.max(1, Math.min(requestTimeoutMs, deadline - now()));
        const sentAt = performance.now();
        let response: DiscordResponse;
        try {
          response = await api.send(route, { timeoutMs });
        } catch (error) {
          // No answer: the request may have reached Discord at any time until now.
          await record(bucket, slot, null, performance.now() - slot.askedAt);
          if (error instanceof DOMException && error.name === "TimeoutError") {
            return { kind: "timeout" };
          }
          return {
            kind: "network",
            message: error instanceof Error ? error.message : String(error),
          };
        }
        const answeredAt = performance.now();
        const travel = certainTravel(answeredAt - sentAt);
        await record(bucket, slot, response, answeredAt - slot.askedAt - travel);
        if (response.status !== 429 || waits >= maxWaits) return { kind: "response", response };
        const retryAfter = retryAfterMsOf(response);
        if (retryAfter > maxWaitMs || now() + retryAfter >= deadline) {
          return { kind: "response", response };
        }
      }
    },
  };
}
