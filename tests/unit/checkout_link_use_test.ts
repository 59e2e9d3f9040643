import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  checkLinkLife,
  checkoutSessionExpiry,
  decideLinkUse,
  type LinkState,
} from "../../functions/checkout/link_use.ts";

const NOW = new Date("2026-11-21T12:00:00Z");
const live: LinkState = {
  purpose: "join",
  expiresAt: new Date("2026-11-21T12:10:00Z"),
  usedAt: null,
};
const PLAN = "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10";
const OTHER_PLAN = "8c1f9b4f-5b4a-4c4c-8e8f-2a7d3e6c9b21";

Deno.test("a link is judged by existence, purpose and expiry before anything else", () => {
  assertEquals(checkLinkLife(null, "join", NOW), { ok: false, problem: "unknown_token" });
  assertEquals(checkLinkLife(live, "manage", NOW), { ok: false, problem: "wrong_purpose" });
  assertEquals(checkLinkLife({ ...live, expiresAt: NOW }, "join", NOW), {
    ok: false,
    problem: "expired_token",
  });
  assertEquals(checkLinkLife({ ...live, usedAt: NOW }, "join", NOW), { ok: true });
});

Deno.test("a fresh link may open one session", () => {
  assertEquals(decideLinkUse(live, [], { kind: "checkout", planId: PLAN }), {
    ok: true,
    replay: false,
  });
  assertEquals(decideLinkUse(live, [], { kind: "portal" }), { ok: true, replay: false });
});

Deno.test("asking a used link for the same open session replays it", () => {
  const used = { ...live, usedAt: NOW };
  const opened = [{ kind: "checkout" as const, planId: PLAN, status: "open" as const }];
  assertEquals(decideLinkUse(used, opened, { kind: "checkout", planId: PLAN }), {
    ok: true,
    replay: true,
  });
  const portal = [{ kind: "portal" as const, planId: null, status: "open" as const }];
  assertEquals(decideLinkUse(used, portal, { kind: "portal" }), { ok: true, replay: true });
});

Deno.test("a used link refuses another plan, another kind, and a session that has ended", () => {
  const used = { ...live, usedAt: NOW };
  const opened = [{ kind: "checkout" as const, planId: PLAN, status: "open" as const }];
  const refused = { ok: false, problem: "used_token" };
  assertEquals(decideLinkUse(used, opened, { kind: "checkout", planId: OTHER_PLAN }), refused);
  assertEquals(decideLinkUse(used, opened, { kind: "portal" }), refused);
  for (const status of ["expired", "completed"] as const) {
    assertEquals(
      decideLinkUse(used, [{ ...first(opened, "an opened attempt"), status }], {
        kind: "checkout",
        planId: PLAN,
      }),
      refused,
    );
  }
  assertEquals(decideLinkUse(used, [], { kind: "checkout", planId: PLAN }), refused);
});

const SECONDS = (iso: string) => Date.parse(iso) / 1000;

Deno.test("a Checkout session ends 32 minutes after its link, the same for every replay", () => {
  const link = { createdAt: new Date("2026-11-21T11:55:00Z"), expiresAt: live.expiresAt };
  const expiry = checkoutSessionExpiry(link, NOW);
  assertEquals(expiry, SECONDS("2026-11-21T12:42:00Z"));
  // A retry later in the link's life sends the same value (Stripe's idempotency compares them).
  assertEquals(checkoutSessionExpiry(link, new Date("2026-11-21T12:09:59Z")), expiry);
  assertEquals(
    checkoutSessionExpiry({ ...link, expiresAt: new Date(live.expiresAt.getTime() + 300) }, NOW),
    expiry + 1,
  );
});

Deno.test("a link configured to live for days still gets a session inside Stripe's 24 hours", () => {
  const createdAt = new Date("2026-11-21T12:00:00Z");
  const expiresAt = new Date("2026-11-24T12:00:00Z");
  assertEquals(
    checkoutSessionExpiry({ createdAt, expiresAt }, createdAt),
    SECONDS("2026-11-22T11:55:00Z"),
  );
});

Deno.test("a day-long link used in its last minutes still gets at least 31 minutes of Checkout", () => {
  const createdAt = new Date("2026-11-21T12:00:00Z");
  const expiresAt = new Date("2026-11-22T12:00:00Z");
  for (const usedAt of ["2026-11-22T11:30:00Z", "2026-11-22T11:50:00Z", "2026-11-22T11:59:59Z"]) {
    const now = new Date(usedAt);
    assertEquals(checkoutSessionExpiry({ createdAt, expiresAt }, now), SECONDS(usedAt) + 31 * 60);
  }
});

Deno.test("every expiry stays inside Stripe's window, with margin, whatever the link and the clock", () => {
  const base = Date.parse("2026-11-21T12:00:00Z");
  for (const ttlMinutes of [1, 15, 60, 6 * 60, 23 * 60, 24 * 60, 3 * 24 * 60]) {
    for (const usedAfter of [0, 0.25, 0.5, 0.9, 0.99, 1]) {
      const createdAt = new Date(base);
      const expiresAt = new Date(base + ttlMinutes * 60_000);
      const now = new Date(base + Math.floor(ttlMinutes * usedAfter) * 60_000);
      const ahead = checkoutSessionExpiry({ createdAt, expiresAt }, now) - now.getTime() / 1000;
      const label = `ttl ${ttlMinutes} min, used after ${usedAfter}`;
      assert(ahead >= 31 * 60, `${label}: ${ahead} s ahead`);
      assert(ahead <= 23 * 3600 + 55 * 60, `${label}: ${ahead} s ahead`);
    }
  }
});
