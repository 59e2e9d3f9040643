import { assert, assertEquals } from "../harness/assert.ts";
import {
  displayedDecimals,
  minorUnitExponent,
  THREE_DECIMAL_CURRENCIES,
  toMajorUnits,
  ZERO_DECIMAL_CURRENCIES,
} from "../../functions/_core/currency.ts";
import { formatAmount } from "../../functions/_core/price.ts";

// Stripe's lists as its currency page gives them (https://docs.stripe.com/currencies).
const STRIPE_ZERO_DECIMAL = "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF";
const STRIPE_THREE_DECIMAL = "BHD JOD KWD OMR TND";
const codes = (list: string) => list.toLowerCase().split(" ");

Deno.test("the currency tables hold exactly Stripe's zero-decimal and three-decimal lists", () => {
  assertEquals([...ZERO_DECIMAL_CURRENCIES].sort(), codes(STRIPE_ZERO_DECIMAL));
  assertEquals([...THREE_DECIMAL_CURRENCIES].sort(), codes(STRIPE_THREE_DECIMAL));
});

Deno.test("every zero-decimal currency shows its amount as whole units, in any case of code", () => {
  for (const code of codes(STRIPE_ZERO_DECIMAL)) {
    assertEquals(minorUnitExponent(code), 0, code);
    assertEquals(minorUnitExponent(code.toUpperCase()), 0, code);
    assertEquals(toMajorUnits(500, code), 500, code);
    for (const locale of ["en", "ja"] as const) {
      const shown = formatAmount(12500, code, locale);
      assert(
        shown.includes("12,500") && !/12,500[.,]\d/.test(shown),
        `${code} ${locale}: ${shown}`,
      );
    }
  }
  assertEquals(formatAmount(500, "jpy", "en"), "¥500");
  assertEquals(formatAmount(500, "JPY", "ja"), "￥500");
  assertEquals(formatAmount(50000, "krw", "en"), "₩50,000");
  assertEquals(formatAmount(1000, "ugx", "en"), "UGX\u00a01,000");
});

Deno.test("every three-decimal currency shows thousandths", () => {
  for (const code of codes(STRIPE_THREE_DECIMAL)) {
    assertEquals(minorUnitExponent(code), 3, code);
    assertEquals(toMajorUnits(1500, code), 1.5, code);
    for (const locale of ["en", "ja"] as const) {
      const shown = formatAmount(1500, code, locale);
      assert(shown.endsWith("1.500"), `${code} ${locale}: ${shown}`);
    }
  }
  assertEquals(formatAmount(1500, "kwd", "en"), "KWD\u00a01.500");
});

Deno.test("other currencies are two-decimal, and ISK shows whole krónur of a two-decimal amount", () => {
  assertEquals(minorUnitExponent("usd"), 2);
  assertEquals(minorUnitExponent("eur"), 2);
  assertEquals(formatAmount(500, "usd", "en"), "$5.00");
  // Stripe keeps ISK two-decimal in its API and only charges whole krónur: 500 is 5 ISK.
  assertEquals(minorUnitExponent("isk"), 2);
  assertEquals(displayedDecimals("isk"), 0);
  assertEquals(formatAmount(50000, "isk", "en"), "ISK\u00a0500");
});
