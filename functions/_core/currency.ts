/**
 * How many decimals Stripe's amounts have, per currency. Stripe stores every amount as an integer
 * in the currency's minor unit and decides itself which currencies have one
 * (https://docs.stripe.com/currencies#minor-units-in-api-amounts): 500 JPY is ¥500, 500 USD is
 * $5.00, 500 KWD is 0.500 KWD. Intl's ISO 4217 data disagrees for a few currencies (ISK, UGX), so
 * the exponent comes from Stripe's lists here, and everything that turns an amount into money
 * (the plan page, Discord messages, the sandbox's Stripe double) reads it from this one place.
 */

/** Stripe's zero-decimal currencies: the amount is in whole units. */
export const ZERO_DECIMAL_CURRENCIES: readonly string[] = [
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "ugx",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
];

/** Stripe's three-decimal currencies: the amount is in thousandths. */
export const THREE_DECIMAL_CURRENCIES: readonly string[] = ["bhd", "jod", "kwd", "omr", "tnd"];

/**
 * Currencies Stripe keeps two-decimal in its API although only whole units can be charged: an
 * amount of 500 ISK is 5 krónur, and Stripe refuses amounts not divisible by 100
 * (https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds).
 */
const WHOLE_UNITS_IN_TWO_DECIMALS: readonly string[] = ["isk"];

/** How many decimals Stripe's minor unit has for `currency`: 0 for JPY, 2 for USD, 3 for KWD. */
export function minorUnitExponent(currency: string): 0 | 2 | 3 {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL_CURRENCIES.includes(code)) return 0;
  if (THREE_DECIMAL_CURRENCIES.includes(code)) return 3;
  return 2;
}

/** How many decimals a price in `currency` shows: the minor unit's, but none for ISK. */
export function displayedDecimals(currency: string): number {
  return WHOLE_UNITS_IN_TWO_DECIMALS.includes(currency.toLowerCase())
    ? 0
    : minorUnitExponent(currency);
}

/** A Stripe amount in the currency's major unit: 500 JPY -> 500, 500 USD -> 5, 500 KWD -> 0.5. */
export function toMajorUnits(amount: number, currency: string): number {
  return amount / 10 ** minorUnitExponent(currency);
}
