/**
 * The money facts rolepass keeps for accounting, read from the Stripe objects that carry them.
 *
 * Each fact holds Stripe's own amount (in the currency's smallest unit), currency and time:
 * an invoice counts when it was paid (`status_transitions.paid_at`), a refund and a dispute when
 * Stripe created them, a won dispute's reversal when its balance transaction was created, and a
 * subscription's end at its `ended_at`. Facts are keyed by Stripe's ids, so reading the same
 * object twice yields the same fact. The database places each fact in its accounting period.
 */
import { z } from "zod";

/** The kinds of money facts; a subscription's end carries no money but closes its membership. */
export type MoneyFactKind =
  | "invoice_paid"
  | "refund"
  | "dispute"
  | "dispute_won"
  | "subscription_ended";

/** One fact for the ledger. */
export interface MoneyFact {
  kind: MoneyFactKind;
  /** The invoice, refund or dispute id (the subscription id for `subscription_ended`). */
  stripeObjectId: string;
  /** The prices the fact is about; the database finds the guild's plan among them. */
  priceIds: string[];
  customerId: string | null;
  subscriptionId: string | null;
  invoiceId: string | null;
  chargeId: string | null;
  /** A subscription's first invoice: the subscription started. */
  startsSubscription: boolean;
  /** Stripe's amount in the currency's smallest unit, >= 0; the kind gives its sign. */
  amount: number;
  /** Lower-case ISO code, as Stripe writes it. */
  currency: string;
  occurredAt: Date;
  /** The dispute's status, for `dispute` facts. */
  disputeStatus: string | null;
}

const stripeId = z.string().regex(/^[A-Za-z0-9_]{1,255}$/, "expected a Stripe id");
const idOrObject = z.union([stripeId, z.object({ id: stripeId }).transform((o) => o.id)]);
const nullableId = idOrObject.nullable().optional().transform((v) => v ?? null);
const currency = z.string().regex(/^[a-z]{3}$/, "expected a lower-case currency code");
const seconds = z.number().int().transform((s) => new Date(s * 1000));

const invoiceLine = z.object({
  /** Since basil. */
  pricing: z.object({
    price_details: z.object({ price: idOrObject }).nullable().optional(),
  }).nullable().optional(),
  /** Legacy (before basil). */
  price: z.object({ id: stripeId }).nullable().optional(),
});

/** An invoice as fetched from Stripe, with what the ledger needs. */
export const stripeMoneyInvoice = z.object({
  id: stripeId,
  customer: nullableId,
  status: z.string().nullable(),
  amount_paid: z.number().int().nonnegative(),
  currency,
  billing_reason: z.string().nullable().optional().transform((v) => v ?? null),
  status_transitions: z.object({ paid_at: seconds.nullable().optional() }),
  parent: z.object({
    subscription_details: z.object({ subscription: nullableId }).nullable().optional(),
  }).nullable().optional(),
  /** Legacy (before basil). */
  subscription: nullableId,
  lines: z.object({ data: z.array(invoiceLine) }),
}).transform((invoice) => ({
  id: invoice.id,
  customerId: invoice.customer,
  paid: invoice.status === "paid",
  amountPaid: invoice.amount_paid,
  currency: invoice.currency,
  startsSubscription: invoice.billing_reason === "subscription_create",
  paidAt: invoice.status_transitions.paid_at ?? null,
  subscriptionId: invoice.parent?.subscription_details?.subscription ?? invoice.subscription,
  priceIds: invoice.lines.data.flatMap((line) => {
    const price = line.pricing?.price_details?.price ?? line.price?.id;
    return price ? [price] : [];
  }),
}));

/** An invoice's ledger fields. */
export type MoneyInvoice = z.infer<typeof stripeMoneyInvoice>;

/** A refund as fetched from Stripe. */
export const stripeMoneyRefund = z.object({
  id: stripeId,
  amount: z.number().int().nonnegative(),
  currency,
  created: seconds,
  status: z.string().nullable(),
  charge: nullableId,
});

/** A dispute as fetched from Stripe, with its balance transactions. */
export const stripeMoneyDispute = z.object({
  id: stripeId,
  amount: z.number().int().nonnegative(),
  currency,
  created: seconds,
  status: z.string(),
  charge: idOrObject,
  balance_transactions: z.array(z.object({
    created: seconds,
    amount: z.number().int(),
    reporting_category: z.string().optional(),
  })).optional().default([]),
});

/** A subscription as fetched from Stripe, for its end. */
export const stripeEndedSubscription = z.object({
  id: stripeId,
  customer: idOrObject,
  currency,
  ended_at: seconds.nullable().optional().transform((v) => v ?? null),
  items: z.object({ data: z.array(z.object({ price: z.object({ id: stripeId }) })) }),
});

/** The fact of a paid invoice, or none while it is not paid. */
export function invoicePaidFact(invoice: MoneyInvoice): MoneyFact[] {
  if (!invoice.paid || !invoice.paidAt) return [];
  return [{
    kind: "invoice_paid",
    stripeObjectId: invoice.id,
    priceIds: invoice.priceIds,
    customerId: invoice.customerId,
    subscriptionId: invoice.subscriptionId,
    invoiceId: invoice.id,
    chargeId: null,
    startsSubscription: invoice.startsSubscription,
    amount: invoice.amountPaid,
    currency: invoice.currency,
    occurredAt: invoice.paidAt,
    disputeStatus: null,
  }];
}

/** What a charge's facts inherit from the invoice it paid. */
export interface ChargeContext {
  chargeId: string;
  invoice: MoneyInvoice;
}

function fromCharge(context: ChargeContext) {
  return {
    priceIds: context.invoice.priceIds,
    customerId: context.invoice.customerId,
    subscriptionId: context.invoice.subscriptionId,
    invoiceId: context.invoice.id,
    chargeId: context.chargeId,
    startsSubscription: false,
  };
}

/**
 * The fact of a refund. Only a succeeded refund has moved money: a pending one becomes a fact
 * when refund.updated reports it succeeded, a failed or canceled one never does.
 */
export function refundFact(
  refund: z.infer<typeof stripeMoneyRefund>,
  context: ChargeContext,
): MoneyFact[] {
  if (refund.status !== "succeeded") return [];
  return [{
    kind: "refund",
    stripeObjectId: refund.id,
    ...fromCharge(context),
    amount: refund.amount,
    currency: refund.currency,
    occurredAt: refund.created,
    disputeStatus: null,
  }];
}

/**
 * The facts of a dispute: the disputed amount when it was opened, and, once won, the reversal
 * that gave the money back, at the time of its balance transaction.
 */
export function disputeFacts(
  dispute: z.infer<typeof stripeMoneyDispute>,
  context: ChargeContext,
): MoneyFact[] {
  const facts: MoneyFact[] = [{
    kind: "dispute",
    stripeObjectId: dispute.id,
    ...fromCharge(context),
    amount: dispute.amount,
    currency: dispute.currency,
    occurredAt: dispute.created,
    disputeStatus: dispute.status,
  }];
  const reversal = dispute.balance_transactions.find((transaction) =>
    transaction.reporting_category === "dispute_reversal"
  );
  if (dispute.status === "won" && reversal) {
    facts.push({
      kind: "dispute_won",
      stripeObjectId: dispute.id,
      ...fromCharge(context),
      amount: Math.abs(reversal.amount),
      currency: dispute.currency,
      occurredAt: reversal.created,
      disputeStatus: null,
    });
  }
  return facts;
}

/** The end of a subscription, once Stripe has ended it. */
export function subscriptionEndedFact(
  subscription: z.infer<typeof stripeEndedSubscription>,
): MoneyFact[] {
  if (!subscription.ended_at) return [];
  return [{
    kind: "subscription_ended",
    stripeObjectId: subscription.id,
    priceIds: subscription.items.data.map((item) => item.price.id),
    customerId: subscription.customer,
    subscriptionId: subscription.id,
    invoiceId: null,
    chargeId: null,
    startsSubscription: false,
    amount: 0,
    currency: subscription.currency,
    occurredAt: subscription.ended_at,
    disputeStatus: null,
  }];
}
