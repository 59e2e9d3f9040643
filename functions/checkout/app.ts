/**
 * The `checkout` Edge Function: a JSON API the plan page calls (see ./contract.ts).
 * Statuses are decided in one place, `onError` and {@link PROBLEM_STATUS}.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { zValidator } from "@hono/zod-validator";
import postgres from "postgres";
import type { z } from "zod";
import { planPageMessages } from "../_core/messages/plan_page.ts";
import { errorHandler } from "../_shared/http/error_handler.ts";
import { requestContext, type RequestContextEnv } from "../_shared/http/request_context.ts";
import { createLogger, type Logger } from "../_shared/log.ts";
import {
  CHECKOUT_PATHS,
  type CheckoutProblem,
  checkoutRequestSchema,
  completeRequestSchema,
  type ErrorBody,
  portalRequestSchema,
  PROBLEM_STATUS,
  tokenRequestSchema,
} from "./contract.ts";
import {
  type CheckoutDeps,
  completeCheckout,
  openCheckout,
  openPortal,
  type Outcome,
  viewPlans,
} from "./service.ts";
import { stripeCallFailureOf } from "../_shared/stripe_gateway.ts";
import {
  returnPageStanding,
  SELLER_STANDING_PATH,
  sellerStandingRequestSchema,
} from "./connect_seller.ts";

/** What the app is built from: the procedures' dependencies and, optionally, a logger. */
export interface CheckoutAppDeps extends Omit<CheckoutDeps, "now"> {
  now?: () => Date;
  logger?: Logger;
}

type Env = RequestContextEnv;

function errorBody(problem: CheckoutProblem): ErrorBody {
  // The API answers in English; the plan page shows its own localized text for the code.
  return { error: { code: problem, message: planPageMessages("en").problems[problem] } };
}

function isDatabaseFailure(error: unknown): boolean {
  if (error instanceof postgres.PostgresError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" &&
    /^(CONNECT|CONNECTION|ECONN|EHOSTUNREACH|ETIMEDOUT)/.test(code);
}

function problemOfError(error: unknown): CheckoutProblem | null {
  const stripeFailure = stripeCallFailureOf(error);
  if (stripeFailure) {
    return stripeFailure.idempotencyKeyReused ? "used_token" : "stripe_unavailable";
  }
  if (isDatabaseFailure(error)) return "unavailable";
  if (error instanceof HTTPException) {
    return error.status === 404 ? "not_found" : error.status < 500 ? "invalid_request" : null;
  }
  return null;
}

function jsonBody<T extends z.ZodType>(schema: T) {
  return zValidator("json", schema, (result, c) => {
    if (!result.success) return c.json(errorBody("invalid_request"), 400);
  });
}

/** Builds the checkout app, mounted at `/checkout` as Supabase passes the path. */
export function createApp(deps: CheckoutAppDeps): Hono<Env> {
  const procedureDeps: CheckoutDeps = { ...deps, now: deps.now ?? (() => new Date()) };
  const app = new Hono<Env>().basePath("/checkout");

  app.use(requestContext(deps.logger ?? createLogger("checkout")));
  app.use(async (c, next) => {
    c.header("cache-control", "no-store");
    await next();
  });
  // Every request body is a token and maybe a plan id: a few hundred bytes.
  app.use(bodyLimit({ maxSize: 4096, onError: (c) => c.json(errorBody("invalid_request"), 413) }));

  const answer = <T>(c: { json: (body: unknown, status: number) => Response }, out: Outcome<T>) =>
    out.ok ? c.json(out.value, 200) : c.json(errorBody(out.problem), PROBLEM_STATUS[out.problem]);

  app.post(`/${CHECKOUT_PATHS.planView}`, jsonBody(tokenRequestSchema), async (c) => {
    const { token } = c.req.valid("json");
    return answer(c, await viewPlans(procedureDeps, token, c.var.log));
  });

  app.post(`/${CHECKOUT_PATHS.checkoutSession}`, jsonBody(checkoutRequestSchema), async (c) => {
    return answer(c, await openCheckout(procedureDeps, c.req.valid("json"), c.var.log));
  });

  app.post(`/${CHECKOUT_PATHS.portalSession}`, jsonBody(portalRequestSchema), async (c) => {
    return answer(c, await openPortal(procedureDeps, c.req.valid("json"), c.var.log));
  });

  app.post(`/${CHECKOUT_PATHS.checkoutComplete}`, jsonBody(completeRequestSchema), async (c) => {
    const { sessionId } = c.req.valid("json");
    return answer(c, await completeCheckout(procedureDeps, sessionId, c.var.log));
  });

  app.post(`/${SELLER_STANDING_PATH}`, jsonBody(sellerStandingRequestSchema), async (c) => {
    const standing = await returnPageStanding({
      sql: deps.sql,
      stripe: deps.stripe,
      mode: deps.stripeMode ?? "standalone",
      now: procedureDeps.now,
    }, c.req.valid("json"));
    return standing ? c.json(standing, 200) : c.json(errorBody("not_found"), 404);
  });

  app.notFound((c) => c.json(errorBody("not_found"), 404));

  app.onError(errorHandler({
    replyTo: (error) => {
      const known = problemOfError(error);
      const problem = known ?? "unavailable";
      const stripe = stripeCallFailureOf(error)?.refusal ?? undefined;
      return {
        status: known === null ? 500 : PROBLEM_STATUS[problem],
        body: errorBody(problem),
        fields: { problem, stripe },
        level: "error",
      };
    },
  }));

  return app;
}
