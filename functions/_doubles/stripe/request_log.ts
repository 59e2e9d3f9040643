/** The log of requests the double received, for assertions such as "one POST /v1/customers". */
import type { FormParams } from "./form.ts";

/** One received request. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** Parsed form body or query parameters. */
  params: FormParams;
  idempotencyKey: string | null;
  stripeVersion: string | null;
  /** HTTP status answered; null when the connection was dropped. */
  status: number | null;
  /** Whether the answer was an idempotent replay. */
  replayed: boolean;
  /** Whether a fault rule applied. */
  faulted: boolean;
  /** Unix milliseconds. */
  at: number;
}

/** Filter for {@link RequestLog.list}. */
export interface RequestFilter {
  method?: string;
  path?: string | RegExp;
}

/** Requests in arrival order. */
export class RequestLog {
  private entries: LoggedRequest[] = [];

  /** Records a request; the returned entry is completed when the answer is known. */
  record(entry: LoggedRequest): LoggedRequest {
    this.entries.push(entry);
    return entry;
  }

  /** Logged requests, optionally filtered by method and path. */
  list(filter: RequestFilter = {}): LoggedRequest[] {
    return this.entries.filter((entry) => {
      if (filter.method && entry.method !== filter.method.toUpperCase()) return false;
      if (filter.path === undefined) return true;
      return typeof filter.path === "string"
        ? entry.path === filter.path
        : filter.path.test(entry.path);
    });
  }

  /** Forgets every logged request. */
  clear(): void {
    this.entries = [];
  }
}
