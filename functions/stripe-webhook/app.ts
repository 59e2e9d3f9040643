/**
 * The stripe-webhook function: `POST /stripe-webhook` with Stripe's signed event.
 *
 * The raw text body is verified with `constructEventAsync` (Deno's SubtleCrypto is async-only)
 * against each configured signing secret, so an endpoint secret can be rolled without losing
 * events. The signature header is checked before the body is read, and the body is read up to a
 * cap, so an unsigned or oversized request costs no memory. Answers: 200 for an applied, repeated
 * or ignored event; 400 when the signature is missing, malformed, wrong or outside the tolerance,
 * or the body is not an event; 413 when the body is over the cap (nothing recorded for any 4xx);
 * 500 when a dependency failed (the event stays unprocessed and Stripe retries it).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type StripeEventEnvelope, stripeEventEnvelope } from "../_core/stripe_shapes.ts";
import { readCappedBody } from "../_shared/body_cap.ts";
import { errorHandler } from "../_shared/http/error_handler.ts";
import { requestContext, type RequestContextEnv } from "../_shared/http/request_context.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import type { SyncDeps } from "../_shared/subscription_sync.ts";
import { type ConnectWebhookDeps, createConnectWebhookApp } from "./connect.ts";
import { isDisputeClosedEvent, recoverLostDispute } from "./connect_dispute.ts";
import { refuseForeignMoney } from "./connect_destination.ts";
import { isConnectMoneyEvent, processConnectMoneyEvent } from "./connect_money.ts";
import { MalformedEventError, processEvent } from "./event_processing.ts";
import { checkSignatureHeader } from "./signature_header.ts";

/** Stripe's default: a signature older than this is refused, which defeats replayed requests. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * Stripe's event payloads are a few kilobytes (lists inside them carry only their first page), so
 * 512 KiB is ample for any real event while one request stays far below a function's 256 MB.
 */
export const MAX_EVENT_BODY_BYTES = 512 * 1024;

/** What the app needs. */
export interface WebhookDeps extends SyncDeps {
  /** The endpoint's signing secrets (whsec_...); any one may match. */
  webhookSecrets: string[];
  /** Whether the Stripe key is a live-mode key; events of the other mode are ignored. */
  livemode: boolean;
  /** Platform mode: the Connect endpoint's dependencies (`/stripe-webhook/connect`); else null. */
  connect?: ConnectWebhookDeps | null;
}

/** Builds the function's Hono app. */
export function createApp(deps: WebhookDeps): Hono<RequestContextEnv> {
  const app = new Hono<RequestContextEnv>().basePath("/stripe-webhook");

  app.use(requestContext(deps.logger));
  app.onError(errorHandler({
    replyTo: (error) =>
      error instanceof MalformedEventError
        // Signed by Stripe yet not of its type's shape: our schema is behind Stripe's API.
        ? { status: 400, body: { error: error.message }, level: "error" }
        : null,
    failureBody: { error: "Cannot process the event now; Stripe will retry it" },
  }));

  app.post("/", async (c) => {
    const now = deps.now();
    const signature = c.req.header("stripe-signature");
    const header = checkSignatureHeader(signature, now, SIGNATURE_TOLERANCE_SECONDS);
    if (!header.ok || !signature) {
      throw new HTTPException(400, {
        message: `Cannot verify Stripe signature: ${
          header.ok ? "header is missing" : header.problem
        }`,
      });
    }
    const body = await readCappedBody(c.req.raw, MAX_EVENT_BODY_BYTES);
    if (!body.ok) {
      throw new HTTPException(413, {
        message: "Cannot read the Stripe event: the body is larger than 512 KiB",
      });
    }
    if (body.bytes.byteLength === 0) {
      throw new HTTPException(400, { message: "Cannot read the Stripe event: the body is empty" });
    }
    const rawBody = new TextDecoder().decode(body.bytes);
    const envelope = await verifyEvent(deps.stripe, rawBody, signature, deps.webhookSecrets, now);
    const log = c.var.log.child({ eventId: envelope.id, eventType: envelope.type });
    // Platform mode: transfers and application fees are the communities' side of the money, and
    // a member's money must have gone to their own guild's account.
    const outcome = deps.connect && envelope.account === null &&
        isConnectMoneyEvent(envelope.type)
      ? await processConnectMoneyEvent(deps.connect, envelope, log)
      : (deps.connect && await refuseForeignMoney(deps.connect, envelope, log)) ||
        await processEvent(deps, envelope, log);
    // Platform mode: a lost dispute is taken back from the guild once, on any delivery.
    const recovery = deps.connect && isDisputeClosedEvent(envelope)
      ? await recoverLostDispute(deps.connect, envelope, log)
      : null;
    log.info("Stripe event handled", { ...outcome, ...recovery });
    return c.json({ received: true, ...outcome, ...recovery });
  });

  if (deps.connect) {
    app.route(
      "/connect",
      createConnectWebhookApp(deps.connect, {
        signatureToleranceSeconds: SIGNATURE_TOLERANCE_SECONDS,
        maxBodyBytes: MAX_EVENT_BODY_BYTES,
      }),
    );
  }

  app.on(
    ["GET", "PUT", "PATCH", "DELETE"],
    "/",
    (c) =>
      c.json({ error: "Cannot handle this method: Stripe sends POST" }, 405, { allow: "POST" }),
  );

  app.notFound((c) =>
    c.json({ error: "Cannot find this path: Stripe posts to /stripe-webhook" }, 404)
  );

  return app;
}

/**
 * Verifies the signature against each secret and parses the envelope.
 * Throws a 400 HTTPException naming what is wrong.
 */
async function verifyEvent(
  stripe: StripeGateway,
  rawBody: string,
  signature: string,
  secrets: readonly string[],
  now: Date,
): Promise<StripeEventEnvelope> {
  let verified: { event: unknown } | null = null;
  let lastProblem = "no signing secret configured";
  for (const secret of secrets) {
    try {
      const event = await stripe.verifyEvent(
        rawBody,
        signature,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        now,
      );
      verified = { event };
      break;
    } catch (error) {
      // The signature matched but the body is not JSON: the same for every secret, and the
      // parser's message would echo the body.
      if (error instanceof SyntaxError) {
        throw new HTTPException(400, { message: "Cannot read the Stripe event: it is not JSON" });
      }
      lastProblem = error instanceof Error ? error.message : String(error);
    }
  }
  if (verified === null) {
    throw new HTTPException(400, { message: `Cannot verify Stripe signature: ${lastProblem}` });
  }
  const envelope = stripeEventEnvelope.safeParse(verified.event);
  if (!envelope.success) {
    throw new HTTPException(400, {
      message: `Cannot read the Stripe event: ${envelope.error.issues[0]?.message}`,
    });
  }
  return envelope.data;
}
