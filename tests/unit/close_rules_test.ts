import { decideRefund, formatMinorUnits, parseMonth } from "../../functions/_core/close.ts";
import { assertEquals } from "../harness/assert.ts";

Deno.test("minor units read as exact decimals: JPY whole yen, USD cents, KWD thousandths, negatives", () => {
  assertEquals(formatMinorUnits(980, "jpy"), "980");
  assertEquals(formatMinorUnits(1299, "usd"), "12.99");
  assertEquals(formatMinorUnits(5, "usd"), "0.05");
  assertEquals(formatMinorUnits(-5, "usd"), "-0.05");
  assertEquals(formatMinorUnits(1500, "kwd"), "1.500");
  assertEquals(formatMinorUnits(9_007_199_254_740_993n, "usd"), "90071992547409.93");
});

Deno.test("a month is YYYY-MM and nothing else", () => {
  assertEquals(parseMonth("2026-11"), { ok: true, firstDay: "2026-11-01", label: "2026-11" });
  assertEquals(parseMonth("2026-13").ok, false);
  assertEquals(parseMonth("2026-1").ok, false);
});

Deno.test("a refund is allowed inside the window and refused after it or once refunded", () => {
  const paidAt = new Date("2026-11-01T00:00:00Z");
  const windowMs = 24 * 3_600_000;
  assertEquals(
    decideRefund({ paidAt, windowMs, fullyRefunded: false }, new Date("2026-11-01T23:59:00Z")),
    { ok: true },
  );
  assertEquals(
    decideRefund({ paidAt, windowMs, fullyRefunded: false }, new Date("2026-11-03T00:00:00Z")),
    {
      ok: false,
      reason:
        "it was paid 2 days ago (2026-11-01T00:00:00.000Z), outside the guild's refund window of 24 hours",
    },
  );
  assertEquals(decideRefund({ paidAt, windowMs, fullyRefunded: true }, paidAt).ok, false);
});
