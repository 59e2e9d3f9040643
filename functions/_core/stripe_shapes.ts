/**
 * The fields rolepass reads from Stripe events and subscriptions, parsed once at the edge.
 *
 * Events carry the shape of the account's API version, not of the version the SDK pins, so every
 * schema here accepts both the current shape (2025-03-31.basil and later) and the legacy one:
 * - a subscription's period lives on its items since basil; older payloads have a top-level
 *   `current_period_end` (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-subscription-current-period-start-and-end);
 * - an invoice names its subscription in `parent.subscription_details.subscription` since basil;
 *   older payloads have a top-level `subscription`
 *   (https://docs.stripe.com/changelog/basil/2025-03-31/adds-new-parent-field-to-invoicing-objects);
 * - a charge names its invoice only in legacy payloads; since basil the link is an InvoicePayment
 *   found from the charge's PaymentIntent.
 *
 * Unknown fields are ignored, so a newer API version adding fields never breaks parsing.
 */
import { z } from "zod";

/**
 * A Stripe object id whose prefix Stripe does not promise. Stripe types ids as plain strings and
 * counts "adding or removing fixed prefixes (such as ch_ on charge IDs)" among its
 * backwards-compatible changes (https://docs.stripe.com/upgrades#what-changes-does-stripe-consider-to-be-backward-compatible);
 * a charge paid by some methods is `py_...`. Customer, subscription and event ids keep their
 * prefixes here because the database's checks still require them.
 */
const stripeId = z.string().regex(/^[A-Za-z0-9_]{1,255}$/, "expected a Stripe id");

/** A Stripe id that may also arrive expanded into its object. */
const idOf = (id: z.ZodString) => z.union([id, z.object({ id }).transform((object) => object.id)]);

const nullableId = (id: z.ZodString) => idOf(id).nullable().optional().transform((v) => v ?? null);

const prefixed = (prefix: string) => z.string().max(255).startsWith(prefix);

const metadata = z.record(z.string(), z.string()).nullable().optional().transform((v) => v ?? {});

/** Every subscription status Stripe documents. */
export const SUBSCRIPTION_STATUSES = [
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
] as const;

/** A Stripe subscription status. */
export type SubscriptionStatus = typeof SUBSCRIPTION_STATUSES[number];

/** The event envelope, read before the event type decides how to read the object. */
export const stripeEventEnvelope = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]{1,251}$/, "expected an event id (evt_...)"),
  type: z.string().min(1).max(255),
  /** The connected account a Connect event is about; absent for the platform's own events. */
  account: z.string().max(255).nullable().optional().transform((v) => v ?? null),
  api_version: z.string().nullable().optional().transform((v) => v ?? null),
  livemode: z.boolean().optional().default(false),
  created: z.number().int().optional(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

/** A verified event's envelope. */
export type StripeEventEnvelope = z.infer<typeof stripeEventEnvelope>;

const checkoutSession = z.object({
  object: z.literal("checkout.session"),
  id: z.string().startsWith("cs_"),
  mode: z.string(),
  customer: nullableId(prefixed("cus_")),
  subscription: nullableId(prefixed("sub_")),
  metadata,
});

const subscriptionReference = z.object({
  object: z.literal("subscription"),
  id: z.string().startsWith("sub_"),
  customer: idOf(prefixed("cus_")),
  metadata,
});

const invoiceReference = z.object({
  object: z.literal("invoice"),
  id: stripeId,
  customer: nullableId(prefixed("cus_")),
  parent: z.object({
    subscription_details: z.object({ subscription: nullableId(prefixed("sub_")) }).nullable()
      .optional(),
  }).nullable().optional(),
  /** Legacy (before basil). */
  subscription: nullableId(prefixed("sub_")),
}).transform((invoice) => ({
  id: invoice.id,
  customer: invoice.customer,
  subscription: invoice.parent?.subscription_details?.subscription ?? invoice.subscription,
}));

/** A charge as an event carries it; {@link stripeCharge} is the same charge fetched from Stripe. */
const chargeReference = z.object({
  object: z.literal("charge"),
  id: stripeId,
  customer: nullableId(prefixed("cus_")),
  payment_intent: nullableId(stripeId),
  /** Legacy (before basil). */
  invoice: nullableId(stripeId),
  amount: z.number().int(),
  amount_refunded: z.number().int().nonnegative(),
  refunded: z.boolean(),
});

const disputeReference = z.object({
  object: z.literal("dispute"),
  id: stripeId,
  charge: idOf(stripeId),
  payment_intent: nullableId(stripeId),
  status: z.string(),
});

const refundReference = z.object({
  object: z.literal("refund"),
  id: stripeId,
  charge: nullableId(stripeId),
});

const subscriptionEventTypes = [
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  // Three days before a trial ends: synced like any subscription event, and the member is told.
  "customer.subscription.trial_will_end",
] as const;

/** Every event type the webhook acts on; anything else is acknowledged and ignored. */
export const HANDLED_EVENT_TYPES = [
  "checkout.session.completed",
  ...subscriptionEventTypes,
  "invoice.paid",
  "invoice.payment_succeeded",
  "invoice.payment_failed",
  "charge.refunded",
  "refund.created",
  "refund.updated",
  "charge.dispute.created",
  "charge.dispute.closed",
] as const;

/** A handled event type. */
export type HandledEventType = typeof HANDLED_EVENT_TYPES[number];

const withObject = <T extends z.ZodType>(object: T) => z.object({ object });

/** The handled events, as a union on `type`, with only the fields rolepass reads. */
export const handledStripeEvent = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("checkout.session.completed"),
    data: withObject(checkoutSession),
  }),
  ...subscriptionEventTypes.map((type) =>
    z.object({ type: z.literal(type), data: withObject(subscriptionReference) })
  ),
  z.object({ type: z.literal("invoice.paid"), data: withObject(invoiceReference) }),
  z.object({ type: z.literal("invoice.payment_succeeded"), data: withObject(invoiceReference) }),
  z.object({ type: z.literal("invoice.payment_failed"), data: withObject(invoiceReference) }),
  z.object({ type: z.literal("charge.refunded"), data: withObject(chargeReference) }),
  z.object({ type: z.literal("refund.created"), data: withObject(refundReference) }),
  z.object({ type: z.literal("refund.updated"), data: withObject(refundReference) }),
  z.object({ type: z.literal("charge.dispute.created"), data: withObject(disputeReference) }),
  z.object({ type: z.literal("charge.dispute.closed"), data: withObject(disputeReference) }),
]);

/** A handled event, parsed. */
export type HandledStripeEvent = z.infer<typeof handledStripeEvent>;

/** Whether `type` is one the webhook acts on. */
export function isHandledEventType(type: string): type is HandledEventType {
  return (HANDLED_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * Where an event points: the customer whose membership it may change, the subscription it names
 * when it names one, and the charge or dispute behind a refund or a dispute.
 */
export type EventTarget =
  | { kind: "customer"; customerId: string; subscriptionId: string | null }
  | { kind: "refund"; customerId: string | null; chargeId: string; fullyRefunded: boolean }
  | { kind: "dispute"; chargeId: string; disputeId: string }
  /** A Checkout Session in payment mode completed: a one-time pass may have been paid. */
  | { kind: "pass"; customerId: string; checkoutSessionId: string }
  | { kind: "none"; why: string };

/** Reads the target out of a parsed handled event. */
export function eventTarget(event: HandledStripeEvent): EventTarget {
  switch (event.type) {
    case "checkout.session.completed": {
      const session = event.data.object;
      if (!session.customer) return { kind: "none", why: "Checkout Session has no customer" };
      if (session.mode === "payment") {
        return { kind: "pass", customerId: session.customer, checkoutSessionId: session.id };
      }
      if (session.mode !== "subscription") {
        return { kind: "none", why: `Checkout Session in ${session.mode} mode` };
      }
      return {
        kind: "customer",
        customerId: session.customer,
        subscriptionId: session.subscription,
      };
    }
    case "invoice.paid":
    case "invoice.payment_succeeded":
    case "invoice.payment_failed": {
      const invoice = event.data.object;
      if (!invoice.customer) return { kind: "none", why: "invoice has no customer" };
      // An invoice of no subscription (a one-time pass's) still carries money for the ledger.
      return {
        kind: "customer",
        customerId: invoice.customer,
        subscriptionId: invoice.subscription,
      };
    }
    case "charge.refunded": {
      const charge = event.data.object;
      return {
        kind: "refund",
        customerId: charge.customer,
        chargeId: charge.id,
        fullyRefunded: charge.refunded || charge.amount_refunded >= charge.amount,
      };
    }
    case "refund.created":
    case "refund.updated": {
      // The charge, re-read, says whether the refund was full and who the customer is.
      const refund = event.data.object;
      if (!refund.charge) return { kind: "none", why: "refund of no charge" };
      return { kind: "refund", customerId: null, chargeId: refund.charge, fullyRefunded: false };
    }
    case "charge.dispute.created":
    case "charge.dispute.closed": {
      const dispute = event.data.object;
      return { kind: "dispute", chargeId: dispute.charge, disputeId: dispute.id };
    }
    default: {
      const subscription = event.data.object;
      return {
        kind: "customer",
        customerId: subscription.customer,
        subscriptionId: subscription.id,
      };
    }
  }
}

const unixSeconds = z.number().int().nullable().optional().transform((v) =>
  v === null || v === undefined ? null : new Date(v * 1000)
);

/** A subscription as fetched from Stripe, current or legacy shape. */
export const stripeSubscription = z.object({
  id: z.string().startsWith("sub_"),
  customer: idOf(prefixed("cus_")),
  status: z.enum(SUBSCRIPTION_STATUSES),
  metadata,
  created: z.number().int(),
  cancel_at: unixSeconds,
  cancel_at_period_end: z.boolean().optional().default(false),
  trial_start: unixSeconds,
  transfer_data: z.object({ destination: idOf(z.string().max(255)) }).nullable().optional(),
  on_behalf_of: nullableId(z.string().max(255)),
  /** Why Stripe canceled it (or will): `cancellation_requested`, `payment_failed`, ... */
  cancellation_details: z.object({ reason: z.string().nullable().optional() }).nullable()
    .optional(),
  /** Legacy (before basil). */
  current_period_start: unixSeconds,
  /** Legacy (before basil). */
  current_period_end: unixSeconds,
  items: z.object({
    data: z.array(z.object({
      price: z.object({ id: z.string() }),
      current_period_start: unixSeconds,
      current_period_end: unixSeconds,
    })),
  }),
}).transform((subscription) => {
  const ends = subscription.items.data.map((item) => item.current_period_end).filter(isDate);
  const starts = subscription.items.data.map((item) => item.current_period_start).filter(isDate);
  return {
    id: subscription.id,
    customerId: subscription.customer,
    status: subscription.status,
    metadata: subscription.metadata,
    createdAt: new Date(subscription.created * 1000),
    cancelAt: subscription.cancel_at,
    cancelAtPeriodEnd: subscription.cancel_at_period_end,
    // Items can renew on different days (flexible billing); the subscription runs to the last.
    currentPeriodEnd: ends.length ? latest(ends) : subscription.current_period_end,
    currentPeriodStart: starts.length ? latest(starts) : subscription.current_period_start,
    priceIds: subscription.items.data.map((item) => item.price.id),
    /** When a free trial began, if the subscription had one. */
    trialStart: subscription.trial_start,
    /** Platform mode: the connected account the invoices pay; null for the platform alone. */
    destination: subscription.transfer_data?.destination ?? null,
    /** Platform mode: the settlement merchant; null when the platform is. */
    onBehalfOf: subscription.on_behalf_of,
    /**
     * Stripe's `cancellation_details.reason`, as Stripe wrote it (entitlement.ts
     * subscriptionEndedFor reads it); null when Stripe gives none.
     */
    cancellationReason: subscription.cancellation_details?.reason ?? null,
  };
});

/** A subscription's fields as rolepass uses them. */
export type SubscriptionSnapshot = z.infer<typeof stripeSubscription>;

/**
 * A charge as fetched from Stripe: whether it is fully refunded, how much was refunded, and how to
 * find its invoice.
 */
export const stripeCharge = chargeReference.extend({
  currency: z.string().regex(/^[a-z]{3}$/),
  disputed: z.boolean().optional().default(false),
}).transform((charge) => ({
  id: charge.id,
  customerId: charge.customer,
  paymentIntentId: charge.payment_intent,
  invoiceId: charge.invoice,
  fullyRefunded: charge.refunded || charge.amount_refunded >= charge.amount,
  amountRefunded: charge.amount_refunded,
  currency: charge.currency,
  disputed: charge.disputed,
}));

/** A charge's fields as rolepass uses them. */
export type ChargeSnapshot = z.infer<typeof stripeCharge>;

/** An invoice as fetched from Stripe: which subscription it bills. */
export const stripeInvoice = invoiceReference;

/** The metadata keys the checkout function writes on the customer, session and subscription. */
export const ROLEPASS_METADATA = {
  guildId: "rolepass_guild_id",
  discordUserId: "rolepass_discord_user_id",
  membershipId: "rolepass_membership_id",
} as const;

function isDate(value: Date | null): value is Date {
  return value !== null;
}

function latest(dates: Date[]): Date {
  return new Date(Math.max(...dates.map((date) => date.getTime())));
}
