/**
 * Faults a test can make Discord show: 5xx answers, slow answers (client timeouts), dropped
 * connections and forced 429s, per route or at random with a seed. A fault may strike before the
 * request is handled (nothing happened) or after it (the change is made, the answer is lost: the
 * caller cannot tell which).
 *
 * @module
 */

/** One injected fault. Fields that are absent do not restrict or change anything. */
export interface FaultRule {
  /** HTTP method to match; any when absent. */
  method?: string;
  /** Path after `/api/v10`: exact string, or a RegExp tested against it. */
  path: string | RegExp;
  /** Answer with this status instead of handling the request (5xx, 429, ...). */
  status?: number;
  /** Body for `status`; a Discord-shaped default when absent. */
  body?: unknown;
  /** Wait this long before answering (or before handling, when no `status`/`drop`). */
  delayMs?: number;
  /** Close the connection without an answer. */
  drop?: boolean;
  /** For a 429: the `retry_after` to send, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** For a 429: `X-RateLimit-Scope`. Default `user`. */
  scope?: "user" | "global" | "shared";
  /** Apply this many times, then retire. Unlimited when absent. */
  times?: number;
  /** Let this many matching requests through first (a fault in the middle of a paged read). */
  skip?: number;
  /** Apply with this probability (0..1), drawn from the double's seeded generator. */
  probability?: number;
  /**
   * Handle the request first, then apply the fault to its answer: a message is posted, a role is
   * changed, and the caller gets a 5xx, a late answer or a dropped connection instead.
   */
  afterHandling?: boolean;
}

/**
 * The kinds of fault {@linkcode FaultInjector.randomFaults} picks from. `lost_answer` and
 * `late_answer` happen after the request was handled: a 5xx replaces the answer, or the real
 * answer comes after `timeoutMs`. (A connection dropped after handling is no lost answer to a
 * client: Deno's `fetch` sends a POST again on a reused connection that closes unanswered.)
 */
export type RandomFaultKind = "5xx" | "timeout" | "429" | "drop" | "lost_answer" | "late_answer";

/** Settings for random (chaos) faults. */
export interface RandomFaultOptions {
  /** Share of requests that get a fault, 0..1. */
  rate: number;
  /** Kinds to pick from, uniformly. Default `["5xx", "timeout", "429"]`. */
  kinds?: RandomFaultKind[];
  /** Seed for a repeatable sequence. Default 1. */
  seed?: number;
  /** How long a `timeout` fault holds the request. Default 15 000 ms. */
  timeoutMs?: number;
  /** Only requests whose path matches. */
  path?: RegExp;
}

/** What the server should do to a request; `afterHandling`: to its answer, once handled. */
export type FaultAction =
  | { kind: "none" }
  | { kind: "delay"; delayMs: number; afterHandling: boolean }
  | {
    kind: "respond";
    delayMs: number;
    status: number;
    body?: unknown;
    retryAfterSeconds: number;
    scope: "user" | "global" | "shared";
    afterHandling: boolean;
  }
  | { kind: "drop"; delayMs: number; afterHandling: boolean };

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
  toSkip: number;
}

/** Holds fault rules and decides, per request, which one applies. */
export class FaultInjector {
  #rules: ActiveRule[] = [];
  #random?: Required<Omit<RandomFaultOptions, "path">> & { path?: RegExp };
  #next: () => number = mulberry32(1);
  /** How many requests were faulted. */
  injected = 0;

  /** Adds a rule; rules are tried in the order they were added. */
  inject(rule: FaultRule): void {
    this.#rules.push({ rule, remaining: rule.times ?? Infinity, toSkip: rule.skip ?? 0 });
  }

  /** Turns on random faults. */
  randomFaults(options: RandomFaultOptions): void {
    this.#random = {
      rate: options.rate,
      kinds: options.kinds ?? ["5xx", "timeout", "429"],
      seed: options.seed ?? 1,
      timeoutMs: options.timeoutMs ?? 15_000,
      path: options.path,
    };
    this.#next = mulberry32(this.#random.seed);
  }

  /** Removes every rule and turns random faults off. */
  clear(): void {
    this.#rules = [];
    this.#random = undefined;
  }

  /** Decides what happens to `method path`. */
  decide(method: string, path: string): FaultAction {
    for (const active of this.#rules) {
      const { rule } = active;
      if (active.remaining <= 0) continue;
      if (rule.method && rule.method.toUpperCase() !== method.toUpperCase()) continue;
      if (typeof rule.path === "string" ? rule.path !== path : !rule.path.test(path)) continue;
      if (rule.probability !== undefined && this.#next() >= rule.probability) continue;
      if (active.toSkip > 0) {
        active.toSkip--;
        continue;
      }
      active.remaining--;
      this.injected++;
      return actionOf(rule);
    }
    this.#rules = this.#rules.filter((r) => r.remaining > 0);
    const random = this.#random;
    if (!random || (random.path && !random.path.test(path))) return { kind: "none" };
    if (this.#next() >= random.rate) return { kind: "none" };
    const kind = random.kinds[Math.floor(this.#next() * random.kinds.length)];
    if (kind === undefined) return { kind: "none" };
    this.injected++;
    switch (kind) {
      case "5xx":
        return actionOf({ path, status: [500, 502, 503][Math.floor(this.#next() * 3)] });
      case "429":
        return actionOf({
          path,
          status: 429,
          retryAfterSeconds: 0.5 + Math.round(this.#next() * 1500) / 1000,
        });
      case "timeout":
        return actionOf({ path, status: 504, delayMs: random.timeoutMs });
      case "drop":
        return actionOf({ path, drop: true });
      case "lost_answer":
        return actionOf({
          path,
          status: [500, 502, 503][Math.floor(this.#next() * 3)],
          afterHandling: true,
        });
      case "late_answer":
        return actionOf({ path, delayMs: random.timeoutMs, afterHandling: true });
    }
  }
}

function actionOf(rule: FaultRule): FaultAction {
  const delayMs = rule.delayMs ?? 0;
  const afterHandling = rule.afterHandling ?? false;
  if (rule.drop) return { kind: "drop", delayMs, afterHandling };
  if (rule.status !== undefined) {
    return {
      kind: "respond",
      delayMs,
      status: rule.status,
      body: rule.body,
      retryAfterSeconds: rule.retryAfterSeconds ?? 1,
      scope: rule.scope ?? "user",
      afterHandling,
    };
  }
  return delayMs > 0 ? { kind: "delay", delayMs, afterHandling } : { kind: "none" };
}

/** A small seeded generator (mulberry32), so a chaos run can be repeated exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
