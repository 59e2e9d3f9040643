/**
 * The request context every app starts with: one request id, a logger that puts it on every line
 * as `requestId`, and the id echoed back in the answer.
 *
 * Supabase's gateway names every function request `sb-request-id` (it answers with that header, and
 * its log explorer is searched by the id), so that id wins when the request carries it: the
 * function's lines then match the platform's. Our own callers (the plan page calling checkout, the
 * database waking role-sync) send `x-request-id`, the conventional name, which reaches the function
 * as sent (https://supabase.com/docs/guides/functions/headers); the plan page, on Deno Deploy, only
 * ever sees that one. The id goes into logs and headers, so a value of any other shape is replaced
 * by a fresh UUID rather than trusted.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";

/** The header our callers send and every app answers with. */
export const REQUEST_ID_HEADER = "x-request-id";

/** The header Supabase's gateway sets on requests it forwards to a function. */
export const PLATFORM_REQUEST_ID_HEADER = "sb-request-id";

const REQUEST_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** What the request context puts on a Hono context. */
export type RequestContextEnv = { Variables: { log: Logger; requestId: string } };

/**
 * The request's id: the platform's if well formed, else the caller's if well formed, else a new
 * UUID.
 */
export function requestIdOf(headers: Headers): string {
  for (const name of [PLATFORM_REQUEST_ID_HEADER, REQUEST_ID_HEADER]) {
    const given = headers.get(name);
    if (given !== null && REQUEST_ID_PATTERN.test(given)) return given;
  }
  return crypto.randomUUID();
}

/**
 * Middleware that sets `c.var.requestId` and `c.var.log` (a child of `log` carrying `requestId`)
 * and echoes the id in `x-request-id`, error answers included.
 *
 * @param log the app's logger, named after the function
 */
export function requestContext(log: Logger): MiddlewareHandler<RequestContextEnv> {
  return async (c, next) => {
    const requestId = requestIdOf(c.req.raw.headers);
    c.set("requestId", requestId);
    c.set("log", log.child({ requestId }));
    await next();
    c.header(REQUEST_ID_HEADER, requestId);
  };
}
