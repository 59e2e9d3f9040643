/**
 * Why a subscription ended, as the core reads it from Stripe's `cancellation_details.reason` and
 * the sync stores it (`memberships.ended_for`), and what the member is told from it: Stripe's word,
 * not the status the subscription ended from, says whether a payment failed. A member who cancels
 * while a renewal is past due asked for the end and is told it ended.
 */
import { assertEquals } from "../harness/assert.ts";
import {
  roleEndReason,
  SUBSCRIPTION_ENDED_FOR,
  type SubscriptionEndedFor,
  subscriptionEndedFor,
} from "../../functions/_core/entitlement.ts";
import { stripeSubscription, SUBSCRIPTION_STATUSES } from "../../functions/_core/stripe_shapes.ts";

const FIXTURES = new URL("../fixtures/stripe/", import.meta.url);

/** Stripe's documented reasons, and one it may add later. */
const STRIPE_REASONS = [
  null,
  "cancellation_requested",
  "payment_failed",
  "payment_disputed",
  "a_reason_stripe_adds_later",
] as const;

/** What each reason says an ended subscription ended for, written out here, not derived. */
const ENDED_FOR: Record<(typeof STRIPE_REASONS)[number] & string, SubscriptionEndedFor | null> = {
  cancellation_requested: "requested",
  payment_failed: "payment_failed",
  payment_disputed: "dispute",
  a_reason_stripe_adds_later: null,
};

/** The statuses Stripe is done with for good. */
const ENDED = new Set(["canceled", "incomplete_expired"]);

Deno.test("an ended subscription ended for Stripe's reason; a running one, for none", () => {
  for (const status of SUBSCRIPTION_STATUSES) {
    for (const cancellationReason of STRIPE_REASONS) {
      const expected = ENDED.has(status) && cancellationReason !== null
        ? ENDED_FOR[cancellationReason]
        : null;
      assertEquals(
        subscriptionEndedFor({ status, cancellationReason }),
        expected,
        `${status}, ${cancellationReason}`,
      );
    }
  }
  // A scheduled cancel carries cancellation_requested while the subscription still runs.
  assertEquals(
    subscriptionEndedFor({ status: "active", cancellationReason: "cancellation_requested" }),
    null,
  );
  assertEquals(subscriptionEndedFor({ status: null, cancellationReason: "payment_failed" }), null);
});

Deno.test("the database's check lists exactly the reasons the core decides", async () => {
  const decided = new Set(
    Object.values(ENDED_FOR).filter((value): value is SubscriptionEndedFor => value !== null),
  );
  assertEquals([...SUBSCRIPTION_ENDED_FOR].sort(), [...decided].sort());
  const migration = await Deno.readTextFile(
    new URL("../../supabase/migrations/20261203100000_subscription_ended_for.sql", import.meta.url),
  );
  const listed = SUBSCRIPTION_ENDED_FOR.map((value) => `'${value}'`).join(", ");
  assertEquals(migration.includes(`check (ended_for in (${listed}))`), true, listed);
});

Deno.test("Stripe's subscription is read with its cancellation reason", async () => {
  const fixture = JSON.parse(
    await Deno.readTextFile(new URL("openapi/resources/subscription.json", FIXTURES)),
  );
  assertEquals(stripeSubscription.parse(fixture).cancellationReason, null);
  const ended = stripeSubscription.parse({
    ...fixture,
    status: "canceled",
    cancellation_details: { ...fixture.cancellation_details, reason: "payment_failed" },
  });
  assertEquals(ended.cancellationReason, "payment_failed");
  assertEquals(subscriptionEndedFor(ended), "payment_failed");
  // A legacy payload (API version 2020-03-02) has no cancellation_details at all.
  const legacy = JSON.parse(
    await Deno.readTextFile(new URL("stripe-sync-engine/subscription_deleted.json", FIXTURES)),
  );
  const legacySubscription = stripeSubscription.parse(legacy.data.object);
  assertEquals(legacySubscription.cancellationReason, null);
  assertEquals(subscriptionEndedFor(legacySubscription), null);
});

Deno.test("the member is told why from the stored reason, not the status it ended from", () => {
  const ended = {
    revokedReason: null,
    status: "canceled",
    changeCause: "customer.subscription.deleted",
  };
  // Retries that ran out: the payment did not go through.
  assertEquals(roleEndReason({ ...ended, endedFor: "payment_failed" }), "payment_failed");
  // Cancelled by the member, also while a renewal was past due: an ordinary end.
  assertEquals(roleEndReason({ ...ended, endedFor: "requested" }), null);
  // Ended by Stripe for a dispute: told as a dispute is.
  assertEquals(roleEndReason({ ...ended, endedFor: "dispute" }), "dispute");
  // No reason from Stripe: an ordinary end.
  assertEquals(roleEndReason({ ...ended, endedFor: null }), null);
  // A refund or dispute recorded against the subscription is told first, whatever Stripe says.
  for (const endedFor of [null, ...SUBSCRIPTION_ENDED_FOR]) {
    for (const revokedReason of ["refund", "dispute"] as const) {
      assertEquals(roleEndReason({ ...ended, revokedReason, endedFor }), revokedReason);
    }
  }
  // The grace period's end (the sweep, while still past due) stays a failed payment.
  assertEquals(
    roleEndReason({
      revokedReason: null,
      endedFor: null,
      status: "past_due",
      changeCause: "grace_period_ended",
    }),
    "payment_failed",
  );
  // Stripe marked the subscription unpaid when its retries ran out: a failed payment.
  assertEquals(
    roleEndReason({
      revokedReason: null,
      endedFor: null,
      status: "unpaid",
      changeCause: "customer.subscription.updated",
    }),
    "payment_failed",
  );
});
