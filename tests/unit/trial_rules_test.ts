/**
 * Trial rules in the core (_core/trial.ts): one trial per member and guild, Stripe's terms for
 * the plan's card rule, and the first trial's start kept from Stripe's subscriptions.
 */
import { assertEquals } from "../harness/assert.ts";
import { firstTrialStart, type PlanTrial, trialOffer } from "../../functions/_core/trial.ts";

const PLAN: PlanTrial = { days: 14, paymentMethod: "if_required", missingPaymentMethod: "pause" };

Deno.test("a member who never trialed in the guild gets the plan's trial in Stripe's terms", () => {
  assertEquals(trialOffer(PLAN, { trialStartedAt: null }), {
    trialPeriodDays: 14,
    paymentMethodCollection: "if_required",
    missingPaymentMethod: "pause",
  });
  assertEquals(
    trialOffer({ ...PLAN, paymentMethod: "required" }, null)?.paymentMethodCollection,
    "always",
  );
});

Deno.test("a member who trialed once gets no second trial, and a plan without one offers none", () => {
  assertEquals(trialOffer(PLAN, { trialStartedAt: new Date("2027-01-01T00:00:00Z") }), null);
  assertEquals(trialOffer(null, { trialStartedAt: null }), null);
});

Deno.test("the first trial's start is the earliest known, and is never forgotten", () => {
  const early = new Date("2027-01-01T00:00:00Z");
  const late = new Date("2027-02-01T00:00:00Z");
  assertEquals(firstTrialStart(null, []), null);
  assertEquals(firstTrialStart(null, [{ trialStart: null }, { trialStart: late }]), late);
  assertEquals(firstTrialStart(late, [{ trialStart: early }]), early);
  assertEquals(firstTrialStart(early, [{ trialStart: null }]), early);
});
