/**
 * Where a member's subscription stands, as `/subscribe` tells it: decided once here from the
 * stored membership (Stripe's status, the entitlement, a refund or dispute revocation, a
 * scheduled cancel, the end of a grace period).
 *
 * @module
 */

/** A member's standing, most pressing first. */
export type MemberStanding =
  | { kind: "refunded" }
  | { kind: "disputed" }
  /** A renewal failed; the role stays until `until` (the grace period's end). */
  | { kind: "past_due_in_grace"; until: Date | null }
  /** A renewal failed and the grace period is over (or there is none). */
  | { kind: "past_due" }
  | { kind: "unpaid" }
  | { kind: "paused" }
  | { kind: "cancel_scheduled"; endsAt: Date }
  /** In a free trial; charged from `trialEndsAt`. */
  | { kind: "trialing"; trialEndsAt: Date | null }
  | { kind: "active" }
  /** Any other state without the role (ended, incomplete). */
  | { kind: "inactive" };

/** The stored facts the standing is read from. */
export interface StandingFacts {
  status: string | null;
  entitled: boolean;
  revokedReason: "refund" | "dispute" | null;
  /** When a scheduled cancel takes effect. */
  cancelAt: Date | null;
  /** When the entitlement runs out without another event (grace end, scheduled cancel). */
  entitledUntil: Date | null;
  currentPeriodEnd: Date | null;
}

/** Decides the member's standing. */
export function memberStanding(facts: StandingFacts): MemberStanding {
  if (facts.revokedReason === "refund") return { kind: "refunded" };
  if (facts.revokedReason === "dispute") return { kind: "disputed" };
  switch (facts.status) {
    case "past_due":
      return facts.entitled
        ? { kind: "past_due_in_grace", until: facts.entitledUntil }
        : { kind: "past_due" };
    case "unpaid":
      return { kind: "unpaid" };
    case "paused":
      return { kind: "paused" };
  }
  if (!facts.entitled) return { kind: "inactive" };
  if (facts.cancelAt) return { kind: "cancel_scheduled", endsAt: facts.cancelAt };
  if (facts.status === "trialing") {
    return { kind: "trialing", trialEndsAt: facts.currentPeriodEnd };
  }
  return { kind: "active" };
}
