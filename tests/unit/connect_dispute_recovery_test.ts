/** The core's rule for a lost dispute on a guild's destination charge (functions/_core/connect.ts). */
import assert from "node:assert/strict";
import { lostDisputeRecovery } from "../../functions/_core/connect.ts";

const wholeTransfer = { amount: 1000, reversed: 0 };
const keepFee = { recovery: "amount_and_fee", refundApplicationFee: false } as const;

Deno.test("only a lost dispute is recovered", () => {
  for (const status of ["won", "needs_response", "under_review", "warning_closed"]) {
    const decision = lostDisputeRecovery(
      { status, amount: 1000, fee: 1500 },
      wholeTransfer,
      keepFee,
    );
    assert.equal(decision.recover, false, status);
  }
});

Deno.test("the disputed amount is taken back, and the fee only as far as the transfer reaches", () => {
  assert.deepEqual(
    lostDisputeRecovery({ status: "lost", amount: 1000, fee: 1500 }, wholeTransfer, keepFee),
    { recover: true, reverseAmount: 1000, refundApplicationFee: false, notRecovered: 1500 },
  );
  assert.deepEqual(
    lostDisputeRecovery({ status: "lost", amount: 600, fee: 300 }, wholeTransfer, keepFee),
    { recover: true, reverseAmount: 900, refundApplicationFee: false, notRecovered: 0 },
  );
  assert.deepEqual(
    lostDisputeRecovery({ status: "lost", amount: 600, fee: 300 }, wholeTransfer, {
      recovery: "amount",
      refundApplicationFee: true,
    }),
    { recover: true, reverseAmount: 600, refundApplicationFee: true, notRecovered: 0 },
  );
});

Deno.test("a guild whose policy recovers nothing, or whose transfer is gone, gives nothing back", () => {
  const none = lostDisputeRecovery({ status: "lost", amount: 1000, fee: 1500 }, wholeTransfer, {
    recovery: "none",
    refundApplicationFee: true,
  });
  assert.equal(none.recover, false);
  const reversed = lostDisputeRecovery(
    { status: "lost", amount: 1000, fee: 1500 },
    { amount: 1000, reversed: 1000 },
    keepFee,
  );
  assert.equal(reversed.recover, false);
});
