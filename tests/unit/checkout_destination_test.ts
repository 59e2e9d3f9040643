/**
 * Where a platform-mode Checkout's money goes, decided in the core: a subscription takes the
 * guild's fee as a percent of each invoice, a one-time pass as a fixed amount computed from the
 * same percent, rounded to what the currency can charge.
 */
import { assertEquals } from "../harness/assert.ts";
import {
  applicationFeeAmount,
  checkoutDestination,
} from "../../functions/_core/checkout_session.ts";

const seller = { accountId: "acct_1Guild", platformFeePercent: 12.5 };

Deno.test("a pass's fee is the guild's percent of its price, in whole yen for JPY", () => {
  assertEquals(applicationFeeAmount(3000, 12.5, "jpy"), 375);
  // 999 x 12.5% = 124.875 yen: yen has no smaller unit, so the fee is 125 yen.
  assertEquals(applicationFeeAmount(999, 12.5, "jpy"), 125);
  assertEquals(applicationFeeAmount(998, 10.05, "jpy"), 100);
  assertEquals(applicationFeeAmount(500, 0, "jpy"), 0);
  assertEquals(applicationFeeAmount(500, 100, "jpy"), 500);
});

Deno.test("a pass's fee rounds to cents in USD and to whole krónur in ISK", () => {
  // $9.99 x 12.5% = $1.24875 -> $1.25; $0.05 x 0.1% = 0.005 cents -> 0.
  assertEquals(applicationFeeAmount(999, 12.5, "usd"), 125);
  assertEquals(applicationFeeAmount(5, 0.1, "usd"), 0);
  // ISK is two-decimal in Stripe's API but charged in whole krónur: 1,000 kr x 12.5% = 125 kr.
  assertEquals(applicationFeeAmount(100_000, 12.5, "isk"), 12_500);
  assertEquals(applicationFeeAmount(99_900, 12.5, "isk"), 12_500);
});

Deno.test("percents with two decimals give the exact fee, with no floating-point drift", () => {
  // 0.29 x 100 is 28.999999999999996 in floating point; the fee must still be 29 yen of 10,000.
  assertEquals(applicationFeeAmount(10_000, 0.29, "jpy"), 29);
  assertEquals(applicationFeeAmount(10_000, 1.15, "jpy"), 115);
});

Deno.test("a subscription's destination carries the percent, a pass's the amount, standalone none", () => {
  assertEquals(checkoutDestination(seller, { mode: "subscription" }), {
    accountId: "acct_1Guild",
    fee: { percent: 12.5 },
  });
  assertEquals(
    checkoutDestination(seller, { mode: "payment", amount: 999, currency: "jpy" }),
    { accountId: "acct_1Guild", fee: { amount: 125 } },
  );
  assertEquals(checkoutDestination(null, { mode: "payment", amount: 999, currency: "jpy" }), null);
});
