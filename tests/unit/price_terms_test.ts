import { assertEquals } from "../harness/assert.ts";
import { formatPassAccess, formatPlanTerms } from "../../functions/_core/price.ts";

const pass = (accessSeconds: number | null) =>
  ({ kind: "pass", unitAmount: 3000, currency: "jpy", accessSeconds }) as const;

Deno.test("a pass reads as one-time with its length, or for life", () => {
  assertEquals(formatPlanTerms(pass(30 * 86_400), "en"), "¥3,000 one-time · 30 days");
  assertEquals(formatPlanTerms(pass(30 * 86_400), "ja"), "￥3,000 / 1回払い・30日間");
  assertEquals(formatPlanTerms(pass(null), "en"), "¥3,000 one-time · lifetime");
  assertEquals(formatPlanTerms(pass(null), "ja"), "￥3,000 / 1回払い・無期限");
  assertEquals(formatPassAccess(86_400, "en"), "1 day");
  assertEquals(formatPassAccess(12 * 3_600, "ja"), "12時間");
});

Deno.test("with Stripe Tax a yen price says it includes tax (税込), a foreign one what it excludes", () => {
  const monthly = {
    kind: "subscription",
    unitAmount: 500,
    currency: "jpy",
    interval: "month",
    intervalCount: 1,
  } as const;
  assertEquals(formatPlanTerms(monthly, "ja", "included"), "￥500 / 毎月（税込）");
  assertEquals(formatPlanTerms(monthly, "en", "included"), "¥500 per month, tax included");
  assertEquals(formatPlanTerms(pass(null), "ja", "included"), "￥3,000 / 1回払い・無期限（税込）");
  assertEquals(
    formatPlanTerms({ ...monthly, currency: "usd" }, "en", "excluded"),
    "$5.00 per month, plus tax",
  );
  assertEquals(formatPlanTerms(monthly, "ja"), "￥500 / 毎月");
});
