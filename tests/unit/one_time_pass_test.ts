import { assertEquals } from "../harness/assert.ts";
import {
  longestLivePass,
  passAccessUntil,
  type StoredPass,
  withPasses,
} from "../../functions/_core/one_time_pass.ts";

const now = new Date("2026-12-02T00:00:00Z");
const day = 86_400_000;
const thirtyDays = { kind: "duration", seconds: 30 * 86_400, iso: "P30D" } as const;

function pass(fields: Partial<StoredPass>): StoredPass {
  return {
    planId: "plan-pass",
    roleIds: ["1187654321098765501"],
    status: "active",
    accessUntil: new Date(now.getTime() + 10 * day),
    ...fields,
  };
}

const notEntitled = { entitled: false, roleIds: [], planId: null, until: null };

Deno.test("a 30-day pass ends 30 days after its payment, and a renewal adds to a live pass", () => {
  assertEquals(passAccessUntil(thirtyDays, now), new Date(now.getTime() + 30 * day));
  const liveUntil = new Date(now.getTime() + 5 * day);
  assertEquals(
    passAccessUntil(thirtyDays, now, liveUntil),
    new Date(liveUntil.getTime() + 30 * day),
  );
  assertEquals(
    passAccessUntil(thirtyDays, now, new Date(now.getTime() - day)),
    new Date(now.getTime() + 30 * day),
  );
  assertEquals(passAccessUntil({ kind: "lifetime" }, now), null);
});

Deno.test("an expired, refunded or disputed pass holds nothing; a lifetime pass outlasts any other", () => {
  assertEquals(longestLivePass([pass({ accessUntil: now })], now), null);
  assertEquals(longestLivePass([pass({ status: "refunded" })], now), null);
  assertEquals(longestLivePass([pass({ status: "disputed" })], now), null);
  const lifetime = pass({ accessUntil: null, planId: "plan-lifetime" });
  assertEquals(longestLivePass([pass({}), lifetime], now), lifetime);
});

Deno.test("a live pass holds its plan's roles until it ends when no subscription entitles", () => {
  assertEquals(withPasses(notEntitled, [pass({})], now), {
    entitled: true,
    roleIds: ["1187654321098765501"],
    planId: "plan-pass",
    until: new Date(now.getTime() + 10 * day),
    byPassOnly: true,
  });
  assertEquals(withPasses(notEntitled, [pass({ status: "refunded" })], now).entitled, false);
});

Deno.test("a pass adds its roles to a subscription's, and the entitlement lasts as long as either", () => {
  const renewing = {
    entitled: true,
    roleIds: ["1187654321098765502"],
    planId: "plan-sub",
    until: null,
  };
  const held = withPasses(renewing, [pass({})], now);
  assertEquals(held.roleIds, ["1187654321098765502", "1187654321098765501"]);
  assertEquals([held.until, held.planId, held.byPassOnly], [null, "plan-sub", false]);
  const ending = { ...renewing, until: new Date(now.getTime() + 2 * day) };
  assertEquals(withPasses(ending, [pass({})], now).until, new Date(now.getTime() + 10 * day));
  assertEquals(withPasses(ending, [pass({ accessUntil: null })], now).until, null);
});
