/**
 * The operators' console's pure rules: who may run it, what a stored membership means, and
 * revenue per currency.
 */
import { assertEquals } from "../harness/assert.ts";
import {
  explainEntitlement,
  mayAdminister,
  monthlyRecurringRevenue,
  parseAdminRequest,
  type StoredMembership,
  stripeCustomerUrl,
} from "../../functions/_core/admin.ts";

Deno.test("Manage Server or Administrator may administer; anything else, or nothing, may not", () => {
  assertEquals(mayAdminister("32"), true);
  assertEquals(mayAdminister("8"), true);
  assertEquals(mayAdminister("2147483647"), true);
  assertEquals(mayAdminister(String((1n << 11n) | (1n << 31n))), false);
  assertEquals(mayAdminister("0"), false);
  assertEquals(mayAdminister(undefined), false);
  assertEquals(mayAdminister("-32"), false);
  assertEquals(mayAdminister("0x20"), false);
});

Deno.test("a subcommand is read with its member, and an unknown or malformed one is refused", () => {
  assertEquals(
    parseAdminRequest([{
      name: "status",
      type: 1,
      options: [{ name: "member", type: 6, value: "53908232506183680" }],
    }]),
    { subcommand: "status", memberId: "53908232506183680" },
  );
  assertEquals(parseAdminRequest([{ name: "retry", type: 1 }]), { subcommand: "retry" });
  assertEquals(parseAdminRequest([{ name: "status", type: 1 }]), null);
  assertEquals(
    parseAdminRequest([{
      name: "status",
      type: 1,
      options: [{ name: "member", type: 6, value: "not-an-id" }],
    }]),
    null,
  );
  assertEquals(parseAdminRequest([{ name: "drop_tables", type: 1 }]), null);
  assertEquals(parseAdminRequest(undefined), null);
});

const NOW = new Date("2026-12-02T00:00:00Z");
const BASE: StoredMembership = {
  status: "active",
  currentPeriodEnd: new Date("2026-12-31T00:00:00Z"),
  cancelAt: null,
  cancelAtPeriodEnd: false,
  pastDueSince: null,
  entitled: true,
  revokedReason: null,
  pastDueGraceMs: 0,
};

Deno.test("the entitlement explained is the entitlement rules' own reason", () => {
  assertEquals(explainEntitlement(BASE, NOW), { entitled: true, until: null });
  assertEquals(explainEntitlement({ ...BASE, status: null }, NOW), {
    entitled: false,
    reason: "no_subscription",
  });
  assertEquals(explainEntitlement({ ...BASE, revokedReason: "dispute" }, NOW), {
    entitled: false,
    reason: "dispute",
  });
  const pastDue = { ...BASE, status: "past_due" as const, pastDueSince: new Date("2026-11-20") };
  assertEquals(explainEntitlement(pastDue, NOW), { entitled: false, reason: "past_due" });
  assertEquals(explainEntitlement({ ...pastDue, pastDueGraceMs: 3 * 86_400_000 }, NOW), {
    entitled: false,
    reason: "grace_period_ended",
  });
});

Deno.test("revenue is per currency, monthly, and never added across currencies", () => {
  const revenue = monthlyRecurringRevenue([
    { unitAmount: 500, currency: "jpy", interval: "month", intervalCount: 1 },
    { unitAmount: 1500, currency: "jpy", interval: "month", intervalCount: 3 },
    { unitAmount: 12000, currency: "usd", interval: "year", intervalCount: 1 },
    { unitAmount: 100, currency: "usd", interval: "week", intervalCount: 1 },
  ]);
  assertEquals([...revenue], [["jpy", 1000], ["usd", 1000 + Math.floor(100 * 52 / 12)]]);
});

Deno.test("Stripe Dashboard links keep test customers under /test/", () => {
  assertEquals(
    stripeCustomerUrl("cus_1", true),
    "https://dashboard.stripe.com/test/customers/cus_1",
  );
  assertEquals(stripeCustomerUrl("cus_1", false), "https://dashboard.stripe.com/customers/cus_1");
});
