/**
 * Events and webhooks: every state change appends an event whose `data.object` is a snapshot of the
 * object at that moment (and `data.previous_attributes` for updates), signed and POSTed to webhook
 * endpoints the way Stripe does it (https://docs.stripe.com/webhooks).
 */
import type Stripe from "stripe";
import { newId } from "./ids.ts";
import { fromTemplate } from "./objects.ts";
import type { StoredObject, StripeState } from "./state.ts";

/** The API request that caused an event (`event.request`); null fields for automatic changes. */
export interface EventRequest {
  id: string | null;
  idempotency_key: string | null;
}

/** One POST of one event to one endpoint. */
export interface DeliveryAttempt {
  eventId: string;
  type: string;
  endpointId: string;
  url: string;
  /** HTTP status, or null when the request failed (connection refused, timeout). */
  status: number | null;
  error: string | null;
  at: number;
}

/** Options for {@link EventLog.deliver}. */
export interface DeliverOptions {
  /** Deliver in random order, as Stripe may. */
  shuffle?: boolean;
  /** Send every event twice, as Stripe's at-least-once delivery may. */
  duplicate?: boolean;
  /** Pause between two POSTs. */
  delayMs?: number;
  /** Resend events already delivered successfully too. */
  includeDelivered?: boolean;
  /** Only these event types. */
  types?: string[];
}

/**
 * Signs a webhook payload with Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
 * "<t>.<body>">`, keyed with the whole `whsec_...` string (it is not base64-decoded).
 *
 * @returns the `Stripe-Signature` header value.
 */
export async function signPayload(
  body: string,
  secret: string,
  timestamp: number,
): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${body}`));
  const hex = Array.from(new Uint8Array(mac)).map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${timestamp},v1=${hex}`;
}

/** Stripe sends event bodies pretty-printed with two-space indents. */
export function eventBody(event: Stripe.Event): string {
  return JSON.stringify(event, null, 2);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * `previous_attributes` as Stripe reports it: the old values of changed fields; nested objects are
 * compared field by field, lists and arrays are reported whole (a renewal reports `items`).
 */
export function previousAttributes(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[key];
    const now = after[key];
    if (JSON.stringify(old) === JSON.stringify(now)) continue;
    const isList = isPlainObject(old) && old.object === "list";
    if (isPlainObject(old) && isPlainObject(now) && !isList) {
      previous[key] = previousAttributes(old, now);
    } else {
      previous[key] = old === undefined ? null : structuredClone(old);
    }
  }
  return previous;
}

function matches(endpoint: Stripe.WebhookEndpoint, type: string): boolean {
  return endpoint.enabled_events.includes("*") || endpoint.enabled_events.includes(type);
}

/**
 * Whose events a log holds and where they go: the platform's go to its ordinary endpoints; a
 * connected account's carry `account` and go to the platform's Connect endpoints.
 */
export interface EventScope {
  account: string | null;
  endpoints(): Iterable<Stripe.WebhookEndpoint>;
  secretOf(endpointId: string): string;
}

/** The account's event log and webhook sender. */
export class EventLog {
  readonly events: Stripe.Event[] = [];
  readonly attempts: DeliveryAttempt[] = [];
  private readonly byId = new Map<string, Stripe.Event>();
  private readonly delivered = new Map<string, Set<string>>();
  private readonly failures = new Map<string, number>();
  private autoDelivery = false;
  private draining: Promise<void> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  /**
   * @param state the account.
   * @param apiVersion the `api_version` events carry.
   */
  constructor(
    private readonly state: StripeState,
    readonly apiVersion: string,
    private scope: EventScope = {
      account: null,
      endpoints: () => state.webhookEndpoints.values(),
      secretOf: (endpointId) => state.webhookSecrets.get(endpointId) ?? "",
    },
  ) {}

  /** Changes where events go (the platform's log once Connect separates its endpoints). */
  setScope(scope: EventScope): void {
    this.scope = scope;
  }

  /**
   * Appends an event about `object`.
   *
   * @param before the object before an update, to compute `previous_attributes`.
   */
  emit(
    type: string,
    object: StoredObject,
    before?: StoredObject,
    request: EventRequest = { id: null, idempotency_key: null },
  ): Stripe.Event {
    const event = fromTemplate<Stripe.Event>("event");
    const data: Record<string, unknown> = { object: structuredClone(object) };
    if (before) {
      data.previous_attributes = previousAttributes(
        before as unknown as Record<string, unknown>,
        object as unknown as Record<string, unknown>,
      );
    }
    const pending = [...this.scope.endpoints()]
      .filter((e) => e.status === "enabled" && matches(e, type)).length;
    Object.assign(event, {
      ...(this.scope.account ? { account: this.scope.account } : {}),
      id: newId("evt"),
      api_version: this.apiVersion,
      created: this.state.now(),
      data,
      livemode: false,
      pending_webhooks: pending,
      request,
      type,
    });
    this.events.push(event);
    this.byId.set(event.id, event);
    this.state.remember(event.id);
    if (this.autoDelivery) this.scheduleDrain(0);
    return event;
  }

  /** The event with `id`, if any. */
  get(id: string): Stripe.Event | undefined {
    return this.byId.get(id);
  }

  /** Turns automatic delivery after each event on or off. */
  setAutoDelivery(enabled: boolean): void {
    this.autoDelivery = enabled;
    if (enabled) this.scheduleDrain(0);
  }

  /** Whether events are delivered automatically. */
  get autoDeliveryEnabled(): boolean {
    return this.autoDelivery;
  }

  /** Signs `event` for `secret`, at `timestamp` (default now). */
  async sign(
    event: Stripe.Event,
    secret: string,
    timestamp = this.state.now(),
  ): Promise<{ body: string; header: string }> {
    const body = eventBody(event);
    return { body, header: await signPayload(body, secret, timestamp) };
  }

  /**
   * POSTs undelivered events (oldest first) to every enabled endpoint whose `enabled_events` match,
   * signed with that endpoint's secret. Only 2xx answers count as delivered.
   */
  async deliver(options: DeliverOptions = {}): Promise<DeliveryAttempt[]> {
    const pairs: [Stripe.WebhookEndpoint, Stripe.Event][] = [];
    for (const endpoint of this.scope.endpoints()) {
      if (endpoint.status !== "enabled") continue;
      const done = this.delivered.get(endpoint.id) ?? new Set<string>();
      for (const event of this.events) {
        if (event.created < endpoint.created || !matches(endpoint, event.type)) continue;
        if (options.types && !options.types.includes(event.type)) continue;
        if (!options.includeDelivered && done.has(event.id)) continue;
        pairs.push([endpoint, event]);
      }
    }
    if (options.duplicate) pairs.push(...pairs.map((p) => [...p] as typeof p));
    if (options.shuffle) {
      for (let i = pairs.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        const [first, second] = [pairs[i], pairs[j]];
        if (first && second) [pairs[i], pairs[j]] = [second, first];
      }
    }
    const results: DeliveryAttempt[] = [];
    for (const [index, [endpoint, event]] of pairs.entries()) {
      if (this.closed) break;
      if (index > 0 && options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      results.push(await this.post(endpoint, event));
    }
    return results;
  }

  private async post(endpoint: Stripe.WebhookEndpoint, event: Stripe.Event) {
    const secret = this.scope.secretOf(endpoint.id);
    const { body, header } = await this.sign(event, secret);
    const attempt: DeliveryAttempt = {
      eventId: event.id,
      type: event.type,
      endpointId: endpoint.id,
      url: endpoint.url,
      status: null,
      error: null,
      at: this.state.now(),
    };
    try {
      const response = await fetch(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": header,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          "cache-control": "no-cache",
          accept: "*/*; q=0.5, application/xml",
        },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      await response.body?.cancel();
      attempt.status = response.status;
      if (response.ok) {
        const done = this.delivered.get(endpoint.id) ?? new Set<string>();
        done.add(event.id);
        this.delivered.set(endpoint.id, done);
        if (event.pending_webhooks > 0) event.pending_webhooks -= 1;
      }
    } catch (error) {
      attempt.error = error instanceof Error ? error.message : String(error);
    }
    this.attempts.push(attempt);
    return attempt;
  }

  /** Automatic delivery: one drain at a time; failures retried with backoff, up to 5 tries. */
  private scheduleDrain(delayMs: number): void {
    if (this.closed || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.draining) {
        this.draining.then(() => this.scheduleDrain(0));
        return;
      }
      this.draining = this.drain().finally(() => (this.draining = null));
    }, delayMs);
  }

  private async drain(): Promise<void> {
    const results = await this.deliver();
    const failed = results.filter((r) => r.status === null || r.status >= 300);
    let retry = false;
    for (const result of failed) {
      const key = `${result.endpointId}/${result.eventId}`;
      const count = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, count);
      if (count < 5) retry = true;
    }
    if (retry && this.autoDelivery) {
      const worst = Math.max(
        ...failed.map((r) => this.failures.get(`${r.endpointId}/${r.eventId}`)!),
      );
      this.scheduleDrain(250 * 2 ** worst);
    }
  }

  /** Stops automatic delivery and waits for a running drain. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.draining;
  }
}
