/**
 * Idempotent requests (https://docs.stripe.com/api/idempotent_requests): the first result of a POST
 * with an `Idempotency-Key` is saved and replayed for later requests with the same key, including
 * errors; the same key with other parameters or on another endpoint is an `idempotency_error`.
 * Results of requests that fail parameter validation are not saved, and a key whose first request
 * is still running answers 409.
 */
import { idempotencyInFlight, idempotencyMismatch } from "./errors.ts";

/** A saved answer. */
export interface SavedResponse {
  status: number;
  body: string;
  requestId: string;
}

interface Entry {
  endpoint: string;
  params: string;
  response: SavedResponse | null;
}

/** What to do with a request that carries an idempotency key. */
export type IdempotencyDecision =
  | { kind: "execute" }
  | { kind: "replay"; response: SavedResponse };

/** Saved results by key (per API key, as Stripe scopes them). */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  /**
   * Decides whether to run or replay a request; throws the idempotency errors.
   *
   * @param endpoint "POST /v1/customers".
   * @param params canonical text of the parameters.
   */
  begin(key: string, endpoint: string, params: string): IdempotencyDecision {
    const entry = this.entries.get(key);
    if (!entry) {
      this.entries.set(key, { endpoint, params, response: null });
      return { kind: "execute" };
    }
    if (entry.endpoint !== endpoint) throw idempotencyMismatch(key, entry.endpoint, endpoint);
    if (entry.params !== params) throw idempotencyMismatch(key, entry.endpoint, endpoint);
    if (!entry.response) throw idempotencyInFlight(key);
    return { kind: "replay", response: entry.response };
  }

  /** Saves the answer of an executed request. */
  save(key: string, response: SavedResponse): void {
    const entry = this.entries.get(key);
    if (entry) entry.response = response;
  }

  /** Forgets a key whose request did not start executing (validation failed, dropped). */
  forget(key: string): void {
    this.entries.delete(key);
  }
}
