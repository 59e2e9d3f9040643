/** `/rolepass onboarding`'s answers in Japanese and English: private, mentioning nobody. */
import assert from "node:assert/strict";
import { onboardingReply } from "../../functions/_core/messages/onboarding.ts";

const URL_TEXT = "https://connect.stripe.com/setup/e/acct_1/abc";
const EXPIRES = new Date("2027-01-31T03:05:00Z");
/** The answer's text. */
const text = (...args: Parameters<typeof onboardingReply>) =>
  onboardingReply(...args).data.content ?? "";

const link = {
  kind: "link",
  url: URL_TEXT,
  expiresAt: EXPIRES,
  standing: "not_connected",
} as const;

Deno.test("the link is sent privately, with when it stops working, in both languages", () => {
  for (const locale of ["en", "ja"] as const) {
    const reply = onboardingReply(link, locale);
    assert.equal(reply.data.flags, 64, "ephemeral");
    assert.deepEqual(reply.data.allowed_mentions, { parse: [] });
    assert.ok((reply.data.content ?? "").includes(URL_TEXT));
    assert.ok((reply.data.content ?? "").includes(`<t:${EXPIRES.getTime() / 1000}:t>`));
  }
  assert.match(text(link, "en"), /works once.*Don't share it/);
  assert.match(
    text(link, "ja"),
    /1回だけ使えます。ほかの人には共有しないでください/,
  );
});

Deno.test("a server that already sells is told the link only updates its details", () => {
  const selling = { ...link, standing: "selling" } as const;
  assert.match(text(selling, "en"), /already takes payments/);
  assert.match(text(selling, "ja"), /すでに支払いを受け付けています/);
  assert.doesNotMatch(text(link, "en"), /already takes payments/);
});

Deno.test("a standalone deployment is told onboarding is for platform deployments only", () => {
  assert.match(
    text({ kind: "standalone" }, "en"),
    /^Onboarding applies only to platform deployments \(ROLEPASS_STRIPE_MODE=platform\)/,
  );
  assert.match(
    text({ kind: "standalone" }, "ja"),
    /プラットフォーム型の運用（ROLEPASS_STRIPE_MODE=platform）でだけ使います/,
  );
});

Deno.test("no link, for want of settings or of Stripe, says why and what to do", () => {
  assert.match(
    text({ kind: "not_configured" }, "en"),
    /role-sync needs STRIPE_SECRET_KEY and PUBLIC_SITE_URL/,
  );
  assert.match(
    text({ kind: "stripe_unavailable", detail: "HTTP 503" }, "ja"),
    /Stripeに接続できなかったため（HTTP 503）、リンクは作っていません/,
  );
  assert.match(
    text({ kind: "use_task", guildId: "100000000000000001" }, "en"),
    /deno task connect -- onboard --guild 100000000000000001/,
  );
});
