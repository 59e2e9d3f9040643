/**
 * Re-reads from Stripe the money an event is about, so the ledger holds Stripe's current amounts
 * and times whatever the payload said and whatever order the events come in.
 */
import {
  disputeFacts,
  invoicePaidFact,
  type MoneyFact,
  refundFact,
  subscriptionEndedFact,
} from "../_core/ledger.ts";
import type { HandledStripeEvent } from "../_core/stripe_shapes.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";

/** The ledger facts behind `event`, read from Stripe; none for events that move no money. */
export async function readMoneyFacts(
  stripe: StripeGateway,
  event: HandledStripeEvent,
): Promise<MoneyFact[]> {
  switch (event.type) {
    case "invoice.paid":
    case "invoice.payment_succeeded":
      return invoicePaidFact(await stripe.retrieveMoneyInvoice(event.data.object.id));
    case "charge.refunded": {
      const context = await stripe.chargeContext(event.data.object.id);
      if (!context) return [];
      const refunds = await stripe.listChargeRefunds(context.chargeId);
      return refunds.flatMap((refund) => refundFact(refund, context));
    }
    case "refund.created":
    case "refund.updated": {
      const refund = await stripe.retrieveRefund(event.data.object.id);
      if (!refund.charge) return [];
      const context = await stripe.chargeContext(refund.charge);
      return context ? refundFact(refund, context) : [];
    }
    case "charge.dispute.created":
    case "charge.dispute.closed": {
      const dispute = await stripe.retrieveDispute(event.data.object.id);
      const context = await stripe.chargeContext(dispute.charge);
      return context ? disputeFacts(dispute, context) : [];
    }
    case "customer.subscription.deleted":
      return subscriptionEndedFact(await stripe.retrieveEndedSubscription(event.data.object.id));
    default:
      return [];
  }
}
