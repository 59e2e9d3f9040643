/**
 * The Discord REST API test double: an HTTP server on 127.0.0.1 serving Discord's paths under
 * `/api/v10`, so production code reaches it through `DISCORD_API_BASE_URL`.
 *
 * Every request goes through the same steps, in Discord's order:
 * faults → route (404/405) → bot token (401) → global and route rate limits (429) →
 * OpenAPI check of path, query, headers and body (400 50035) → the endpoint itself.
 * The OpenAPI check uses the injected request validator (Discord's description in the tests).
 *
 * @module
 */

import { DoubleClock, type TimeSource } from "./clock.ts";
import { controlApp } from "./control_http.ts";
import {
  DISCORD_ERRORS,
  type DiscordErrorReply,
  type FieldErrorAt,
  invalidFormBody,
} from "./discord_errors.ts";
import {
  type FaultAction,
  FaultInjector,
  type FaultRule,
  type RandomFaultOptions,
} from "./faults.ts";
import { OpenApiSpec, type Operation } from "./openapi.ts";
import {
  type RateDecision,
  RateLimiter,
  type RateLimitOptions,
  type RouteKey,
} from "./rate_limits.ts";
import {
  type DoubleStats,
  type LoggedRequest,
  RequestLog,
  type SpecViolation,
} from "./request_log.ts";
import { implementedRoutesDocument, ROUTES } from "./routes.ts";
import {
  type AuditEntry,
  type ChannelRecord,
  DiscordState,
  type GuildSetup,
  type InteractionRecord,
  type InteractionSetup,
  type MemberSetup,
  type MessageKind,
  type PermissionBits,
  type RoleSetup,
  type SentMessage,
  type StateSnapshot,
} from "./state.ts";
import { TcpFront } from "./tcp_front.ts";
import type { APIApplicationCommand, APIRole } from "discord-api-types/v10";

/** Options of {@linkcode startDiscordDouble}. */
export interface DiscordDoubleOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The application and bot user id; generated when absent. */
  applicationId?: string;
  /** The token production code must send as `Authorization: Bot <token>`. Default `double-bot-token`. */
  botToken?: string;
  /** Rate-limit settings; `{ enabled: false }` for unit tests. */
  rateLimits?: RateLimitOptions;
  /** Time source in epoch ms. Default `Date.now`; the double's clock can still be moved. */
  clock?: TimeSource;
  /**
   * What requests are matched and checked against, e.g. Discord's own OpenAPI description
   * compiled as an {@linkcode OpenApiSpec}. Default: the double's own routes, with no schema
   * checks.
   */
  requestValidator?: OpenApiSpec;
  /** Requests kept for {@linkcode DiscordDouble.requests}. Default 20 000. */
  requestLogLimit?: number;
}

/** Which messages {@linkcode DiscordDouble.messages} returns. */
export interface MessageFilter {
  /** The DM recipient or the interaction's user. */
  userId?: string;
  kind?: MessageKind;
  channelId?: string;
}

/** A running double and its in-process control API. */
export interface DiscordDouble {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT/api/v10`: the value for `DISCORD_API_BASE_URL`. */
  readonly apiBaseUrl: string;
  readonly port: number;
  readonly applicationId: string;
  readonly botToken: string;
  /** Stops the server. */
  close(): Promise<void>;
  /** Answers a request in-process, without the network (no connection drops). */
  handle(request: Request): Promise<Response>;

  /** Adds a guild with `@everyone`, the bot as member and the bot's role. */
  addGuild(setup?: GuildSetup): { id: string; botRoleId: string };
  /** Adds a role to a guild. */
  addRole(guildId: string, setup: RoleSetup): APIRole;
  /** Changes the bot's own role in a guild (permissions, position). */
  setBotRole(guildId: string, change: { permissions?: PermissionBits; position?: number }): void;
  /** Adds a member (and the user) to a guild. */
  addMember(guildId: string, userId: string, setup?: MemberSetup): void;
  /** Removes a member: later role changes for them fail with 10007. */
  removeMember(guildId: string, userId: string): void;
  /** A member leaves and joins again: Discord gives back none of their roles. */
  rejoinMember(guildId: string, userId: string): void;
  /** A moderator sets a member's roles by hand (no audit reason from rolepass). */
  setMemberRoles(guildId: string, userId: string, roles: string[]): void;
  /** Turns the Server Members privileged intent on or off (List Guild Members needs it). */
  setMembersIntent(enabled: boolean): void;
  /** Opens or closes a user's DMs to the bot. */
  setDmsClosed(userId: string, closed: boolean): void;
  /** Adds a guild text channel. */
  addChannel(guildId: string, setup?: { id?: string; name?: string }): ChannelRecord;
  /** Registers an interaction token, valid 15 minutes on the double's clock. */
  registerInteraction(token: string, setup?: InteractionSetup): InteractionRecord;

  /** A member's role ids, or `undefined` when not in the guild. */
  memberRoles(guildId: string, userId: string): string[] | undefined;
  /** Messages sent, oldest first. */
  messages(filter?: MessageFilter): SentMessage[];
  /** Role changes with decoded reasons. */
  auditLog(): AuditEntry[];
  /** Requests received, oldest first. */
  requests(): LoggedRequest[];
  /** Requests Discord's OpenAPI description would not accept. */
  specViolations(): SpecViolation[];
  /** Registered commands; global when `guildId` is absent. */
  commands(guildId?: string): APIApplicationCommand[];
  /** Counters: per route, 429s, invalid requests, throughput. */
  stats(): DoubleStats;
  /** Guilds, roles, members and users. */
  snapshot(): StateSnapshot;

  /** Current time on the double's clock (epoch ms). */
  now(): number;
  /** Sets the double's clock; it keeps running from there. */
  setClock(epochMs: number): void;
  /** Moves the double's clock forward. */
  advanceClock(ms: number): void;
  /** Changes rate-limit settings. */
  configureRateLimits(options: RateLimitOptions): void;
  /** Empties every rate-limit window. */
  resetRateLimits(): void;
  /** Adds a fault rule. */
  inject(rule: FaultRule): void;
  /** Turns on seeded random faults. */
  randomFaults(options: RandomFaultOptions): void;
  /** Removes fault rules and random faults. */
  clearFaults(): void;
  /** Forgets logged requests, violations and counters. */
  clearLog(): void;
}

const API_PREFIX = "/api/v10";
const HOST = "127.0.0.1";

/**
 * Starts the double on 127.0.0.1.
 *
 * @example
 * ```ts
 * const discord = startDiscordDouble({ rateLimits: { enabled: false } });
 * const guild = discord.addGuild({ botRolePosition: 10 });
 * const role = discord.addRole(guild.id, { position: 5 });
 * discord.addMember(guild.id, "200000000000000001");
 * // point DISCORD_API_BASE_URL at discord.apiBaseUrl, run production code, then:
 * discord.memberRoles(guild.id, "200000000000000001"); // includes role.id
 * await discord.close();
 * ```
 */
export function startDiscordDouble(options: DiscordDoubleOptions = {}): DiscordDouble {
  const spec = options.requestValidator ?? new OpenApiSpec(implementedRoutesDocument());
  const clock = new DoubleClock(options.clock);
  const state = new DiscordState(clock, options.applicationId);
  const botToken = options.botToken ?? "double-bot-token";
  const limiter = new RateLimiter(options.rateLimits);
  const faults = new FaultInjector();
  const log = new RequestLog(options.requestLogLimit);
  // Ends fault delays when the double closes, so `close()` never waits out a 15 s "timeout".
  const closing = new AbortController();
  const server = Deno.serve({
    hostname: HOST,
    port: 0,
    onListen: () => {},
    onError: (error) => {
      console.error("Discord double: unhandled error", error);
      return json(DISCORD_ERRORS.internal(500).body, 500);
    },
  }, (request, info) => route(request, (info.remoteAddr as Deno.NetAddr).port));
  const front = TcpFront.start(HOST, options.port ?? 0, server.addr.port);
  const url = `http://${HOST}:${front.port}`;

  const api = new DiscordApi({
    spec,
    state,
    botToken,
    limiter,
    faults,
    log,
    closing: closing.signal,
    drop: (port) => front.drop(port),
  });

  const double: DiscordDouble = {
    url,
    apiBaseUrl: `${url}${API_PREFIX}`,
    port: front.port,
    applicationId: state.applicationId,
    botToken,
    close: async () => {
      closing.abort();
      await front.close();
      await server.shutdown();
    },
    handle: (request) => route(request, undefined),
    addGuild: (setup) => state.addGuild(setup),
    addRole: (guildId, setup) => state.addRole(guildId, setup),
    setBotRole: (guildId, change) => state.setBotRole(guildId, change),
    addMember: (guildId, userId, setup) => state.addMember(guildId, userId, setup),
    removeMember: (guildId, userId) => state.removeMember(guildId, userId),
    rejoinMember: (guildId, userId) => state.rejoinMember(guildId, userId),
    setMemberRoles: (guildId, userId, roles) => state.setMemberRoles(guildId, userId, roles),
    setMembersIntent: (enabled) => state.setMembersIntent(enabled),
    setDmsClosed: (userId, closed) => state.setDmsClosed(userId, closed),
    addChannel: (guildId, setup) => state.addChannel(guildId, setup),
    registerInteraction: (token, setup) => state.registerInteraction(token, setup),
    memberRoles: (guildId, userId) => state.memberRoles(guildId, userId),
    messages: (filter = {}) =>
      state.messages().filter((m) =>
        (filter.userId === undefined || m.targetUserId === filter.userId) &&
        (filter.kind === undefined || m.kind === filter.kind) &&
        (filter.channelId === undefined || m.channelId === filter.channelId)
      ),
    auditLog: () => state.auditLog(),
    requests: () => log.requests(),
    specViolations: () => log.specViolations(),
    commands: (guildId) => state.commands(guildId),
    stats: () => log.stats(faults.injected),
    snapshot: () => state.snapshot(),
    now: () => clock.now(),
    setClock: (epochMs) => clock.set(epochMs),
    advanceClock: (ms) => clock.advance(ms),
    configureRateLimits: (o) => limiter.configure(o),
    resetRateLimits: () => limiter.reset(),
    inject: (rule) => faults.inject(rule),
    randomFaults: (o) => faults.randomFaults(o),
    clearFaults: () => faults.clear(),
    clearLog: () => log.clear(),
  };
  const control = controlApp(double);

  // Requests are served only once this function has returned, so `api` and `control` exist.
  function route(request: Request, remotePort: number | undefined): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/__double" || pathname.startsWith("/__double/")) {
      return Promise.resolve(control.fetch(request));
    }
    return api.handle(request, remotePort);
  }

  return double;
}

interface ApiDeps {
  spec: OpenApiSpec;
  state: DiscordState;
  botToken: string;
  limiter: RateLimiter;
  faults: FaultInjector;
  log: RequestLog;
  closing: AbortSignal;
  drop(remotePort: number): boolean;
}

/** The `/api/v10` request pipeline. */
class DiscordApi {
  #deps: ApiDeps;

  constructor(deps: ApiDeps) {
    this.#deps = deps;
  }

  async handle(request: Request, remotePort: number | undefined): Promise<Response> {
    const { state, faults, log } = this.#deps;
    const started = performance.now();
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const path = url.pathname.startsWith(`${API_PREFIX}/`)
      ? url.pathname.slice(API_PREFIX.length)
      : undefined;
    const entry: LoggedRequest = {
      at: state.now(),
      method,
      path: (path ?? url.pathname) + url.search,
      route: `${method} (unknown)`,
      status: 0,
      durationMs: 0,
    };
    let scope: "user" | "global" | "shared" | undefined;
    // `status` 0 logs a dropped connection, 499 a delay cut short by `close()`.
    const finish = (response: Response, status = response.status) => {
      entry.status = status;
      entry.bucket = response.headers.get("X-RateLimit-Bucket") ?? undefined;
      entry.durationMs = performance.now() - started;
      log.record(entry, scope);
      return response;
    };

    const { spec } = this.#deps;
    const matched = path === undefined ? undefined : spec.match(method, path);
    if (matched?.kind === "operation") {
      entry.route = `${method} ${matched.operation.template}`;
      entry.operationId = matched.operation.operationId;
    }

    const fault = faults.decide(method, path ?? url.pathname);
    if (fault.kind !== "none") {
      entry.fault = fault.kind;
      if (fault.afterHandling) entry.afterHandling = true;
    }
    // A late answer, a dropped connection or an error answer; undefined lets the request through.
    const strike = async (
      fault: Exclude<FaultAction, { kind: "none" }>,
    ): Promise<Response | undefined> => {
      if (fault.delayMs > 0 && !(await sleep(fault.delayMs, this.#deps.closing))) {
        return finish(new Response(null, { status: 499 }));
      }
      if (fault.kind === "drop") {
        if (remotePort !== undefined) this.#deps.drop(remotePort);
        return finish(new Response(null, { status: 500 }), 0);
      }
      if (fault.kind === "respond") {
        if (fault.status === 429) scope = fault.scope;
        return finish(faultResponse(fault));
      }
      return undefined;
    };

    if (fault.kind !== "none" && !fault.afterHandling) {
      const struck = await strike(fault);
      if (struck) return struck;
    }
    const served = await this.#serve(request, url, path, matched, entry);
    scope = served.scope ?? scope;
    // The request was handled: what Discord did stands, only its answer is lost or late.
    if (fault.kind !== "none" && fault.afterHandling) {
      return (await strike(fault)) ?? finish(served.response);
    }
    return finish(served.response);
  }

  /** Route, bot token, rate limits, request checks and the endpoint: the answer Discord gives. */
  async #serve(
    request: Request,
    url: URL,
    path: string | undefined,
    matched: ReturnType<OpenApiSpec["match"]> | undefined,
    entry: LoggedRequest,
  ): Promise<{ response: Response; scope?: "user" | "global" | "shared" }> {
    const { state } = this.#deps;
    if (path === undefined || matched === undefined) {
      return { response: json(DISCORD_ERRORS.notFound().body, 404) };
    }
    if (matched.kind !== "operation") {
      this.#violate(entry, { kind: matched.kind, errors: [] });
      return {
        response: matched.kind === "unknown-path"
          ? json(DISCORD_ERRORS.notFound().body, 404)
          : json(DISCORD_ERRORS.methodNotAllowed().body, 405),
      };
    }
    const { operation, params } = matched;

    const authorization = request.headers.get("Authorization");
    const authorized = authorization === `Bot ${this.#deps.botToken}`;
    if ((operation.requiresAuth && !authorized) || (authorization !== null && !authorized)) {
      return { response: json(DISCORD_ERRORS.unauthorized().body, 401) };
    }

    const definition = ROUTES[operation.operationId];
    const key: RouteKey = {
      kind: definition?.bucket ?? "default",
      routeId: operation.operationId,
      major: definition?.major(params) ?? "",
      global: definition?.global ?? true,
    };
    const decision: RateDecision = this.#deps.limiter.take(key, this.#deps.botToken, state.now());
    if (!decision.allowed) {
      return {
        response: json(decision.body, 429, decision.headers),
        scope: decision.scope,
      };
    }
    const rateHeaders = decision.headers;

    // A client that gave up (its timeout) before the body was read has gone: nobody to answer.
    const text = await request.text().catch(() => null);
    if (text === null) return { response: new Response(null, { status: 499 }) };
    const checked = this.#check(request, url, operation, params, text, entry);
    if ("status" in checked) {
      return { response: json(checked.body, checked.status, rateHeaders) };
    }
    if (!definition) {
      return {
        response: json(DISCORD_ERRORS.notFound().body, 404, {
          ...rateHeaders,
          "X-Double-Unimplemented": operation.operationId,
        }),
      };
    }
    const result = definition.handle({
      state,
      params,
      query: url.searchParams,
      body: checked.body,
      auditLogReason: checked.auditLogReason,
    });
    return {
      response: result.status === 204
        ? new Response(null, { status: 204, headers: rateHeaders })
        : json(result.body, result.status, rateHeaders),
    };
  }

  /** The OpenAPI and header checks; returns the parsed body or the 400 to send. */
  #check(
    request: Request,
    url: URL,
    operation: Operation,
    params: Record<string, string>,
    text: string,
    entry: LoggedRequest,
  ): { body: unknown; auditLogReason: string | null } | DiscordErrorReply {
    const { spec } = this.#deps;
    const reject = (kind: SpecViolation["kind"], errors: FieldErrorAt[]) => {
      this.#violate(entry, { kind, errors });
      return invalidFormBody(errors);
    };
    const pathErrors = spec.checkPathParams(operation, params);
    if (pathErrors.length > 0) return reject("path-params", pathErrors);
    const queryErrors = spec.checkQuery(operation, url.searchParams);
    if (queryErrors.length > 0) return reject("query", queryErrors);

    const reason = decodeAuditLogReason(request.headers.get("X-Audit-Log-Reason"));
    if (typeof reason === "object" && reason !== null) return reject("header", [reason]);
    if (reason !== null) entry.auditLogReason = reason;

    let body: unknown;
    if (text.trim() !== "") {
      const [mediaType = ""] = (request.headers.get("Content-Type") ?? "").split(";");
      const contentType = mediaType.trim().toLowerCase();
      if (contentType !== "application/json") {
        return reject("content-type", [{
          path: [],
          code: "CONTENT_TYPE_INVALID",
          message: `Expected "Content-Type" header to be one of {'application/json'}.`,
        }]);
      }
      try {
        body = JSON.parse(text);
      } catch {
        this.#violate(entry, {
          kind: "body",
          errors: [{ path: [], code: "INVALID_JSON", message: "Invalid JSON" }],
        });
        return DISCORD_ERRORS.invalidJson();
      }
      entry.body = body;
      if (!operation.jsonBody) {
        const empty = typeof body === "object" && body !== null && Object.keys(body).length === 0;
        if (!empty) {
          return reject("body", [{
            path: [],
            code: "UNEXPECTED_BODY",
            message: "This route takes no request body.",
          }]);
        }
        body = undefined;
      }
    }
    if (operation.jsonBody) {
      if (body === undefined && operation.bodyRequired) {
        return reject("body", [{
          path: [],
          code: "BASE_TYPE_REQUIRED",
          message: "This field is required",
        }]);
      }
      if (body !== undefined) {
        const errors = spec.checkJsonBody(operation, body);
        if (errors.length > 0) return reject("body", errors);
      }
    }
    return { body, auditLogReason: reason };
  }

  #violate(entry: LoggedRequest, v: Pick<SpecViolation, "kind" | "errors">): void {
    this.#deps.log.violation({
      at: entry.at,
      method: entry.method,
      path: entry.path,
      operationId: entry.operationId,
      ...v,
    });
  }
}

/**
 * `X-Audit-Log-Reason` "supports 1-512 URL-encoded UTF-8 characters": a raw non-ASCII value,
 * a malformed escape or a bad length is refused.
 *
 * @returns the decoded reason, null when absent, or the field error.
 */
export function decodeAuditLogReason(raw: string | null): string | null | FieldErrorAt {
  if (raw === null) return null;
  const path = ["X-Audit-Log-Reason"];
  // Header values arrive as bytes read as Latin-1; anything outside printable ASCII was sent raw.
  if (!/^[\x20-\x7e]*$/.test(raw)) {
    return {
      path,
      code: "HEADER_NOT_URL_ENCODED",
      message: "Must be URL-encoded UTF-8 (raw non-ASCII bytes sent).",
    };
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return {
      path,
      code: "HEADER_NOT_URL_ENCODED",
      message: "Must be URL-encoded UTF-8 (malformed percent-escape).",
    };
  }
  const length = [...decoded].length;
  if (length < 1 || length > 512) {
    return { path, code: "BASE_TYPE_BAD_LENGTH", message: "Must be between 1 and 512 in length." };
  }
  return decoded;
}

/** The answer an injected `respond` fault gives: a Discord-shaped 429 or error. */
function faultResponse(fault: Extract<FaultAction, { kind: "respond" }>): Response {
  if (fault.status !== 429) {
    return json(fault.body ?? DISCORD_ERRORS.internal(fault.status).body, fault.status);
  }
  const retry = fault.retryAfterSeconds;
  return json(
    fault.body ??
      {
        message: "You are being rate limited.",
        retry_after: retry,
        global: fault.scope === "global",
      },
    429,
    {
      "Retry-After": String(Math.ceil(retry)),
      "X-RateLimit-Scope": fault.scope,
      ...(fault.scope === "global" ? { "X-RateLimit-Global": "true" } : {}),
    },
  );
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** Waits `ms`, or less if `signal` aborts; returns whether the full wait happened. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
