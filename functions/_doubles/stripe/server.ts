/**
 * Starts the Stripe double: an HTTP server on 127.0.0.1 that answers the Stripe v1 API the SDK
 * calls (with `host`, `port` and `protocol: "http"` pointed at it) and the `/__double` control
 * routes and pages.
 *
 * It listens with `node:http` rather than `Deno.serve` because fault injection must be able to
 * close a connection without answering, which `Deno.serve` cannot do (a throwing handler becomes a
 * 500, an erroring body stream still sends the status line); `node:http` exposes the socket.
 */
import { Buffer } from "node:buffer";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";
import { type ApiBindings, createApiApp, errorResponse, NOT_SAVED_HEADER } from "./api.ts";
import { Billing } from "./billing.ts";
import {
  accountInaccessible,
  Connect,
  createConnectApiApp,
  createConnectPagesApp,
  isConnectPath,
} from "./connect.ts";
import { createControlApp, StripeDoubleControl } from "./control.ts";
import { authenticationFailed, faultBody, invalidRequest, StripeApiError } from "./errors.ts";
import { EventLog } from "./events.ts";
import { FaultInjector, type FaultRule } from "./faults.ts";
import { canonicalParams, type FormParams, parseForm } from "./form.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { newId } from "./ids.ts";
import { fromTemplate } from "./objects.ts";
import { RequestLog } from "./request_log.ts";
import { type BillingModeType, StripeState } from "./state.ts";

/**
 * The API version the pinned `stripe` SDK sends by default (`Stripe.API_VERSION`); events carry it
 * unless {@link StripeDoubleOptions.apiVersion} says otherwise.
 */
export const STRIPE_DOUBLE_API_VERSION: string = Stripe.API_VERSION;

/** Options of {@link startStripeDouble}. */
export interface StripeDoubleOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The only accepted API key. Any `sk_test_`/`rk_test_` key is accepted when absent. */
  secretKey?: string;
  /** A webhook endpoint to register at start, receiving every event type. */
  webhook?: { url: string; secret: string } | null;
  /** A Connect endpoint to register at start, receiving connected accounts' events. */
  connectWebhook?: { url: string; secret: string } | null;
  /** Milliseconds since the epoch (default `Date.now`). */
  clock?: () => number;
  /** `api_version` of events (default {@link STRIPE_DOUBLE_API_VERSION}). */
  apiVersion?: string;
  /** Deliver events to webhook endpoints as they happen (default false; the sandbox turns it on). */
  autoDeliver?: boolean;
  /** Billing mode of subscriptions Checkout creates (default "flexible", Stripe's current default). */
  defaultBillingMode?: BillingModeType;
}

/** A running Stripe double. */
export interface StripeDouble extends StripeDoubleControl {
  /** Stripe Connect: connected accounts, their onboarding, transfers and application fees. */
  readonly connect: Connect;
  /** e.g. `http://127.0.0.1:54321`; pass it as STRIPE_API_BASE_URL. */
  readonly url: string;
  readonly port: number;
  /** Stops the server and pending webhook deliveries. */
  close(): Promise<void>;
}

const DROP = Symbol("drop");

function apiKeyOf(request: Request): string | null {
  const authorization = request.headers.get("authorization");
  if (!authorization) return null;
  const [scheme = "", value = ""] = authorization.split(" ", 2);
  if (scheme.toLowerCase() === "bearer") return value.trim() || null;
  if (scheme.toLowerCase() === "basic") {
    try {
      return atob(value).split(":")[0] || null;
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * Starts a Stripe double on 127.0.0.1.
 *
 * @example
 * ```ts
 * const double = await startStripeDouble();
 * const stripe = new Stripe("sk_test_123", { host: "127.0.0.1", port: double.port, protocol: "http" });
 * ```
 */
export async function startStripeDouble(opts: StripeDoubleOptions = {}): Promise<StripeDouble> {
  const state = new StripeState(opts.clock ?? Date.now, "", opts.defaultBillingMode);
  const eventLog = new EventLog(state, opts.apiVersion ?? STRIPE_DOUBLE_API_VERSION);
  const billing = new Billing(state, eventLog);
  const faults = new FaultInjector();
  const log = new RequestLog();
  const idempotency = new IdempotencyStore();
  const control = new StripeDoubleControl(state, eventLog, billing, faults, log);
  const apiApp = createApiApp({ state, events: eventLog, billing });
  const connect = new Connect({ state, events: eventLog, billing }, createApiApp);
  eventLog.setScope(connect.platformScope());
  const connectApiApp = createConnectApiApp(connect);
  const connectPagesApp = createConnectPagesApp(connect);
  const controlApp = createControlApp(control, state);

  const defaultConfiguration = fromTemplate<Stripe.BillingPortal.Configuration>(
    "billing_portal.configuration",
  );
  Object.assign(defaultConfiguration, {
    id: newId("bpc"),
    created: state.now(),
    updated: state.now(),
    livemode: false,
    is_default: true,
    metadata: {},
  });
  defaultConfiguration.features.subscription_cancel.enabled = true;
  state.add(state.portalConfigurations, defaultConfiguration);

  async function handleApi(
    request: Request,
    path: string,
    params: FormParams,
    entry: { status: number | null; replayed: boolean },
  ): Promise<Response> {
    const requestId = newId("req");
    const apiKey = apiKeyOf(request);
    const validKey = apiKey !== null &&
      (opts.secretKey ? apiKey === opts.secretKey : /^(sk|rk)_test_\w+/.test(apiKey));
    if (!validKey) return errorResponse(authenticationFailed(apiKey), requestId);
    const version = request.headers.get("stripe-version");
    if (version !== null && !/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/.test(version)) {
      return errorResponse(invalidRequest(`Invalid Stripe API version: ${version}`), requestId);
    }
    const commonHeaders: Record<string, string> = {
      "request-id": requestId,
      "stripe-version": version ?? eventLog.apiVersion,
    };
    // The Stripe-Account header runs the request on that connected account's objects alone.
    const connectedAccount = request.headers.get("stripe-account");
    const accountApi = connectedAccount === null ? null : connect.scope(connectedAccount)?.api;
    if (connectedAccount !== null && !accountApi) {
      return errorResponse(accountInaccessible(apiKey, connectedAccount), requestId);
    }
    const target = accountApi ?? (isConnectPath(path) ? connectApiApp : apiApp);
    const key = request.method === "POST" ? request.headers.get("idempotency-key") : null;
    const scopedKey = key === null ? null : `${apiKey}\u0000${connectedAccount ?? ""}\u0000${key}`;
    if (key !== null && scopedKey !== null) {
      commonHeaders["idempotency-key"] = key;
      try {
        const decision = idempotency.begin(
          scopedKey,
          `${request.method} ${path}`,
          canonicalParams(params),
        );
        if (decision.kind === "replay") {
          entry.replayed = true;
          return new Response(decision.response.body, {
            status: decision.response.status,
            headers: {
              ...commonHeaders,
              "content-type": "application/json",
              "idempotent-replayed": "true",
              "original-request": decision.response.requestId,
            },
          });
        }
      } catch (error) {
        if (error instanceof StripeApiError) return errorResponse(error, requestId);
        throw error;
      }
    }
    let response: Response;
    try {
      const bindings: ApiBindings = { params, request: { id: requestId, idempotency_key: key } };
      response = await target.fetch(
        new Request(request.url, { method: request.method, headers: request.headers }),
        bindings,
      );
    } catch (error) {
      response = errorResponse(
        new StripeApiError(500, {
          type: "api_error",
          message: `The Stripe double failed: ${error instanceof Error ? error.message : error}`,
        }),
        requestId,
      );
    }
    const body = await response.text();
    const notSaved = response.headers.has(NOT_SAVED_HEADER);
    if (scopedKey !== null) {
      if (notSaved) idempotency.forget(scopedKey);
      else idempotency.save(scopedKey, { status: response.status, body, requestId });
    }
    const headers = new Headers(response.headers);
    headers.delete(NOT_SAVED_HEADER);
    for (const [name, value] of Object.entries(commonHeaders)) headers.set(name, value);
    return new Response(body, { status: response.status, headers });
  }

  async function answerFault(fault: FaultRule): Promise<Response> {
    const body = fault.body === undefined
      ? JSON.stringify(faultBody(fault.status!), null, 2)
      : typeof fault.body === "string"
      ? fault.body
      : JSON.stringify(fault.body);
    return await Promise.resolve(
      new Response(body, {
        status: fault.status,
        headers: {
          "content-type": "application/json",
          "request-id": newId("req"),
          ...fault.headers,
        },
      }),
    );
  }

  async function handle(request: Request): Promise<Response | typeof DROP> {
    const url = new URL(request.url);
    const path = url.pathname;
    if (path.startsWith("/__double/connect/")) return connectPagesApp.fetch(request);
    if (path === "/__double" || path.startsWith("/__double/")) return controlApp.fetch(request);
    const raw = request.method === "GET" || request.method === "HEAD" ? "" : await request.text();
    const params = { ...parseForm(url.search.slice(1)), ...parseForm(raw) };
    const entry = log.record({
      method: request.method,
      path,
      params,
      idempotencyKey: request.headers.get("idempotency-key"),
      stripeVersion: request.headers.get("stripe-version"),
      status: null,
      replayed: false,
      faulted: false,
      at: Date.now(),
    });
    const fault = faults.take(request.method, path);
    if (fault) {
      entry.faulted = true;
      if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
      if (fault.drop && fault.dropPhase !== "after") return DROP;
      if (fault.status !== undefined) {
        entry.status = fault.status;
        return answerFault(fault);
      }
    }
    const response = await handleApi(request, path, params, entry);
    if (fault?.drop) {
      await response.body?.cancel();
      return DROP;
    }
    entry.status = response.status;
    return response;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const method = req.method ?? "GET";
      const body = method === "GET" || method === "HEAD" ? undefined : Buffer.concat(chunks);
      let outcome: Response | typeof DROP;
      try {
        outcome = await handle(
          new Request(new URL(req.url ?? "/", state.baseUrl), { method, headers, body }),
        );
      } catch (error) {
        outcome = new Response(String(error), { status: 500 });
      }
      if (outcome === DROP) {
        req.socket.destroy();
        return;
      }
      const responseHeaders: Record<string, string[]> = {};
      outcome.headers.forEach((value, name) => {
        (responseHeaders[name] ??= []).push(value);
      });
      const payload = Buffer.from(await outcome.arrayBuffer());
      res.writeHead(outcome.status, {
        ...responseHeaders,
        "content-length": String(payload.length),
      });
      res.end(payload);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  state.baseUrl = url;

  if (opts.webhook) {
    billing.createWebhookEndpoint({ url: opts.webhook.url, secret: opts.webhook.secret });
  }
  if (opts.connectWebhook) {
    connect.createConnectEndpoint({
      url: opts.connectWebhook.url,
      secret: opts.connectWebhook.secret,
    });
  }
  if (opts.autoDeliver) eventLog.setAutoDelivery(true);

  let closed: Promise<void> | null = null;
  const close = () => {
    closed ??= (async () => {
      await eventLog.close();
      await connect.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return closed;
  };

  return Object.assign(control, { url, port, close, connect }) as StripeDouble;
}
