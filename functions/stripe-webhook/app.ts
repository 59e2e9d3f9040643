/**
 * The stripe-webhook function: `POST /stripe-webhook` with Stripe's signed event.
 *
 * The raw text body is verified with `constructEventAsync` (Deno's SubtleCrypto is async-only)
 * against each configured signing secret, so an endpoint secret can be rolled without losing
 * events. Answers: 200 for an applied, repeated or ignored event; 400 when the signature is
 * missing, wrong or too old, or the body is not an event (nothing recorded); 500 when a dependency
 * failed (the event stays unprocessed and Stripe retries it).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import Stripe from "stripe";
import { type StripeEventEnvelope, stripeEventEnvelope } from "../_core/stripe_shapes.ts";
import type { Logger } from "../_shared/log.ts";
import type { SyncDeps } from "../_shared/subscription_sync.ts";
import { MalformedEventError, processEvent } from "./event_processing.ts";

/** Stripe's default: a signature older than this is refused, which defeats replayed requests. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** What the app needs. */
export interface WebhookDeps extends SyncDeps {
  /** The endpoint's signing secrets (whsec_...); any one may match. */
  webhookSecrets: string[];
}

const cryptoProvider = Stripe.createSubtleCryptoProvider();

type Env = { Variables: { logger: Logger } };

/** Builds the function's Hono app. */
export function createApp(deps: WebhookDeps) {
  const app = new Hono<Env>().basePath("/stripe-webhook");

  app.use(async (c, next) => {
    const requestId = c.req.header("x-request-id") ?? crypto.randomUUID();
    c.set("logger", deps.logger.child({ requestId }));
    await next();
  });

  app.post("/", async (c) => {
    const logger = c.get("logger");
    const rawBody = await c.req.text();
    const envelope = await verifyEvent(
      deps.stripe,
      rawBody,
      c.req.header("stripe-signature"),
      deps.webhookSecrets,
      deps.now(),
    );
    const eventLogger = logger.child({ event_id: envelope.id, event_type: envelope.type });
    const outcome = await processEvent(deps, envelope, eventLogger);
    eventLogger.info("Stripe event handled", { ...outcome });
    return c.json({ received: true, ...outcome });
  });

  app.onError((error, c) => {
    const logger = c.get("logger") ?? deps.logger;
    if (error instanceof HTTPException) {
      logger.warn("Rejected a Stripe webhook request", {
        status: error.status,
        reason: error.message,
      });
      return c.json({ error: error.message }, error.status);
    }
    if (error instanceof MalformedEventError) {
      logger.error("Rejected a Stripe event that does not have its type's shape", { error });
      return c.json({ error: error.message }, 400);
    }
    logger.error("Stripe event processing failed", { error });
    return c.json({ error: "Cannot process the event now; Stripe will retry it" }, 500);
  });

  return app;
}

/**
 * Verifies the signature against each secret and parses the envelope.
 * Throws a 400 HTTPException naming what is wrong.
 */
async function verifyEvent(
  stripe: Stripe,
  rawBody: string,
  signature: string | undefined,
  secrets: readonly string[],
  now: Date,
): Promise<StripeEventEnvelope> {
  if (!signature) {
    throw new HTTPException(400, { message: "Cannot verify Stripe signature: header is missing" });
  }
  let verified: unknown = null;
  let lastProblem = "no signing secret configured";
  for (const secret of secrets) {
    try {
      verified = await stripe.webhooks.constructEventAsync(
        rawBody,
        signature,
        secret,
        SIGNATURE_TOLERANCE_SECONDS,
        cryptoProvider,
        now.getTime(),
      );
      break;
    } catch (error) {
      lastProblem = error instanceof Error ? error.message : String(error);
      // A body that matches the signature but is not JSON fails the same way for every secret.
      if (error instanceof SyntaxError) break;
    }
  }
  if (verified === null) {
    throw new HTTPException(400, { message: `Cannot verify Stripe signature: ${lastProblem}` });
  }
  const envelope = stripeEventEnvelope.safeParse(verified);
  if (!envelope.success) {
    throw new HTTPException(400, {
      message: `Cannot read the Stripe event: ${envelope.error.issues[0]?.message}`,
    });
  }
  return envelope.data;
}
