import { assertEquals } from "../harness/assert.ts";
import {
  cancellationIdempotencyKey,
  decideReversal,
  disputeStage,
  policyOfSwitch,
  REVERSAL_POLICIES,
  type ReversalPolicy,
  type ReversalStage,
} from "../../functions/_core/refund_dispute_policy.ts";

function effects(stage: ReversalStage, policy: ReversalPolicy) {
  const decision = decideReversal(stage, { refund: policy, dispute: policy });
  return {
    role: decision.role,
    revoke: decision.revoke,
    lift: decision.lift,
    cancel: decision.cancelSubscription,
  };
}

Deno.test("the default policy revokes a full refund and cancels the subscription at once", () => {
  assertEquals(effects("full_refund", "revoke_and_cancel"), {
    role: "revoked",
    revoke: true,
    lift: false,
    cancel: true,
  });
});

Deno.test("revoke_only takes the role for a full refund and leaves the subscription running", () => {
  assertEquals(effects("full_refund", "revoke_only"), {
    role: "revoked",
    revoke: true,
    lift: false,
    cancel: false,
  });
});

Deno.test("a partial refund keeps the role under every policy", () => {
  for (const policy of REVERSAL_POLICIES) {
    assertEquals(effects("partial_refund", policy), {
      role: "kept",
      revoke: false,
      lift: false,
      cancel: false,
    });
  }
});

Deno.test("keep records a full refund or an open or lost dispute and changes nothing", () => {
  for (const stage of ["full_refund", "dispute_opened", "dispute_lost"] as const) {
    assertEquals(effects(stage, "keep"), {
      role: "kept",
      revoke: false,
      lift: false,
      cancel: false,
    });
  }
});

Deno.test("an open dispute revokes but never cancels: it may still be won", () => {
  for (const policy of ["revoke_and_cancel", "revoke_only"] as const) {
    assertEquals(effects("dispute_opened", policy).cancel, false);
    assertEquals(effects("dispute_opened", policy).role, "revoked");
  }
});

Deno.test("a won dispute lifts its revocation and cancels nothing", () => {
  assertEquals(effects("dispute_won", "revoke_and_cancel"), {
    role: "restored",
    revoke: false,
    lift: true,
    cancel: false,
  });
});

Deno.test("a lost dispute stays revoked and cancels only under revoke_and_cancel", () => {
  assertEquals(effects("dispute_lost", "revoke_and_cancel").cancel, true);
  assertEquals(effects("dispute_lost", "revoke_only").cancel, false);
  assertEquals(effects("dispute_lost", "revoke_only").role, "revoked");
});

Deno.test("refunds follow the refund policy and disputes the dispute policy", () => {
  const policies = { refund: "keep", dispute: "revoke_and_cancel" } as const;
  assertEquals(decideReversal("full_refund", policies).role, "kept");
  assertEquals(decideReversal("dispute_lost", policies).cancelSubscription, true);
});

Deno.test("every dispute status Stripe documents has a stage", () => {
  const stages = Object.fromEntries(
    [
      "warning_needs_response",
      "warning_under_review",
      "warning_closed",
      "needs_response",
      "under_review",
      "won",
      "lost",
      "prevented",
    ].map((status) => [status, disputeStage(status)]),
  );
  assertEquals(stages, {
    warning_needs_response: "dispute_opened",
    warning_under_review: "dispute_opened",
    warning_closed: "dispute_won",
    needs_response: "dispute_opened",
    under_review: "dispute_opened",
    won: "dispute_won",
    lost: "dispute_lost",
    prevented: "dispute_won",
  });
});

Deno.test("the old on/off switch maps to the default or to keep", () => {
  assertEquals([policyOfSwitch(true), policyOfSwitch(false)], ["revoke_and_cancel", "keep"]);
});

Deno.test("the cancellation's idempotency key is the refunded charge's or the dispute's", () => {
  assertEquals(cancellationIdempotencyKey("ch_1"), cancellationIdempotencyKey("ch_1"));
  assertEquals(cancellationIdempotencyKey("ch_1") === cancellationIdempotencyKey("du_1"), false);
});
