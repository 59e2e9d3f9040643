/**
 * What a guild's refund and dispute policy does to a member's role and subscription. Pure: the
 * webhook re-reads the charge or the dispute from Stripe and asks here what follows.
 *
 * The default of both policies is `revoke_and_cancel`, because it is the only one that keeps money
 * and role in step without the operator doing anything (DESIGN.md invariant 11):
 * - a full refund takes the role and cancels the subscription at once, so Stripe charges nothing
 *   more for a service the member no longer has;
 * - a dispute takes the role while it is open (the money is withdrawn from the balance at once),
 *   gives it back when the dispute is won, and cancels the subscription when it is lost. The
 *   subscription is not cancelled while the dispute is open: most disputes are won by showing the
 *   service was delivered, and a cancelled subscription cannot be resumed.
 *
 * `revoke_only` takes the role for the refunded or disputed period only and leaves the subscription
 * running: the next paid period brings the role back ({@link revocationInForce} in entitlement.ts
 * decides that). `keep` records the refund or dispute and changes nothing.
 * A partial refund never takes the role: the member still paid for the period.
 */
import { z } from "zod";

/** The policies a guild can choose for full refunds and for disputes. */
export const REVERSAL_POLICIES = ["revoke_and_cancel", "revoke_only", "keep"] as const;

/** A guild's refund or dispute policy, as stored in `guilds.refund_policy` / `dispute_policy`. */
export const reversalPolicy = z.enum(REVERSAL_POLICIES);

/** A guild's refund or dispute policy. */
export type ReversalPolicy = z.infer<typeof reversalPolicy>;

/** The policy that applies when a guild chose none. */
export const DEFAULT_REVERSAL_POLICY: ReversalPolicy = "revoke_and_cancel";

/** The policy that an older on/off switch (`revoke_on_refund`, `revoke_on_dispute`) stands for. */
export function policyOfSwitch(revokes: boolean): ReversalPolicy {
  return revokes ? DEFAULT_REVERSAL_POLICY : "keep";
}

/**
 * Where a refunded charge or a dispute stands, as Stripe reports it when re-read:
 * full or partial refund; a dispute open, won or lost.
 */
export type ReversalStage =
  | "full_refund"
  | "partial_refund"
  | "dispute_opened"
  | "dispute_won"
  | "dispute_lost";

/**
 * The stage of a dispute from its status. An inquiry closed without a chargeback
 * (`warning_closed`) and a dispute prevented before it became one (`prevented`) end like a won
 * dispute: the member keeps the money's worth and the merchant keeps the money.
 * https://docs.stripe.com/api/disputes/object#dispute_object-status
 */
export function disputeStage(status: string): ReversalStage {
  switch (status) {
    case "won":
    case "warning_closed":
    case "prevented":
      return "dispute_won";
    case "lost":
      return "dispute_lost";
    default:
      return "dispute_opened";
  }
}

/** What the policy does to the role: take it, keep it, or give back what a dispute took. */
export type RoleEffect = "revoked" | "kept" | "restored";

/** The policy's decision for one stage of one refunded charge or dispute. */
export interface ReversalDecision {
  stage: ReversalStage;
  policy: ReversalPolicy;
  /** Record a revocation of the role for the period the charge paid. */
  revoke: boolean;
  /** Lift the revocation this dispute recorded. */
  lift: boolean;
  /** Cancel the subscription on Stripe now. */
  cancelSubscription: boolean;
  role: RoleEffect;
}

/**
 * Decides what `stage` does under the guild's policies. Every stage is decided from Stripe's
 * current state, so events that arrive late or twice decide the same thing again.
 */
export function decideReversal(
  stage: ReversalStage,
  policies: { refund: ReversalPolicy; dispute: ReversalPolicy },
): ReversalDecision {
  const policy = stage.endsWith("refund") ? policies.refund : policies.dispute;
  const decision = (
    role: RoleEffect,
    options: { cancel?: boolean; lift?: boolean } = {},
  ): ReversalDecision => ({
    stage,
    policy,
    revoke: role === "revoked",
    lift: options.lift ?? false,
    cancelSubscription: options.cancel ?? false,
    role,
  });

  if (stage === "partial_refund") return decision("kept");
  if (stage === "dispute_won") {
    return decision(policy === "keep" ? "kept" : "restored", { lift: true });
  }
  if (policy === "keep") return decision("kept");
  const cancel = policy === "revoke_and_cancel" && stage !== "dispute_opened";
  return decision("revoked", { cancel });
}

/**
 * The idempotency key of the cancellation a refunded charge or a lost dispute causes, so a retried
 * request never cancels twice whoever sends it.
 */
export function cancellationIdempotencyKey(stripeObjectId: string): string {
  return `rolepass-cancel-after-${stripeObjectId}`;
}
