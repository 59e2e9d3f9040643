/**
 * Price changes of a subscription item, with Stripe's prorations
 * (https://docs.stripe.com/billing/subscriptions/prorations): the unused time on the old price is
 * credited and the remaining time on the new price charged, each as an invoice item with
 * `proration: true`, measured to the second over the item's current period.
 *
 * - `create_prorations` (the default) leaves the two items pending: the next renewal invoice
 *   carries them.
 * - `always_invoice` invoices them at once (billing reason `subscription_update`).
 * - `none` changes the price and bills the new one from the next renewal.
 *
 * A change to a price of another interval resets the billing cycle: the new period starts now and
 * is invoiced at once with the credit for the unused time (unless `none`). Both prices must be
 * recurring and in the subscription's currency. Pending items are kept here, by subscription; the
 * Billing engine asks for them when it builds an invoice.
 */
import type Stripe from "stripe";
import { invalidParameter, invalidRequest, resourceMissing } from "./errors.ts";
import type { EventLog } from "./events.ts";
import { newId } from "./ids.ts";
import { addInterval, buildInvoiceLine, planOf, pricingOf } from "./objects.ts";
import type { StripeState } from "./state.ts";

/** How a price change is billed, as `proration_behavior` says. */
export type ProrationBehavior = "create_prorations" | "always_invoice" | "none";

/** What a price change did, for the caller to bill. */
export interface PriceChange {
  /** The proration items created (pending until an invoice takes them). */
  prorations: Stripe.InvoiceItem[];
  /** Whether the change must be invoiced now (always_invoice, or a new billing cycle). */
  invoiceNow: boolean;
  /** The new period when the change reset the billing cycle. */
  newPeriod: { start: number; end: number } | null;
}

/** The prorations and pending invoice items of one account. */
export class PlanSwitches {
  constructor(private readonly state: StripeState, private readonly events: EventLog) {}

  /**
   * Changes `itemId`'s price to `priceId` on `subscription` (not emitting the subscription's
   * update: the caller emits one event for the whole request) and creates the prorations
   * `behavior` asks for, emitting `invoiceitem.created` for each.
   */
  changePrice(
    subscription: Stripe.Subscription,
    itemId: string,
    priceId: string,
    behavior: ProrationBehavior,
  ): PriceChange {
    const item = subscription.items.data.find((each) => each.id === itemId);
    if (!item) throw resourceMissing("subscription_item", itemId, "items[0][id]");
    const price = this.state.prices.get(priceId);
    if (!price) throw resourceMissing("price", priceId, "items[0][price]");
    if (!price.recurring) {
      throw invalidParameter(
        "items[0][price]",
        `The price specified is set to \`type=one_time\` but this field only accepts prices ` +
          `with \`type=recurring\`.`,
      );
    }
    if (price.currency !== subscription.currency) {
      throw invalidRequest(
        `The price specified (${price.id}) uses currency \`${price.currency}\`, but the ` +
          `subscription uses \`${subscription.currency}\`. Prices in one subscription must share ` +
          "a currency.",
        "items[0][price]",
      );
    }
    const old = item.price;
    if (old.id === price.id) return { prorations: [], invoiceNow: false, newPeriod: null };
    const now = this.state.now();
    const sameCycle = old.recurring?.interval === price.recurring.interval &&
      old.recurring?.interval_count === price.recurring.interval_count;
    const start = item.current_period_start;
    const end = item.current_period_end;
    const quantity = item.quantity ?? 1;
    const remaining = Math.max(0, end - now) / Math.max(1, end - start);
    const prorations: Stripe.InvoiceItem[] = [];
    if (behavior !== "none" && remaining > 0) {
      prorations.push(this.prorationItem(subscription, item, old, quantity, {
        amount: -Math.round((old.unit_amount ?? 0) * quantity * remaining),
        description: `Unused time on ${this.productName(old)} after ${dateOf(now)}`,
        period: { start: now, end },
      }));
      if (sameCycle) {
        prorations.push(this.prorationItem(subscription, item, price, quantity, {
          amount: Math.round((price.unit_amount ?? 0) * quantity * remaining),
          description: `Remaining time on ${this.productName(price)} after ${dateOf(now)}`,
          period: { start: now, end },
        }));
      }
    }
    Object.assign(item, { price: structuredClone(price), plan: planOf(price) });
    let newPeriod: PriceChange["newPeriod"] = null;
    if (!sameCycle) {
      newPeriod = {
        start: now,
        end: addInterval(now, price.recurring.interval, price.recurring.interval_count),
      };
      item.current_period_start = newPeriod.start;
      item.current_period_end = newPeriod.end;
      subscription.billing_cycle_anchor = now;
    }
    for (const proration of prorations) this.events.emit("invoiceitem.created", proration);
    return { prorations, invoiceNow: behavior === "always_invoice" || !sameCycle, newPeriod };
  }

  /**
   * Moves `subscription`'s pending invoice items onto `invoice` as lines, updating its amounts
   * (a renewal's, or the invoice a change is billed on).
   */
  attachPending(subscription: Stripe.Subscription, invoice: Stripe.Invoice): void {
    const pending = [...this.state.invoiceItems.values()].filter((item) =>
      item.invoice === null &&
      item.parent?.subscription_details?.subscription === subscription.id
    );
    if (pending.length === 0) return;
    const lines = pending.map((item) => {
      item.invoice = invoice.id;
      return prorationLine(invoice.id, subscription.id, item);
    });
    invoice.lines.data.push(...lines);
    const total = invoice.lines.data.reduce((sum, line) => sum + line.amount, 0);
    // A credit larger than the charge leaves nothing to pay; Stripe keeps the rest as the
    // customer's credit balance (https://docs.stripe.com/billing/customer/balance).
    const due = Math.max(0, total);
    Object.assign(invoice, {
      subtotal: total,
      subtotal_excluding_tax: total,
      total,
      total_excluding_tax: total,
      amount_due: due,
      amount_remaining: due,
      ending_balance: total < 0 ? total : null,
    });
  }

  /** Keeps only the lines of pending items on an invoice that bills a change alone. */
  keepOnlyProrations(invoice: Stripe.Invoice): void {
    invoice.lines.data = [];
  }

  private productName(price: Stripe.Price): string {
    return this.state.products.get(String(price.product))?.name ?? "Subscription";
  }

  private prorationItem(
    subscription: Stripe.Subscription,
    item: Stripe.SubscriptionItem,
    price: Stripe.Price,
    quantity: number,
    fields: { amount: number; description: string; period: { start: number; end: number } },
  ): Stripe.InvoiceItem {
    const invoiceItem = {
      id: newId("ii"),
      object: "invoiceitem",
      amount: fields.amount,
      currency: subscription.currency,
      customer: String(subscription.customer),
      date: this.state.now(),
      description: fields.description,
      discountable: false,
      discounts: [],
      invoice: null,
      livemode: false,
      metadata: {},
      net_amount: fields.amount,
      parent: {
        type: "subscription_details",
        subscription_details: { subscription: subscription.id, subscription_item: item.id },
      },
      period: fields.period,
      pricing: pricingOf(price),
      proration: true,
      proration_details: { discount_amounts: [] },
      quantity,
      tax_rates: [],
      test_clock: null,
    } as unknown as Stripe.InvoiceItem;
    return this.state.add(this.state.invoiceItems, invoiceItem);
  }
}

/** An invoice line for a proration item, in the basil shape. */
function prorationLine(
  invoiceId: string,
  subscriptionId: string,
  item: Stripe.InvoiceItem,
): Stripe.InvoiceLineItem {
  // Only a plan switch makes proration items, and each names the subscription item it prorates.
  const subscriptionItem = item.parent?.subscription_details?.subscription_item;
  if (!subscriptionItem) throw new Error(`invoice item ${item.id} prorates no subscription item`);
  return buildInvoiceLine({
    invoice: invoiceId,
    subscription: subscriptionId,
    amount: item.amount,
    currency: item.currency,
    description: item.description,
    quantity: item.quantity,
    period: item.period,
    parent: {
      type: "subscription_item_details",
      invoice_item_details: null,
      subscription_item_details: {
        invoice_item: item.id,
        proration: true,
        proration_details: { credited_items: null },
        subscription: subscriptionId,
        subscription_item: subscriptionItem,
      },
    },
    pricing: item.pricing,
  });
}

function dateOf(seconds: number): string {
  return new Date(seconds * 1000).toLocaleDateString("en-US", {
    month: "short",
    day: "numeric",
    year: "numeric",
    timeZone: "UTC",
  });
}
