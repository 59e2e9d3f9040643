/**
 * Discord's rate limits: per-route buckets keyed by their major parameter, plus the global
 * per-bot limit, with the headers and 429 bodies Discord sends.
 *
 * - Role add and remove share one bucket per guild (major parameter `guild_id`). The observed
 *   limit is 10 in a fixed window (discord-api-docs#7680); the window length is not documented.
 * - Messages are limited per channel, webhooks (and interaction follow-ups) per webhook token.
 * - The global limit is 50 requests per second per bot token; interaction endpoints are not
 *   bound to it (docs: "Rate Limits", "Receiving and Responding").
 *
 * @see https://discord.com/developers/docs/topics/rate-limits
 * @module
 */

/** The families of routes that have a bucket of their own. */
export type BucketKind =
  | "roles"
  | "messages"
  | "dm_channels"
  | "webhooks"
  | "interaction_callbacks"
  | "commands"
  | "default";

/** A bucket's size: `limit` requests per `resetAfterSeconds`. */
export interface BucketLimit {
  limit: number;
  resetAfterSeconds: number;
}

/** Rate-limit settings of the double. */
export interface RateLimitOptions {
  /** `false` turns every limit off (unit tests). Default `true`. */
  enabled?: boolean;
  /** Global limit per bot token. Default 50 per 1 s. */
  global?: BucketLimit;
  /** Per-kind bucket sizes; unspecified kinds keep their defaults. */
  buckets?: Partial<Record<BucketKind, BucketLimit>>;
}

/** Bucket sizes used when a test does not say otherwise. */
export const DEFAULT_BUCKETS: Readonly<Record<BucketKind, BucketLimit>> = {
  roles: { limit: 10, resetAfterSeconds: 10 },
  messages: { limit: 5, resetAfterSeconds: 5 },
  dm_channels: { limit: 10, resetAfterSeconds: 10 },
  webhooks: { limit: 5, resetAfterSeconds: 2 },
  interaction_callbacks: { limit: 50, resetAfterSeconds: 1 },
  commands: { limit: 5, resetAfterSeconds: 20 },
  default: { limit: 10, resetAfterSeconds: 10 },
};

/** Discord's documented global limit. */
export const DEFAULT_GLOBAL: Readonly<BucketLimit> = { limit: 50, resetAfterSeconds: 1 };

/** Which bucket a request falls in. */
export interface RouteKey {
  kind: BucketKind;
  /** Separates buckets of the same kind that Discord does not share, e.g. the operation id. */
  routeId: string;
  /** The major parameter value (guild, channel, webhook id + token). */
  major: string;
  /** Whether the global limit applies (not for interaction endpoints). */
  global: boolean;
}

/** The outcome of asking for a slot. */
export type RateDecision =
  | { allowed: true; headers: Record<string, string> }
  | {
    allowed: false;
    scope: "user" | "global";
    retryAfterSeconds: number;
    headers: Record<string, string>;
    body: { message: string; retry_after: number; global: boolean };
  };

interface Window {
  remaining: number;
  resetAt: number;
}

/** Fixed-window buckets as Discord reports them. */
export class RateLimiter {
  #enabled: boolean;
  #global: BucketLimit;
  #buckets: Record<BucketKind, BucketLimit>;
  #windows = new Map<string, Window>();
  #globalWindows = new Map<string, Window>();
  #hashes = new Map<string, string>();

  /** @param options bucket sizes and switches. */
  constructor(options: RateLimitOptions = {}) {
    this.#enabled = options.enabled ?? true;
    this.#global = options.global ?? DEFAULT_GLOBAL;
    this.#buckets = { ...DEFAULT_BUCKETS, ...options.buckets };
  }

  /** Changes settings at run time; existing windows keep running. */
  configure(options: RateLimitOptions): void {
    if (options.enabled !== undefined) this.#enabled = options.enabled;
    if (options.global) this.#global = options.global;
    if (options.buckets) this.#buckets = { ...this.#buckets, ...options.buckets };
  }

  /** Forgets every window. */
  reset(): void {
    this.#windows.clear();
    this.#globalWindows.clear();
  }

  /** The opaque `X-RateLimit-Bucket` id of a route family (same for every major value). */
  bucketHash(key: Pick<RouteKey, "kind" | "routeId">): string {
    const name = key.kind === "default" ? `default:${key.routeId}` : key.kind;
    let hash = this.#hashes.get(name);
    if (!hash) {
      hash = opaqueHash(name);
      this.#hashes.set(name, hash);
    }
    return hash;
  }

  /**
   * Takes a slot for one request at `now` (epoch ms) under `token`, or says why not.
   * Requests refused by the global limit do not use a route slot.
   */
  take(key: RouteKey, token: string, now: number): RateDecision {
    if (!this.#enabled) return { allowed: true, headers: {} };
    if (key.global) {
      const g = this.#window(this.#globalWindows, token, this.#global, now);
      if (g.remaining <= 0) {
        const retry = seconds(g.resetAt - now);
        return {
          allowed: false,
          scope: "global",
          retryAfterSeconds: retry,
          headers: {
            "Retry-After": String(Math.ceil(retry)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
          },
          body: { message: "You are being rate limited.", retry_after: retry, global: true },
        };
      }
      g.remaining--;
    }
    const limit = this.#buckets[key.kind];
    const id = `${this.bucketHash(key)}:${key.major}`;
    const w = this.#window(this.#windows, id, limit, now);
    const headers = (remaining: number) => ({
      "X-RateLimit-Limit": String(limit.limit),
      "X-RateLimit-Remaining": String(remaining),
      "X-RateLimit-Reset": (w.resetAt / 1000).toFixed(3),
      "X-RateLimit-Reset-After": seconds(w.resetAt - now).toFixed(3),
      "X-RateLimit-Bucket": this.bucketHash(key),
    });
    if (w.remaining <= 0) {
      const retry = seconds(w.resetAt - now);
      return {
        allowed: false,
        scope: "user",
        retryAfterSeconds: retry,
        headers: {
          ...headers(0),
          "Retry-After": String(Math.ceil(retry)),
          "X-RateLimit-Scope": "user",
        },
        body: { message: "You are being rate limited.", retry_after: retry, global: false },
      };
    }
    w.remaining--;
    return { allowed: true, headers: headers(w.remaining) };
  }

  #window(store: Map<string, Window>, id: string, limit: BucketLimit, now: number): Window {
    let w = store.get(id);
    if (!w || now >= w.resetAt) {
      w = { remaining: limit.limit, resetAt: now + limit.resetAfterSeconds * 1000 };
      store.set(id, w);
    }
    return w;
  }
}

/** Milliseconds to seconds, rounded up to the millisecond as Discord's floats are. */
function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms)) / 1000;
}

/** A stable 32-hex-digit id, shaped like Discord's bucket hashes. */
function opaqueHash(text: string): string {
  let out = "";
  for (let seed = 0; seed < 4; seed++) {
    let h = 0x811c9dc5 ^ seed;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    out += (h >>> 0).toString(16).padStart(8, "0");
  }
  return out;
}
