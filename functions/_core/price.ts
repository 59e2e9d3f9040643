/**
 * How a plan's price reads on the plan page and in Discord: amount with its currency, and how
 * often it is charged. The amount's decimals come from Stripe's currency lists (`currency.ts`).
 */
import { z } from "zod";
import { displayedDecimals, toMajorUnits } from "./currency.ts";
import type { Locale } from "./locale.ts";

/** How often a subscription renews, as Stripe names it (a price's `recurring.interval`). */
export const billingIntervalSchema = z.enum(["day", "week", "month", "year"]);

/** How often a subscription renews, as Stripe names it. */
export type BillingInterval = z.infer<typeof billingIntervalSchema>;

/** What the price formatting needs from a plan. */
export interface PlanPrice {
  /** Amount in the currency's smallest unit, as Stripe stores it. */
  unitAmount: number;
  /** Lower-case ISO currency code, as Stripe stores it (`jpy`, `usd`). */
  currency: string;
  interval: BillingInterval;
  /** Renews every `intervalCount` intervals (1 = every month, 3 = every 3 months). */
  intervalCount: number;
}

const INTL_LOCALE: Record<Locale, string> = { ja: "ja-JP", en: "en-US" };

// Building an Intl.NumberFormat costs far more than formatting with one, and /subscribe formats
// prices on every call: keep one per (locale, currency).
const amountFormats = new Map<string, Intl.NumberFormat>();

/**
 * Formats a Stripe amount for `locale`: 500 JPY -> "￥500" (ja) or "¥500" (en); 500 USD -> "$5.00";
 * 1500 KWD -> "KWD 1.500".
 */
export function formatAmount(unitAmount: number, currency: string, locale: Locale): string {
  const decimals = displayedDecimals(currency);
  const key = `${locale}:${currency.toUpperCase()}`;
  let format = amountFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(INTL_LOCALE[locale], {
      style: "currency",
      currency: currency.toUpperCase(),
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    amountFormats.set(key, format);
  }
  return format.format(toMajorUnits(unitAmount, currency));
}

const JA_UNIT: Record<BillingInterval, string> = {
  day: "日",
  week: "週間",
  month: "か月",
  year: "年",
};
const JA_EVERY_ONE: Record<BillingInterval, string> = {
  day: "毎日",
  week: "毎週",
  month: "毎月",
  year: "毎年",
};

/** "per month" / "every 3 months" (en), "毎月" / "3か月ごと" (ja). */
export function formatInterval(
  interval: BillingInterval,
  intervalCount: number,
  locale: Locale,
): string {
  if (locale === "ja") {
    return intervalCount === 1
      ? JA_EVERY_ONE[interval]
      : `${intervalCount}${JA_UNIT[interval]}ごと`;
  }
  return intervalCount === 1 ? `per ${interval}` : `every ${intervalCount} ${interval}s`;
}

/** The price line of a plan: "￥500 / 毎月" (ja) or "¥500 per month" (en). */
export function formatPlanPrice(price: PlanPrice, locale: Locale): string {
  const amount = formatAmount(price.unitAmount, price.currency, locale);
  const interval = formatInterval(price.interval, price.intervalCount, locale);
  return locale === "ja" ? `${amount} / ${interval}` : `${amount} ${interval}`;
}
