import { assert, assertEquals } from "../harness/assert.ts";
import {
  decideEntitlement,
  type EntitlementInput,
  pickDrivingSubscription,
  revocationInForce,
  scheduledCancelAt,
} from "../../functions/_core/entitlement.ts";
import { SUBSCRIPTION_STATUSES } from "../../functions/_core/stripe_shapes.ts";

const DAY = 86_400_000;
const now = new Date("2026-11-21T12:00:00Z");
const periodStart = new Date(now.getTime() - 2 * DAY);
const periodEnd = new Date(now.getTime() + 28 * DAY);
const noGrace = { pastDueGraceMs: 0 };
const weekGrace = { pastDueGraceMs: 7 * DAY };

function subscription(overrides: Partial<EntitlementInput> = {}): EntitlementInput {
  return {
    status: "active",
    cancelAt: null,
    cancelAtPeriodEnd: false,
    currentPeriodStart: periodStart,
    currentPeriodEnd: periodEnd,
    ...overrides,
  };
}

Deno.test("active and trialing subscriptions entitle without a time limit", () => {
  for (const status of ["active", "trialing"] as const) {
    const decision = decideEntitlement(subscription({ status }), noGrace, now);
    assertEquals(decision, {
      entitled: true,
      entitledUntil: null,
      pastDueSince: null,
      scheduledCancelAt: null,
      reason: null,
    });
  }
});

Deno.test("incomplete never entitles, even with a grace period", () => {
  const decision = decideEntitlement(subscription({ status: "incomplete" }), weekGrace, now);
  assertEquals([decision.entitled, decision.reason], [false, "incomplete"]);
});

Deno.test("canceled, unpaid, incomplete_expired and paused revoke", () => {
  for (const status of ["canceled", "unpaid", "incomplete_expired", "paused"] as const) {
    const decision = decideEntitlement(subscription({ status }), weekGrace, now);
    assertEquals([decision.entitled, decision.reason], [false, status], status);
  }
});

Deno.test("every Stripe status has a decision and only active, trialing and past_due can entitle", () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    const decision = decideEntitlement(subscription({ status }), weekGrace, now);
    assertEquals(decision.entitled, ["active", "trialing", "past_due"].includes(status), status);
  }
});

Deno.test("past_due without a grace period revokes at once", () => {
  const decision = decideEntitlement(subscription({ status: "past_due" }), noGrace, now);
  assertEquals([decision.entitled, decision.reason], [false, "past_due"]);
  assertEquals(decision.pastDueSince, periodStart);
});

Deno.test("past_due inside the grace period entitles until the grace ends", () => {
  const decision = decideEntitlement(subscription({ status: "past_due" }), weekGrace, now);
  assert(decision.entitled);
  assertEquals(decision.pastDueSince, periodStart);
  assertEquals(decision.entitledUntil, new Date(periodStart.getTime() + 7 * DAY));
});

Deno.test("past_due after the grace period has ended revokes with grace_period_ended", () => {
  const later = new Date(periodStart.getTime() + 7 * DAY);
  const decision = decideEntitlement(subscription({ status: "past_due" }), weekGrace, later);
  assertEquals([decision.entitled, decision.reason], [false, "grace_period_ended"]);
});

Deno.test("a classic scheduled cancel keeps the role until the period ends", () => {
  const decision = decideEntitlement(
    subscription({ cancelAtPeriodEnd: true, cancelAt: periodEnd }),
    noGrace,
    now,
  );
  assert(decision.entitled);
  assertEquals(decision.scheduledCancelAt, periodEnd);
  assertEquals(decision.entitledUntil, periodEnd);
});

Deno.test("a flexible scheduled cancel (cancel_at only) keeps the role until cancel_at", () => {
  const cancelAt = new Date(now.getTime() + 5 * DAY);
  const decision = decideEntitlement(subscription({ cancelAt }), noGrace, now);
  assert(decision.entitled);
  assertEquals([decision.scheduledCancelAt, decision.entitledUntil], [cancelAt, cancelAt]);
});

Deno.test("cancel_at_period_end without cancel_at (legacy shape) is read as a cancel at period end", () => {
  assertEquals(scheduledCancelAt(subscription({ cancelAtPeriodEnd: true })), periodEnd);
});

Deno.test("a scheduled cancel whose time has passed no longer entitles", () => {
  const decision = decideEntitlement(
    subscription({ cancelAt: new Date(now.getTime() - 1000) }),
    noGrace,
    now,
  );
  assertEquals([decision.entitled, decision.reason], [false, "scheduled_cancel_took_effect"]);
});

Deno.test("a grace period ends at the scheduled cancel when that comes first", () => {
  const cancelAt = new Date(now.getTime() + DAY);
  const decision = decideEntitlement(
    subscription({ status: "past_due", cancelAt }),
    weekGrace,
    now,
  );
  assertEquals(decision.entitledUntil, cancelAt);
});

Deno.test("a refund or a dispute revokes an active subscription at once", () => {
  for (const revocation of ["refund", "dispute"] as const) {
    const decision = decideEntitlement(subscription(), noGrace, now, revocation);
    assertEquals([decision.entitled, decision.reason], [false, revocation]);
  }
});

Deno.test("the entitling subscription drives the membership over a newer ended one", () => {
  const entitled = decideEntitlement(subscription(), noGrace, now);
  const ended = decideEntitlement(subscription({ status: "canceled" }), noGrace, now);
  const picked = pickDrivingSubscription([
    { id: "sub_old", createdAt: new Date(1), status: "active", decision: entitled },
    { id: "sub_new", createdAt: new Date(2), status: "canceled", decision: ended },
  ]);
  assertEquals(picked?.id, "sub_old");
});

Deno.test("without an entitling subscription the most recent one drives, whatever the list order", () => {
  const ended = decideEntitlement(subscription({ status: "canceled" }), noGrace, now);
  const a = { id: "sub_a", createdAt: new Date(1), status: "canceled", decision: ended };
  const b = { id: "sub_b", createdAt: new Date(2), status: "canceled", decision: ended };
  const c = { id: "sub_c", createdAt: new Date(2), status: "canceled", decision: ended };
  assertEquals(pickDrivingSubscription([a, b, c])?.id, "sub_c");
  assertEquals(pickDrivingSubscription([c, b, a])?.id, "sub_c");
  assertEquals(pickDrivingSubscription([]), null);
});

Deno.test("a subscription that has not ended drives over an ended one of the same second", () => {
  // Bought again right after a cancel, then paused or disputed: neither entitles.
  const ended = decideEntitlement(subscription({ status: "canceled" }), noGrace, now);
  const paused = decideEntitlement(subscription({ status: "paused" }), noGrace, now);
  const disputed = decideEntitlement(subscription(), noGrace, now, "dispute");
  for (const [status, decision] of [["paused", paused], ["active", disputed]] as const) {
    const again = { id: "sub_a", createdAt: new Date(2), status, decision };
    const canceled = { id: "sub_z", createdAt: new Date(2), status: "canceled", decision: ended };
    assertEquals(pickDrivingSubscription([canceled, again])?.id, "sub_a", status);
    assertEquals(pickDrivingSubscription([again, canceled])?.id, "sub_a", status);
  }
});

Deno.test("a refund or dispute revokes only while the subscription is in the period it covers", () => {
  const refundThisPeriod = { reason: "refund" as const, coversPeriodEnd: periodEnd };
  assertEquals(revocationInForce(subscription(), [refundThisPeriod]), "refund");
  const renewed = subscription({ currentPeriodEnd: new Date(periodEnd.getTime() + 30 * DAY) });
  assertEquals(revocationInForce(renewed, [refundThisPeriod]), null);
});

Deno.test("a revocation of unknown period revokes for the subscription's life", () => {
  const renewed = subscription({ currentPeriodEnd: new Date(periodEnd.getTime() + 300 * DAY) });
  assertEquals(revocationInForce(renewed, [{ reason: "refund", coversPeriodEnd: null }]), "refund");
});

Deno.test("a dispute in force is reported before a refund in force", () => {
  const both = [
    { reason: "refund" as const, coversPeriodEnd: periodEnd },
    { reason: "dispute" as const, coversPeriodEnd: periodEnd },
  ];
  assertEquals(revocationInForce(subscription(), both), "dispute");
  assertEquals(revocationInForce(subscription(), []), null);
});
