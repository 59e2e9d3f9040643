/**
 * The one `onError` every app uses: a thrown `HTTPException` is a refusal the app decided (its
 * status, `{ error: message }`), anything else a failure (500). An app maps the errors it knows to
 * its own replies, so the bodies Discord, Stripe and the plan page depend on stay the app's, while
 * how a failure is logged and answered is decided here.
 */
import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { LogFields } from "../log.ts";
import type { RequestContextEnv } from "./request_context.ts";

/** How an app answers one error. */
export interface ErrorReply {
  status: ContentfulStatusCode;
  /** The answer's body: JSON unless the app's `respond` renders it otherwise. */
  body: unknown;
  /** Extra fields for the log line, e.g. the Stripe error's type. */
  fields?: LogFields;
  /** Defaults to `warn` below 500 (refused) and `error` from 500 (failed). */
  level?: "warn" | "error";
}

/** How an app's errors are answered; every option has a default. */
export interface ErrorHandlerOptions<E extends RequestContextEnv> {
  /** The reply for an error the app knows; `null` leaves it to the default. */
  replyTo?: (error: Error) => ErrorReply | null;
  /** The body of an unexpected failure; defaults to `{ error: "Internal error" }`. */
  failureBody?: unknown;
  /** Writes the reply; defaults to JSON. */
  respond?: (c: Context<E>, reply: ErrorReply) => Response;
}

/**
 * Builds the app's `onError`. It logs on the request's logger (`c.var.log` from
 * `requestContext`): "request refused" with the reason below 500, "request failed" with the error
 * from 500.
 */
export function errorHandler<E extends RequestContextEnv>(
  options: ErrorHandlerOptions<E> = {},
): ErrorHandler<E> {
  const failureBody = options.failureBody ?? { error: "Internal error" };
  const respond = options.respond ?? ((c, reply) => c.json(reply.body, reply.status));
  return (error, c) => {
    const reply = options.replyTo?.(error) ??
      (error instanceof HTTPException
        ? { status: error.status, body: { error: error.message } }
        : { status: 500 as const, body: failureBody });
    const level = reply.level ?? (reply.status >= 500 ? "error" : "warn");
    if (level === "error") {
      c.var.log.error("request failed", { status: reply.status, error, ...reply.fields });
    } else {
      c.var.log.warn("request refused", {
        status: reply.status,
        reason: error.message,
        ...reply.fields,
      });
    }
    return respond(c, reply);
  };
}
