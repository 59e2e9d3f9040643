/**
 * What the webhook does with a verified event: record it by id (so a replay is a no-op), find the
 * customer and subscription it is about, re-read them and the money from Stripe before any
 * transaction, then apply under the customer's lock in a short transaction that also marks the
 * event processed, unless a read of the customer that started later was applied first. The
 * transaction costs four round trips: begin, lock and claim the event, read and mark the
 * membership, commit (one more when the membership changes). A failure rolls all of it back and
 * leaves the event unprocessed, so Stripe's retry finishes the work.
 */
import { revocationOf } from "../_core/entitlement.ts";
import { disputeStage } from "../_core/refund_dispute_policy.ts";
import {
  type ChargeSnapshot,
  type EventTarget,
  eventTarget,
  handledStripeEvent,
  isHandledEventType,
  type StripeEventEnvelope,
} from "../_core/stripe_shapes.ts";
import type { Logger } from "../_shared/log.ts";
import { recordMoneyFacts } from "../_shared/money_ledger.ts";
import {
  applyCustomerRead,
  applyCustomerReadForEvent,
  type ClaimedEvent,
  customerLock,
  type PendingReversal,
  prepareReversal,
  readCustomer,
  StaleReadError,
  type SyncDeps,
  type SyncOutcome,
} from "../_shared/subscription_sync.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import {
  claimEvent,
  isEventDone,
  markIgnoredInTransaction,
  recordIgnored,
} from "../_shared/stripe_event_ledger.ts";
import { recordPass } from "../_shared/one_time_passes.ts";
import { settleFailedEvent } from "./event_failures.ts";
import { readMoneyFacts } from "./money_facts.ts";
import { startEvent } from "./event_start.ts";

/** What happened to an event; the HTTP answer reports it. */
export type EventOutcome =
  | { status: "applied"; membershipId: string; changed: boolean; entitled: boolean }
  | { status: "duplicate" }
  | { status: "ignored"; why: string };

/** What processing needs: the sync's dependencies and the mode of the deployment's Stripe key. */
export interface EventDeps extends SyncDeps {
  /** Whether the Stripe key is a live-mode key. */
  livemode: boolean;
}

/** Thrown when a verified event does not have the shape its type promises. */
export class MalformedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedEventError";
  }
}

/**
 * Processes one verified event. Throws on dependency failures (the caller answers 500); an object
 * Stripe says it does not have is a permanent answer, so that event is recorded as ignored.
 */
export async function processEvent(
  deps: EventDeps,
  envelope: StripeEventEnvelope,
  logger: Logger,
): Promise<EventOutcome> {
  const skip = whyNotServed(envelope, deps.livemode) ??
    (isHandledEventType(envelope.type) ? null : `event type ${envelope.type} is not handled`);
  if (skip) {
    if (await isEventDone(deps.sql, envelope.id)) return { status: "duplicate" };
    await recordIgnored(deps.sql, envelope, skip);
    return { status: "ignored", why: skip };
  }
  const parsed = handledStripeEvent.safeParse({ type: envelope.type, data: envelope.data });
  if (!parsed.success) {
    throw new MalformedEventError(
      `Cannot read ${envelope.type} event ${envelope.id}: ${parsed.error.issues[0]?.message}`,
    );
  }
  const target = eventTarget(parsed.data);
  // Checked before Stripe is called, so a replay costs no Stripe read; the claim under the
  // customer's lock still decides, for two deliveries racing past this check. The same round
  // trip numbers the re-read (any number taken after the event arrived will do, see
  // readCustomer) and reads the membership's inputs as they stand, for the apply to check.
  const start = await startEvent(
    deps.sql,
    envelope.id,
    target.kind === "customer"
      ? {
        customerId: target.customerId,
        subscriptionIds: target.subscriptionId ? [target.subscriptionId] : [],
      }
      : null,
  );
  if (start.done) return { status: "duplicate" };
  const readSeq = start.read_seq;

  try {
    const resolved = await resolveTarget(deps.stripe, target, envelope.id);
    if ("ignore" in resolved) {
      await recordIgnored(deps.sql, envelope, resolved.ignore);
      return { status: "ignored", why: resolved.ignore };
    }
    const moneyFacts = await readMoneyFacts(deps.stripe, parsed.data);
    const passPayment = resolved.passSessionId
      ? await deps.stripe.retrieveCheckoutPayment(resolved.passSessionId)
      : null;
    const cause = { cause: causeOf(resolved.reversal) ?? envelope.type, eventId: envelope.id };
    let outcome: SyncOutcome | null = null;
    if (
      !resolved.reversal && !passPayment && !moneyFacts.length && envelope.type !== TRIAL_WILL_END
    ) {
      // Only the membership changes: one statement applies it and claims the event.
      outcome = await applyCustomerReadForEvent(
        deps,
        await readCustomer(deps, resolved.customerId, readSeq),
        claimedEvent(envelope),
        cause,
        start.inputs,
      );
      if (outcome?.result === "not_rolepass") {
        await recordIgnored(deps.sql, envelope, NOT_ROLEPASS);
      }
    } else {
      outcome = await applyInTransaction(
        deps,
        envelope,
        resolved,
        { moneyFacts, passPayment, readSeq },
        cause,
      );
    }
    return outcomeOf(outcome, envelope, logger);
  } catch (error) {
    return await settleFailedEvent(deps.sql, envelope, error, logger, {
      whyMissing: (missing) => `Stripe has no object it refers to: ${missing.message}`,
      failed: "Stripe event failed; Stripe will retry it",
    });
  }
}

/** The columns of the event's row in rolepass.stripe_events that an apply writes. */
function claimedEvent(envelope: StripeEventEnvelope): ClaimedEvent {
  return {
    id: envelope.id,
    type: envelope.type,
    api_version: envelope.api_version,
    livemode: envelope.livemode,
  };
}

/**
 * The apply of an event that writes more than the membership (a refund's or dispute's decision,
 * a pass, money facts, a notice), in one short transaction under the customer's lock that also
 * claims the event. Null when the event was already done.
 */
async function applyInTransaction(
  deps: EventDeps,
  envelope: StripeEventEnvelope,
  resolved: Extract<ResolvedTarget, { customerId: string }>,
  read: {
    moneyFacts: Awaited<ReturnType<typeof readMoneyFacts>>;
    passPayment: Awaited<ReturnType<StripeGateway["retrieveCheckoutPayment"]>> | null;
    readSeq: string;
  },
  cause: { cause: string; eventId: string },
): Promise<SyncOutcome | null> {
  const { moneyFacts, passPayment } = read;
  for (let attempt = 1;; attempt++) {
    const prepared = await prepareReversal(
      deps,
      // A read again after a newer one was applied must start after it: a fresh number.
      await readCustomer(deps, resolved.customerId, attempt === 1 ? read.readSeq : undefined),
      resolved.reversal,
    );
    try {
      return await deps.sql.begin(async (tx) => {
        if (!await claimEvent(tx, envelope, customerLock(tx, resolved.customerId))) return null;
        const pass = passPayment ? await recordPass(tx, passPayment, envelope.id) : null;
        const synced = await applyCustomerRead(
          tx,
          deps,
          prepared.read,
          cause,
          prepared.reversal,
          pass?.result === "recorded",
        );
        if (synced.result === "not_rolepass") {
          await markIgnoredInTransaction(tx, envelope.id, NOT_ROLEPASS);
        } else {
          await recordMoneyFacts(tx, moneyFacts, envelope.id);
        }
        if (synced.result === "applied" && envelope.type === TRIAL_WILL_END) {
          await tx`select rolepass.queue_trial_ending_notice(${synced.membershipId}::uuid,
            ${envelope.id})`;
        }
        return synced;
      }) as SyncOutcome | null;
    } catch (error) {
      // A refund, a dispute or a new pass must be applied on the newest state: read again, a
      // few times at most, then let Stripe's retry come back to it.
      if (!(error instanceof StaleReadError) || attempt >= STALE_READ_ATTEMPTS) throw error;
    }
  }
}

/** The HTTP answer's account of what the apply did. */
function outcomeOf(
  outcome: SyncOutcome | null,
  envelope: StripeEventEnvelope,
  logger: Logger,
): EventOutcome {
  if (!outcome) return { status: "duplicate" };
  if (outcome.result === "not_rolepass") {
    // Logged once: a replay of this event is a no-op and logs nothing.
    logger.info("Ignored a subscription not created by rolepass", {
      eventId: envelope.id,
      customerId: outcome.customerId,
    });
    return { status: "ignored", why: NOT_ROLEPASS };
  }
  if (outcome.result === "no_subscription") {
    return {
      status: "ignored",
      why: "no subscription of the customer sells a plan of the guild",
    };
  }
  return {
    status: "applied",
    membershipId: outcome.membershipId,
    changed: outcome.changed,
    entitled: outcome.entitled,
  };
}

const NOT_ROLEPASS = "customer and subscription are not rolepass's";

/** The event that tells the member their trial ends soon (queued with the event's sync). */
const TRIAL_WILL_END = "customer.subscription.trial_will_end";

/** Reads of a refund's or dispute's customer tried before the event is left to Stripe's retry. */
const STALE_READ_ATTEMPTS = 3;

/**
 * Why a delivery is not this deployment's to act on: an event of the other mode than the key's
 * (an endpoint registered in both modes, or a test event sent to the live URL), or a Connect
 * event about a connected account, which this deployment does not serve.
 */
function whyNotServed(envelope: StripeEventEnvelope, livemode: boolean): string | null {
  if (envelope.account) {
    return `event of Connect account ${envelope.account}, which this deployment does not serve`;
  }
  if (envelope.livemode !== livemode) {
    return envelope.livemode
      ? "live-mode event, but the Stripe key is a test-mode key"
      : "test-mode event, but the Stripe key is a live-mode key";
  }
  return null;
}

type ResolvedTarget =
  | {
    customerId: string;
    reversal: PendingReversal | null;
    /** A completed payment-mode Checkout Session, whose pass is recorded with the sync. */
    passSessionId?: string;
  }
  | { ignore: string };

/** The history's cause for a refund or a dispute, as before policies had stages. */
function causeOf(reversal: PendingReversal | null): string | null {
  return reversal ? revocationOf(reversal.stage) : null;
}

/**
 * Turns an event's target into the customer to sync. A refund or a dispute is followed from its
 * charge to the invoice and the subscription it paid, and its stage (full or partial refund,
 * dispute open, won or lost) is read from Stripe's current charge or dispute, not from the
 * payload: a refund made in the Dashboard and one made through the API are then the same charge,
 * and a late or repeated event decides the same thing again.
 */
async function resolveTarget(
  stripe: StripeGateway,
  target: EventTarget,
  eventId: string,
): Promise<ResolvedTarget> {
  switch (target.kind) {
    case "none":
      return { ignore: target.why };
    case "customer":
      return { customerId: target.customerId, reversal: null };
    case "pass":
      return {
        customerId: target.customerId,
        reversal: null,
        passSessionId: target.checkoutSessionId,
      };
    case "refund":
    case "dispute": {
      const charge = await stripe.retrieveCharge(target.chargeId);
      if (!charge.customerId) return { ignore: `charge ${charge.id} has no customer` };
      // A charge of no subscription may have paid a one-time pass: the sync looks for it.
      const paid = await subscriptionOfCharge(stripe, charge);
      const common = {
        subscriptionId: paid?.subscriptionId ?? null,
        chargeId: charge.id,
        coversPeriodEnd: paid?.periodEnd ?? null,
        eventId,
      };
      if (target.kind === "refund") {
        return {
          customerId: charge.customerId,
          reversal: {
            ...common,
            stage: charge.fullyRefunded ? "full_refund" : "partial_refund",
            stripeObjectId: charge.id,
            amount: charge.amountRefunded,
            currency: charge.currency,
          },
        };
      }
      const dispute = await stripe.retrieveDispute(target.disputeId);
      return {
        customerId: charge.customerId,
        reversal: {
          ...common,
          stage: disputeStage(dispute.status),
          stripeObjectId: dispute.id,
          amount: dispute.amount,
          currency: dispute.currency,
        },
      };
    }
  }
}

/**
 * The subscription a charge paid for, and the end of the period it paid. Null for a charge of no
 * subscription invoice.
 */
async function subscriptionOfCharge(
  stripe: StripeGateway,
  charge: ChargeSnapshot,
): Promise<{ subscriptionId: string; periodEnd: Date | null } | null> {
  const invoiceId = await stripe.invoiceIdOfCharge(charge);
  if (!invoiceId) return null;
  const billing = await stripe.retrieveInvoiceBilling(invoiceId);
  return billing.subscriptionId
    ? { subscriptionId: billing.subscriptionId, periodEnd: billing.periodEnd }
    : null;
}
