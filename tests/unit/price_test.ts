import { assertEquals } from "../harness/assert.ts";
import { formatAmount, formatInterval, formatPlanPrice } from "../../functions/_core/price.ts";

Deno.test("a yen amount has no minor unit: 500 is five hundred yen", () => {
  assertEquals(formatAmount(500, "jpy", "ja"), "￥500");
  assertEquals(formatAmount(500, "jpy", "en"), "¥500");
  assertEquals(formatAmount(12000, "JPY", "en"), "¥12,000");
});

Deno.test("a dollar amount is in cents and always shows two decimals", () => {
  assertEquals(formatAmount(500, "usd", "en"), "$5.00");
  assertEquals(formatAmount(1999, "usd", "ja"), "$19.99");
  assertEquals(formatAmount(100000, "eur", "en"), "€1,000.00");
});

Deno.test("intervals read naturally in both languages, with counts", () => {
  assertEquals(formatInterval("month", 1, "en"), "per month");
  assertEquals(formatInterval("month", 3, "en"), "every 3 months");
  assertEquals(formatInterval("year", 1, "ja"), "毎年");
  assertEquals(formatInterval("month", 3, "ja"), "3か月ごと");
  assertEquals(formatInterval("week", 2, "ja"), "2週間ごと");
  assertEquals(formatInterval("day", 1, "en"), "per day");
});

Deno.test("a plan's price line combines amount and interval", () => {
  const monthly = {
    unitAmount: 500,
    currency: "jpy",
    interval: "month" as const,
    intervalCount: 1,
  };
  assertEquals(formatPlanPrice(monthly, "ja"), "￥500 / 毎月");
  assertEquals(formatPlanPrice(monthly, "en"), "¥500 per month");
  assertEquals(
    formatPlanPrice(
      { unitAmount: 4800, currency: "usd", interval: "year", intervalCount: 1 },
      "en",
    ),
    "$48.00 per year",
  );
});
