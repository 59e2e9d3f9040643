/**
 * The one module that talks to Stripe: it configures the SDK (the pinned API version, the fetch
 * HTTP client Deno needs, the base URL that tests and the local sandbox point at the Stripe double)
 * and turns what Stripe answers into the core's types, parsed once here.
 */
import Stripe from "stripe";
import { z } from "zod";
import {
  type ChargeContext,
  type MoneyInvoice,
  stripeEndedSubscription,
  stripeMoneyDispute,
  stripeMoneyInvoice,
  stripeMoneyRefund,
} from "../_core/ledger.ts";
import {
  type ChargeSnapshot,
  stripeCharge,
  stripeInvoice,
  stripeSubscription,
  type SubscriptionSnapshot,
} from "../_core/stripe_shapes.ts";

/**
 * The Stripe API version every request and every webhook endpoint of rolepass uses.
 * Events carry the account's version, so the webhook code also reads older shapes.
 */
export const STRIPE_API_VERSION = "2026-07-29.dahlia" as const;

/** Default for STRIPE_API_BASE_URL. */
export const STRIPE_DEFAULT_BASE_URL = "https://api.stripe.com";

/** Creates a Stripe client for `secretKey` talking to `apiBaseUrl`. */
export function createStripeClient(
  secretKey: string,
  apiBaseUrl: string = STRIPE_DEFAULT_BASE_URL,
  options: { timeoutMs?: number; maxNetworkRetries?: number } = {},
): Stripe {
  const base = new URL(apiBaseUrl);
  const protocol = base.protocol === "http:" ? "http" : "https";
  return new Stripe(secretKey, {
    // deno-lint-ignore no-explicit-any
    apiVersion: STRIPE_API_VERSION as any,
    httpClient: Stripe.createFetchHttpClient(),
    host: base.hostname,
    port: base.port || (protocol === "http" ? 80 : 443),
    protocol,
    timeout: options.timeoutMs ?? 10_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 1,
    appInfo: { name: "rolepass" },
    // The SDK otherwise sends the previous request's latency to Stripe on every request; building
    // that header costs the webhook's re-fetch, which runs under the customer's lock, for nothing.
    telemetry: false,
  });
}

/** A refund as the ledger reads it. */
export type MoneyRefund = z.infer<typeof stripeMoneyRefund>;
/** A dispute as the ledger and the refund and dispute policy read it. */
export type MoneyDispute = z.infer<typeof stripeMoneyDispute>;
/** A subscription that ended, as the ledger reads it. */
export type EndedSubscription = z.infer<typeof stripeEndedSubscription>;

/** The subscription an invoice bills, and the end of the service period it bills for. */
export interface InvoiceBilling {
  subscriptionId: string | null;
  periodEnd: Date | null;
}

const invoiceLines = z.object({
  lines: z.object({
    data: z.array(z.object({
      period: z.object({ end: z.number().int() }).nullable().optional(),
    })),
  }).optional(),
});

/** Stripe's answers as the core's types; every method is one read or write of Stripe. */
export interface StripeGateway {
  retrieveSubscription(subscriptionId: string): Promise<SubscriptionSnapshot>;
  /** Every subscription of the customer, whatever its status (Stripe lists 100 at most). */
  listCustomerSubscriptions(customerId: string): Promise<SubscriptionSnapshot[]>;
  /** Cancels at once; the key makes a retry of the same cancellation a no-op at Stripe. */
  cancelSubscription(subscriptionId: string, idempotencyKey: string): Promise<SubscriptionSnapshot>;
  retrieveCharge(chargeId: string): Promise<ChargeSnapshot>;
  /**
   * The invoice a charge paid: named on the charge in legacy API versions, and since basil found
   * through the InvoicePayment of the charge's PaymentIntent. Null for a charge of no invoice.
   */
  invoiceIdOfCharge(charge: ChargeSnapshot): Promise<string | null>;
  retrieveInvoiceBilling(invoiceId: string): Promise<InvoiceBilling>;
  retrieveMoneyInvoice(invoiceId: string): Promise<MoneyInvoice>;
  /** The invoice `chargeId` paid, with the charge's id; null for a charge of no invoice. */
  chargeContext(chargeId: string): Promise<ChargeContext | null>;
  listChargeRefunds(chargeId: string): Promise<MoneyRefund[]>;
  retrieveRefund(refundId: string): Promise<MoneyRefund>;
  retrieveDispute(disputeId: string): Promise<MoneyDispute>;
  retrieveEndedSubscription(subscriptionId: string): Promise<EndedSubscription>;
}

/** Wraps a client made by {@link createStripeClient} (or a test's, pointed at the double). */
export function createStripeGateway(stripe: Stripe): StripeGateway {
  const gateway: StripeGateway = {
    async retrieveSubscription(subscriptionId) {
      return stripeSubscription.parse(await stripe.subscriptions.retrieve(subscriptionId));
    },
    async listCustomerSubscriptions(customerId) {
      const listed = await stripe.subscriptions.list({
        customer: customerId,
        status: "all",
        limit: 100,
      });
      return listed.data.map((subscription) => stripeSubscription.parse(subscription));
    },
    async cancelSubscription(subscriptionId, idempotencyKey) {
      return stripeSubscription.parse(
        await stripe.subscriptions.cancel(subscriptionId, {}, { idempotencyKey }),
      );
    },
    async retrieveCharge(chargeId) {
      return stripeCharge.parse(await stripe.charges.retrieve(chargeId));
    },
    async invoiceIdOfCharge(charge) {
      if (charge.invoiceId) return charge.invoiceId;
      if (!charge.paymentIntentId) return null;
      const payments = await stripe.invoicePayments.list({
        payment: { type: "payment_intent", payment_intent: charge.paymentIntentId },
        limit: 1,
      });
      const invoice = payments.data[0]?.invoice;
      return typeof invoice === "string" ? invoice : invoice?.id ?? null;
    },
    async retrieveInvoiceBilling(invoiceId) {
      const invoice = await stripe.invoices.retrieve(invoiceId);
      // A line's period is the service it bills (the invoice's own period_end is the previous
      // period for renewals): https://docs.stripe.com/api/invoices/line_item#invoice_line_item_object-period
      const ends = (invoiceLines.parse(invoice).lines?.data ?? [])
        .flatMap((line) => line.period ? [line.period.end] : []);
      return {
        subscriptionId: stripeInvoice.parse(invoice).subscription,
        periodEnd: ends.length ? new Date(Math.max(...ends) * 1000) : null,
      };
    },
    async retrieveMoneyInvoice(invoiceId) {
      return stripeMoneyInvoice.parse(await stripe.invoices.retrieve(invoiceId));
    },
    async chargeContext(chargeId) {
      const charge = await gateway.retrieveCharge(chargeId);
      const invoiceId = await gateway.invoiceIdOfCharge(charge);
      if (!invoiceId) return null;
      return { chargeId: charge.id, invoice: await gateway.retrieveMoneyInvoice(invoiceId) };
    },
    async listChargeRefunds(chargeId) {
      const refunds = await stripe.refunds.list({ charge: chargeId, limit: 100 });
      return refunds.data.map((refund) => stripeMoneyRefund.parse(refund));
    },
    async retrieveRefund(refundId) {
      return stripeMoneyRefund.parse(await stripe.refunds.retrieve(refundId));
    },
    async retrieveDispute(disputeId) {
      return stripeMoneyDispute.parse(await stripe.disputes.retrieve(disputeId));
    },
    async retrieveEndedSubscription(subscriptionId) {
      return stripeEndedSubscription.parse(await stripe.subscriptions.retrieve(subscriptionId));
    },
  };
  return gateway;
}
