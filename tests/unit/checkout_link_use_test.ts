import { assertEquals } from "../harness/assert.ts";
import {
  checkLinkLife,
  checkoutSessionExpiry,
  decideLinkUse,
  hasLiveSubscription,
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
      decideLinkUse(used, [{ ...opened[0], status }], { kind: "checkout", planId: PLAN }),
      refused,
    );
  }
  assertEquals(decideLinkUse(used, [], { kind: "checkout", planId: PLAN }), refused);
});

Deno.test("a live subscription is entitled now or one Stripe could still charge", () => {
  assertEquals(hasLiveSubscription(null), false);
  const none = { entitled: false, stripeSubscriptionId: null, status: null };
  assertEquals(hasLiveSubscription(none), false);
  assertEquals(hasLiveSubscription({ ...none, entitled: true }), true);
  for (const status of ["active", "trialing", "past_due", "unpaid", "paused"]) {
    assertEquals(hasLiveSubscription({ ...none, stripeSubscriptionId: "sub_1", status }), true);
  }
  for (const status of ["canceled", "incomplete", "incomplete_expired"]) {
    assertEquals(hasLiveSubscription({ ...none, stripeSubscriptionId: "sub_1", status }), false);
  }
});

Deno.test("a Checkout session ends 30 minutes after its link, the same for every replay", () => {
  const link = { createdAt: new Date("2026-11-21T11:55:00Z"), expiresAt: live.expiresAt };
  const expiry = checkoutSessionExpiry(link);
  assertEquals(expiry, Date.parse("2026-11-21T12:40:00Z") / 1000);
  assertEquals(
    checkoutSessionExpiry({ ...link, expiresAt: new Date(live.expiresAt.getTime() + 300) }),
    expiry + 1,
  );
});

Deno.test("a link configured to live for days still gets a session within Stripe's 24 hours", () => {
  const createdAt = new Date("2026-11-21T12:00:00Z");
  const expiresAt = new Date("2026-11-24T12:00:00Z");
  assertEquals(
    checkoutSessionExpiry({ createdAt, expiresAt }),
    Date.parse("2026-11-22T11:59:00Z") / 1000,
  );
});
