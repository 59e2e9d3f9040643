import { assertEquals } from "../harness/assert.ts";
import { memberStanding, type StandingFacts } from "../../functions/_core/member_standing.ts";

const AT = new Date("2027-01-31T00:00:00Z");
const base: StandingFacts = {
  status: "active",
  entitled: true,
  revokedReason: null,
  cancelAt: null,
  entitledUntil: null,
  currentPeriodEnd: AT,
};

Deno.test("a refund or dispute revocation comes before whatever Stripe's status says", () => {
  assertEquals(
    memberStanding({ ...base, entitled: false, revokedReason: "refund" }).kind,
    "refunded",
  );
  assertEquals(
    memberStanding({ ...base, status: "past_due", entitled: false, revokedReason: "dispute" }).kind,
    "disputed",
  );
});

Deno.test("past due keeps its grace end while the role stays, and is unpaid-like after it", () => {
  assertEquals(memberStanding({ ...base, status: "past_due", entitledUntil: AT }), {
    kind: "past_due_in_grace",
    until: AT,
  });
  assertEquals(memberStanding({ ...base, status: "past_due", entitled: false }).kind, "past_due");
});

Deno.test("a scheduled cancel, a trial and a plain active subscription are told apart", () => {
  assertEquals(memberStanding({ ...base, cancelAt: AT }), { kind: "cancel_scheduled", endsAt: AT });
  assertEquals(memberStanding({ ...base, status: "trialing" }), {
    kind: "trialing",
    trialEndsAt: AT,
  });
  assertEquals(memberStanding(base).kind, "active");
  assertEquals(memberStanding({ ...base, status: "canceled", entitled: false }).kind, "inactive");
  assertEquals(memberStanding({ ...base, status: "paused", entitled: false }).kind, "paused");
  assertEquals(memberStanding({ ...base, status: "unpaid", entitled: false }).kind, "unpaid");
});
