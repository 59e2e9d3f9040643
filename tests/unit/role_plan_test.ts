/**
 * The pure role-sync rules: which roles to change, what Discord's answers mean, backoff.
 */
import {
  classifyNoticeAnswer,
  classifyRoleAnswer,
  DEFAULT_RETRY_POLICY,
  planRoleChanges,
  retryDelayMs,
  shouldGiveUp,
} from "../../functions/_core/role_plan.ts";
import { assert, assertEquals } from "../harness/assert.ts";

const GOLD = "300000000000000001";
const SILVER = "300000000000000002";

const response = (status: number, code: number | null = null) => ({
  kind: "response" as const,
  status,
  code,
});

Deno.test("a first grant adds the plan's role and removes nothing", () => {
  assertEquals(
    planRoleChanges({ roleIds: [GOLD], managedRoleIds: [GOLD], previousRoleIds: [] }),
    { add: [GOLD], remove: [], kind: "grant" },
  );
});

Deno.test("a plan change adds the new role and removes the old one", () => {
  assertEquals(
    planRoleChanges({
      roleIds: [SILVER],
      managedRoleIds: [GOLD, SILVER],
      previousRoleIds: [GOLD],
    }),
    { add: [SILVER], remove: [GOLD], kind: "swap" },
  );
});

Deno.test("a revoke removes every role rolepass managed for the member", () => {
  assertEquals(
    planRoleChanges({
      roleIds: [],
      managedRoleIds: [SILVER, GOLD, GOLD],
      previousRoleIds: [SILVER],
    }),
    { add: [], remove: [GOLD, SILVER], kind: "revoke" },
  );
});

Deno.test("a re-grant after a swap keeps removing the old role but tells a grant", () => {
  assertEquals(
    planRoleChanges({
      roleIds: [SILVER],
      managedRoleIds: [GOLD, SILVER],
      previousRoleIds: [],
    }),
    { add: [SILVER], remove: [GOLD], kind: "grant" },
  );
});

Deno.test("nothing to do for a member who never had a managed role and is not entitled", () => {
  assertEquals(
    planRoleChanges({ roleIds: [], managedRoleIds: [], previousRoleIds: [] }).kind,
    "none",
  );
});

Deno.test("204 is done and 10007 means the member left the guild", () => {
  assertEquals(classifyRoleAnswer(response(204)), { kind: "done" });
  assertEquals(classifyRoleAnswer(response(404, 10007)), { kind: "member_not_in_guild" });
});

Deno.test("unknown role, missing permissions, 401 and 403 are refused for good", () => {
  const reasons = [
    classifyRoleAnswer(response(404, 10011)),
    classifyRoleAnswer(response(403, 50013)),
    classifyRoleAnswer(response(401, 0)),
    classifyRoleAnswer(response(403)),
    classifyRoleAnswer(response(400, 50035)),
  ].map((outcome) => outcome.kind === "refused" ? outcome.reason : outcome.kind);
  assertEquals(reasons, [
    "unknown_role",
    "missing_permissions",
    "unauthorized",
    "forbidden",
    "invalid_request",
  ]);
});

Deno.test("a 429 waits retry_after and says whether it was global", () => {
  assertEquals(
    classifyRoleAnswer({ ...response(429), retryAfterMs: 1234, global: true }),
    { kind: "rate_limited", retryAfterMs: 1234, global: true },
  );
  assertEquals(
    classifyRoleAnswer(response(429)),
    { kind: "rate_limited", retryAfterMs: 1000, global: false },
  );
});

Deno.test("5xx answers, timeouts and network errors are worth another attempt", () => {
  for (
    const answer of [response(500), response(502), { kind: "timeout" as const }, {
      kind: "network" as const,
      message: "connection reset",
    }]
  ) {
    assertEquals(classifyRoleAnswer(answer).kind, "unavailable");
  }
});

Deno.test("a notice is sent, blocked by closed DMs, falls back on a dead token, or is uncertain", () => {
  assertEquals(classifyNoticeAnswer(response(200)).kind, "sent");
  assertEquals(classifyNoticeAnswer(response(403, 50007)).kind, "dms_closed");
  assertEquals(classifyNoticeAnswer(response(401, 50027)).kind, "token_dead");
  assertEquals(classifyNoticeAnswer(response(404, 10015)).kind, "token_dead");
  assertEquals(classifyNoticeAnswer(response(503)).kind, "unknown");
  assertEquals(classifyNoticeAnswer({ kind: "timeout" }).kind, "unknown");
  assertEquals(classifyNoticeAnswer(response(429)).kind, "rate_limited");
  assertEquals(classifyNoticeAnswer(response(400, 50035)).kind, "not_sent");
});

Deno.test("backoff doubles per attempt, is capped, and keeps half of it fixed", () => {
  const policy = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 6_000 };
  assertEquals([1, 2, 3, 4, 5].map((n) => retryDelayMs(n, policy, 0)), [
    500,
    1_000,
    2_000,
    3_000,
    3_000,
  ]);
  assertEquals([1, 2, 3, 4].map((n) => retryDelayMs(n, policy, 0.999999)), [
    1_000,
    2_000,
    4_000,
    6_000,
  ]);
  for (let attempt = 1; attempt < 20; attempt++) {
    const delay = retryDelayMs(attempt, DEFAULT_RETRY_POLICY, Math.random());
    assert(delay <= DEFAULT_RETRY_POLICY.maxDelayMs);
  }
});

Deno.test("a job gives up once it has made the maximum number of attempts", () => {
  const policy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 };
  assertEquals([1, 2, 3, 4].map((n) => shouldGiveUp(n, policy)), [false, false, true, true]);
});
