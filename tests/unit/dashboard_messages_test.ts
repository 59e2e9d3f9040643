/** `/rolepass dashboard`'s answers in Japanese and English: private, mentioning nobody. */
import assert from "node:assert/strict";
import { dashboardReply } from "../../functions/_core/messages/dashboard.ts";

const URL_TEXT = "https://connect.stripe.com/express/Ln_1";
/** The answer's text. */
const text = (...args: Parameters<typeof dashboardReply>) =>
  dashboardReply(...args).data.content ?? "";

Deno.test("the dashboard link is sent privately, single-use, in both languages", () => {
  const link = { kind: "link", url: URL_TEXT } as const;
  for (const locale of ["en", "ja"] as const) {
    const reply = dashboardReply(link, locale);
    assert.equal(reply.data.flags, 64, "ephemeral");
    assert.deepEqual(reply.data.allowed_mentions, { parse: [] });
  }
  assert.match(text(link, "en"), /payouts, statements and exports\): https:.*works once/s);
  assert.match(
    text(link, "ja"),
    /（このサーバーの入金・明細・書き出し）：https:.*1回だけ使えます/s,
  );
});

Deno.test("no dashboard link says why and what to do, in both languages", () => {
  const cases = [
    [{ kind: "not_onboarded" }, "/rolepass onboarding", "/rolepass 売上受取の登録"],
    [{ kind: "standalone" }, "platform deployments", "プラットフォーム型の運用"],
    [{ kind: "not_configured" }, "STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"],
    [{ kind: "stripe_unavailable", detail: "HTTP 503" }, "HTTP 503", "HTTP 503"],
    [{ kind: "use_task", guildId: "100000000000000001" }, "connect -- dashboard", "dashboard"],
  ] as const;
  for (const [result, en, ja] of cases) {
    assert.ok(text(result, "en").includes(en), result.kind);
    assert.ok(text(result, "ja").includes(ja), result.kind);
    assert.ok(!text(result, "ja").includes("https://"), result.kind);
  }
});
