import { crashSetback, nextStepAfter } from "../../functions/_core/job_step.ts";
import { DEFAULT_RETRY_POLICY, retryDelayMs } from "../../functions/_core/role_plan.ts";
import { assertEquals } from "../harness/assert.ts";

const policy = DEFAULT_RETRY_POLICY;

Deno.test("waiting for a rate-limit slot or a 429 is retried after the wait and never counted", () => {
  for (const attempts of [1, policy.maxAttempts, policy.maxAttempts + 3]) {
    assertEquals(nextStepAfter({ kind: "no_slot", waitMs: 700 }, attempts, policy, 0.5), {
      kind: "retry",
      delayMs: 700,
      countsAsAttempt: false,
      error: "waiting for a Discord rate-limit slot",
    });
    assertEquals(
      nextStepAfter({ kind: "rate_limited", retryAfterMs: 2_500 }, attempts, policy, 0.5),
      { kind: "retry", delayMs: 2_500, countsAsAttempt: false, error: "rate limited by Discord" },
    );
  }
});

Deno.test("an outage is retried with backoff, counted, until the policy's attempts are spent", () => {
  const outage = { kind: "unavailable", detail: "Discord answered 503" } as const;
  for (let attempts = 1; attempts < policy.maxAttempts; attempts++) {
    assertEquals(nextStepAfter(outage, attempts, policy, 0.25), {
      kind: "retry",
      delayMs: retryDelayMs(attempts, policy, 0.25),
      countsAsAttempt: true,
      error: "Discord answered 503",
    });
  }
  assertEquals(nextStepAfter(outage, policy.maxAttempts, policy, 0.25), {
    kind: "give_up",
    reason: "gave_up",
    detail: "Discord answered 503",
  });
});

Deno.test("a refusal gives up at once with its reason, on the first attempt", () => {
  assertEquals(
    nextStepAfter(
      { kind: "refused", reason: "missing_permissions", detail: "Discord answered 403" },
      1,
      policy,
      0,
    ),
    { kind: "give_up", reason: "missing_permissions", detail: "Discord answered 403" },
  );
});

Deno.test("a crash of our own is an outage: retried, then given up, never looped on", () => {
  const crash = crashSetback(new Error("bad row"));
  assertEquals(crash, { kind: "unavailable", detail: "crashed: bad row" });
  assertEquals(nextStepAfter(crash, 1, policy, 0).kind, "retry");
  assertEquals(nextStepAfter(crash, policy.maxAttempts, policy, 0), {
    kind: "give_up",
    reason: "gave_up",
    detail: "crashed: bad row",
  });
});
