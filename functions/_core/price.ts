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

/** How a plan sells its role, as the plan page and `/subscribe` show it. */
export type PlanTerms =
  | ({ kind: "subscription" } & PlanPrice)
  | {
    kind: "pass";
    unitAmount: number;
    currency: string;
    /** How long the pass lasts after the payment, in seconds; null for life. */
    accessSeconds: number | null;
  };

/**
 * Whether the shown amount includes tax, when Stripe Tax is on: Japanese law requires the total a
 * consumer pays to be shown (総額表示), so a yen price is always shown as tax-included (税込).
 */
export type TaxDisplay = "included" | "excluded" | null;

/** How long a pass lasts: "30日間" / "30 days", "12時間" / "12 hours", "無期限" / "lifetime". */
export function formatPassAccess(accessSeconds: number | null, locale: Locale): string {
  if (accessSeconds === null) return locale === "ja" ? "無期限" : "lifetime";
  const [count, ja, en] = accessSeconds % 86_400 === 0
    ? [accessSeconds / 86_400, "日間", "day"]
    : accessSeconds % 3_600 === 0
    ? [accessSeconds / 3_600, "時間", "hour"]
    : [Math.ceil(accessSeconds / 60), "分間", "minute"];
  if (locale === "ja") return `${count}${ja}`;
  return count === 1 ? `1 ${en}` : `${count} ${en}s`;
}

const TAX_NOTE: Record<Locale, Record<"included" | "excluded", string>> = {
  ja: { included: "（税込）", excluded: "（税別）" },
  en: { included: ", tax included", excluded: ", plus tax" },
};

/**
 * The price line of any plan: "￥500 / 毎月（税込）" or "¥500 per month, tax included" for a
 * subscription, "￥3,000 / 1回払い・30日間" or "¥3,000 one-time · 30 days" for a pass.
 */
export function formatPlanTerms(terms: PlanTerms, locale: Locale, tax: TaxDisplay = null): string {
  const note = tax ? TAX_NOTE[locale][tax] : "";
  if (terms.kind === "subscription") return formatPlanPrice(terms, locale) + note;
  const amount = formatAmount(terms.unitAmount, terms.currency, locale);
  const access = formatPassAccess(terms.accessSeconds, locale);
  return (locale === "ja" ? `${amount} / 1回払い・${access}` : `${amount} one-time · ${access}`) +
    note;
}
