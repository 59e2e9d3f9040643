/**
 * What both Stripe endpoints do with an event whose processing threw: the one rule for a missing
 * Stripe object and for a failure that Stripe's retry must finish.
 */
import type { StripeEventEnvelope } from "../_core/stripe_shapes.ts";
import type { Sql } from "../_shared/db.ts";
import type { Logger } from "../_shared/log.ts";
import { recordFailure, recordIgnored } from "../_shared/stripe_event_ledger.ts";
import { isMissingStripeObject } from "../_shared/stripe_gateway.ts";

/**
 * Settles an event whose processing threw, on either endpoint. An object Stripe says it does not
 * have is a permanent answer: the event is recorded as ignored, saying why (`whyMissing`), and
 * answered 200. Any other failure is logged as `failed`, counted on the event with its message
 * (never the payload) outside the rolled-back transaction, and thrown again, so the caller answers
 * 500 and Stripe retries. Counting is best effort: when the database itself is what failed, the
 * log is the record.
 */
export async function settleFailedEvent(
  sql: Sql,
  envelope: StripeEventEnvelope,
  error: unknown,
  logger: Logger,
  say: { whyMissing: (missing: Error) => string; failed: string },
): Promise<{ status: "ignored"; why: string }> {
  if (isMissingStripeObject(error)) {
    const why = say.whyMissing(error as Error);
    logger.warn("Ignored an event whose object Stripe does not have", {
      eventId: envelope.id,
      why,
    });
    await recordIgnored(sql, envelope, why);
    return { status: "ignored", why };
  }
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 500);
  logger.error(say.failed, { eventId: envelope.id, eventType: envelope.type, error: message });
  try {
    await recordFailure(sql, envelope, message);
  } catch (recordError) {
    logger.warn("Could not record the failed attempt", {
      eventId: envelope.id,
      error: recordError,
    });
  }
  throw error;
}
