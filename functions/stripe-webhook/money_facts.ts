/**
 * Re-reads from Stripe the money an event is about, so the ledger holds Stripe's current amounts
 * and times whatever the payload said and whatever order the events come in.
 */
import type Stripe from "stripe";
import {
  type ChargeContext,
  disputeFacts,
  invoicePaidFact,
  type MoneyFact,
  refundFact,
  stripeEndedSubscription,
  stripeMoneyDispute,
  stripeMoneyInvoice,
  stripeMoneyRefund,
  subscriptionEndedFact,
} from "../_core/ledger.ts";
import { type HandledStripeEvent, stripeCharge } from "../_core/stripe_shapes.ts";

/** The ledger facts behind `event`, read from Stripe; none for events that move no money. */
export async function readMoneyFacts(
  stripe: Stripe,
  event: HandledStripeEvent,
): Promise<MoneyFact[]> {
  switch (event.type) {
    case "invoice.paid":
    case "invoice.payment_succeeded": {
      const invoice = stripeMoneyInvoice.parse(
        await stripe.invoices.retrieve(event.data.object.id),
      );
      return invoicePaidFact(invoice);
    }
    case "charge.refunded": {
      const context = await chargeContext(stripe, event.data.object.id);
      if (!context) return [];
      const refunds = await stripe.refunds.list({ charge: context.chargeId, limit: 100 });
      return refunds.data.flatMap((refund) => refundFact(stripeMoneyRefund.parse(refund), context));
    }
    case "refund.created":
    case "refund.updated": {
      const refund = stripeMoneyRefund.parse(await stripe.refunds.retrieve(event.data.object.id));
      if (!refund.charge) return [];
      const context = await chargeContext(stripe, refund.charge);
      return context ? refundFact(refund, context) : [];
    }
    case "charge.dispute.created":
    case "charge.dispute.closed": {
      const dispute = stripeMoneyDispute.parse(
        await stripe.disputes.retrieve(event.data.object.id),
      );
      const context = await chargeContext(stripe, dispute.charge);
      return context ? disputeFacts(dispute, context) : [];
    }
    case "customer.subscription.deleted": {
      const subscription = stripeEndedSubscription.parse(
        await stripe.subscriptions.retrieve(event.data.object.id),
      );
      return subscriptionEndedFact(subscription);
    }
    default:
      return [];
  }
}

/**
 * The invoice a charge paid: named on the charge in legacy API versions, and since basil found
 * through the InvoicePayment of the charge's PaymentIntent. Null for a charge of no invoice.
 */
async function chargeContext(stripe: Stripe, chargeId: string): Promise<ChargeContext | null> {
  const charge = stripeCharge.parse(await stripe.charges.retrieve(chargeId));
  let invoiceId = charge.invoiceId;
  if (!invoiceId && charge.paymentIntentId) {
    const payments = await stripe.invoicePayments.list({
      payment: { type: "payment_intent", payment_intent: charge.paymentIntentId },
      limit: 1,
    });
    const invoice = payments.data[0]?.invoice;
    invoiceId = typeof invoice === "string" ? invoice : invoice?.id ?? null;
  }
  if (!invoiceId) return null;
  const invoice = stripeMoneyInvoice.parse(await stripe.invoices.retrieve(invoiceId));
  return { chargeId: charge.id, invoice };
}
