/**
 * The message a member gets when a one-time pass runs out: what ended, the roles it took, and how
 * to buy it again, in the member's language; never the words of a subscription that ended.
 */
import { assertEquals } from "../harness/assert.ts";
import { memberTimelineText } from "../../functions/_core/messages/member_timeline.ts";
import { parseNotice } from "../../functions/_core/notices.ts";

const plan = {
  en: { name: "30-day pass", description: "" },
  ja: { name: "30日パス", description: "" },
};
const facts = {
  guildName: "Rolepass Lounge",
  plan,
  at: new Date("2026-12-31T00:00:00Z"),
  roleIds: ["1200000000000000000"],
};

Deno.test("a pass that ran out is told in English with its role and the way to buy it again", () => {
  assertEquals(
    memberTimelineText("pass_ended", "en", facts),
    'Your "30-day pass" in Rolepass Lounge has run out, so the <@&1200000000000000000> ' +
      "role has been removed.\nRun /subscribe to buy it again.",
  );
  assertEquals(
    memberTimelineText("pass_ended", "en", {
      ...facts,
      roleIds: ["1200000000000000000", "1200000000000000001"],
    }),
    'Your "30-day pass" in Rolepass Lounge has run out, so the <@&1200000000000000000> ' +
      "<@&1200000000000000001> roles have been removed.\nRun /subscribe to buy it again.",
  );
});

Deno.test("a pass that ran out is told in Japanese with its role and the way to buy it again", () => {
  assertEquals(
    memberTimelineText("pass_ended", "ja", facts),
    "Rolepass Lounge の「30日パス」の有効期間が終了したため、ロール <@&1200000000000000000> " +
      "を外しました。\nもう一度購入するには /subscribe を実行してください。",
  );
});

Deno.test("the pass_ended notice the sweep queues is read with its roles", () => {
  const parsed = parseNotice({
    audience: "member",
    kind: "pass_ended",
    locale: "ja",
    payload: {
      guildName: "Rolepass Lounge",
      plan,
      at: "2026-12-31T00:00:00Z",
      roleIds: ["1200000000000000000"],
    },
  });
  assertEquals(parsed.ok && parsed.notice.kind, "pass_ended");
  assertEquals(
    parsed.ok && parsed.notice.audience === "member" && parsed.notice.kind !== "role_change" &&
      parsed.notice.payload.roleIds,
    ["1200000000000000000"],
  );
});
