/**
 * What production code sent to the double: every request with its outcome, the requests Discord's
 * OpenAPI description would not accept, and the counters benchmarks read (per-route totals,
 * 429s, invalid requests, throughput per second).
 *
 * @module
 */

import type { FieldErrorAt } from "./discord_errors.ts";

/** One request as the double saw and answered it. */
export interface LoggedRequest {
  /** Epoch ms on the double's clock. */
  at: number;
  method: string;
  /** Path after `/api/v10`, with the query string. */
  path: string;
  /** `METHOD /template` of the matched operation, or `METHOD (unknown)`. */
  route: string;
  operationId?: string;
  status: number;
  /** Decoded `X-Audit-Log-Reason`, when sent. */
  auditLogReason?: string;
  /** The parsed JSON body, when there was one. */
  body?: unknown;
  /** `X-RateLimit-Bucket` answered, when any. */
  bucket?: string;
  /** Set when a fault rule shaped the answer; `afterHandling` when the request was handled. */
  fault?: "respond" | "delay" | "drop";
  afterHandling?: boolean;
  /** Time spent answering, in real milliseconds. */
  durationMs: number;
}

/** Why a request would not be accepted by Discord, according to its OpenAPI description. */
export interface SpecViolation {
  at: number;
  method: string;
  path: string;
  operationId?: string;
  kind:
    | "unknown-path"
    | "unknown-method"
    | "path-params"
    | "query"
    | "content-type"
    | "body"
    | "header";
  errors: FieldErrorAt[];
}

/** Counters of one route. */
export interface RouteStats {
  count: number;
  byStatus: Record<string, number>;
}

/** Requests finished within one second. */
export interface SecondStats {
  /** Epoch second. */
  second: number;
  requests: number;
  /** 2xx answers. */
  ok: number;
  rateLimited: number;
}

/** The figures a test or benchmark reads. */
export interface DoubleStats {
  total: number;
  routes: Record<string, RouteStats>;
  /** All 429s, whatever their scope. */
  rateLimited: number;
  rateLimitedGlobal: number;
  unauthorized: number;
  forbidden: number;
  /**
   * Requests that count toward Discord's invalid-request limit (10,000 per 10 minutes):
   * 401, 403, and 429 except `shared` scope.
   */
  invalid: number;
  /** The largest number of `invalid` in any 10-minute window. */
  invalidPeak10Minutes: number;
  specViolations: number;
  faultsInjected: number;
  /** Requests per second, oldest first, for seconds with traffic. */
  perSecond: SecondStats[];
  /** Highest `requests` of any second. */
  peakPerSecond: number;
  /** Highest `ok` of any second. */
  peakOkPerSecond: number;
  /** Mean requests per second between the first and the last request. */
  meanPerSecond: number;
}

/** Records requests and computes {@linkcode DoubleStats}. */
export class RequestLog {
  #requests: LoggedRequest[] = [];
  #violations: SpecViolation[] = [];
  #routes = new Map<string, RouteStats>();
  #seconds = new Map<number, SecondStats>();
  #invalidAt: number[] = [];
  #total = 0;
  #rateLimited = 0;
  #rateLimitedGlobal = 0;
  #unauthorized = 0;
  #forbidden = 0;
  #limit: number;

  /** @param limit how many requests to keep in {@linkcode RequestLog.requests}; counters keep counting. */
  constructor(limit = 20_000) {
    this.#limit = limit;
  }

  /** Records a finished request; `scope` is the 429 scope when it was one. */
  record(entry: LoggedRequest, scope?: "user" | "global" | "shared"): void {
    this.#requests.push(entry);
    if (this.#requests.length > this.#limit) this.#requests.shift();
    this.#total++;
    const route = this.#routes.get(entry.route) ?? { count: 0, byStatus: {} };
    route.count++;
    route.byStatus[entry.status] = (route.byStatus[entry.status] ?? 0) + 1;
    this.#routes.set(entry.route, route);
    const second = Math.floor(entry.at / 1000);
    const s = this.#seconds.get(second) ?? { second, requests: 0, ok: 0, rateLimited: 0 };
    s.requests++;
    if (entry.status >= 200 && entry.status < 300) s.ok++;
    if (entry.status === 429) s.rateLimited++;
    this.#seconds.set(second, s);
    if (entry.status === 401) this.#unauthorized++;
    if (entry.status === 403) this.#forbidden++;
    if (entry.status === 429) {
      this.#rateLimited++;
      if (scope === "global") this.#rateLimitedGlobal++;
    }
    const invalid = entry.status === 401 || entry.status === 403 ||
      (entry.status === 429 && scope !== "shared");
    if (invalid) this.#invalidAt.push(entry.at);
  }

  /** Records a spec violation. */
  violation(v: SpecViolation): void {
    this.#violations.push(v);
  }

  /** The kept requests, oldest first. */
  requests(): LoggedRequest[] {
    return [...this.#requests];
  }

  /** Every spec violation, oldest first. */
  specViolations(): SpecViolation[] {
    return [...this.#violations];
  }

  /** Current figures; `faultsInjected` comes from the fault injector. */
  stats(faultsInjected: number): DoubleStats {
    const perSecond = [...this.#seconds.values()].sort((a, b) => a.second - b.second);
    const first = this.#requests[0]?.at;
    const last = this.#requests.at(-1)?.at;
    const spanSeconds = first !== undefined && last !== undefined
      ? Math.max(1, (last - first) / 1000)
      : 1;
    return {
      total: this.#total,
      routes: Object.fromEntries([...this.#routes].map(([k, v]) => [k, structuredClone(v)])),
      rateLimited: this.#rateLimited,
      rateLimitedGlobal: this.#rateLimitedGlobal,
      unauthorized: this.#unauthorized,
      forbidden: this.#forbidden,
      invalid: this.#invalidAt.length,
      invalidPeak10Minutes: peakInWindow(this.#invalidAt, 10 * 60 * 1000),
      specViolations: this.#violations.length,
      faultsInjected,
      perSecond,
      peakPerSecond: Math.max(0, ...perSecond.map((s) => s.requests)),
      peakOkPerSecond: Math.max(0, ...perSecond.map((s) => s.ok)),
      meanPerSecond: this.#requests.length === 0 ? 0 : this.#requests.length / spanSeconds,
    };
  }

  /** Forgets everything. */
  clear(): void {
    this.#requests = [];
    this.#violations = [];
    this.#routes.clear();
    this.#seconds.clear();
    this.#invalidAt = [];
    this.#total =
      this.#rateLimited =
      this.#rateLimitedGlobal =
      this.#unauthorized =
      this.#forbidden =
        0;
  }
}

function peakInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  let start = 0;
  for (const [end, time] of sorted.entries()) {
    // start <= end, so sorted[start] is there; `?? time` only ends the loop if it were not.
    while (time - (sorted[start] ?? time) >= windowMs) start++;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
