/**
 * The operator's money lines (refund, dispute opened and closed, subscription ended) say their
 * reason in the guild's language: Stripe's codes (`warning_needs_response`, `won`, `canceled`, the
 * refund's own `refund`) are words, never echoed into a Japanese line or as a snake_case code.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  type OperatorLogLineKind,
  operatorLogText,
} from "../../functions/_core/messages/operator_log.ts";

/** What the ledger's trigger passes as each money line's reason (queue_money_notices). */
const CASES: (readonly [OperatorLogLineKind, string])[] = [
  ["refund", "refund"],
  ["subscription_ended", "canceled"],
  ["dispute_closed", "won"],
  ...[
    "warning_needs_response",
    "warning_under_review",
    "warning_closed",
    "needs_response",
    "under_review",
    "won",
    "lost",
    "prevented",
  ].map((status) => ["dispute_opened", status] as const),
];

const FACTS = { memberId: "400000000000000001", amount: "¥980", planName: "Gold" };

Deno.test("a Japanese money line names no Stripe code", () => {
  for (const [kind, reason] of CASES) {
    const line = operatorLogText(kind, "ja", { ...FACTS, planName: "ゴールド", reason });
    assert(!/[a-z]{3,}/.test(line), `${kind} (${reason}): ${line}`);
  }
});

Deno.test("an English money line says its reason in words, not as a code", () => {
  for (const [kind, reason] of CASES) {
    const line = operatorLogText(kind, "en", { ...FACTS, reason });
    assert(!/[a-z]+_[a-z]+/.test(line), `${kind} (${reason}): ${line}`);
  }
});

Deno.test("a refund line says the refund once, and a reason Stripe adds in words", () => {
  assertEquals(
    operatorLogText("refund", "en", { ...FACTS, reason: "refund" }),
    "↩️ <@400000000000000001> was refunded ¥980.",
  );
  assertEquals(
    operatorLogText("refund", "ja", { ...FACTS, reason: "requested_by_customer" }),
    "↩️ <@400000000000000001> に ¥980 を返金しました（お客様のご依頼）。",
  );
});
