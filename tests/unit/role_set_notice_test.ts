/**
 * A plan with several roles is told as one change naming every role, in Japanese and English.
 */
import { assertEquals } from "../harness/assert.ts";
import { type RoleNotice, roleNoticeText } from "../../functions/_core/messages/role_notice.ts";

const GOLD = "1400000000000000001";
const SHARED = "1400000000000000002";
const base: RoleNotice = {
  kind: "grant",
  locale: "en",
  guildName: "Lounge",
  plan: { en: { name: "Gold", description: "" }, ja: { name: "ゴールド", description: "" } },
  roleId: GOLD,
  otherRoleIds: [SHARED],
  endsAt: null,
  revokedReason: null,
};

Deno.test("a grant of several roles names each of them", () => {
  assertEquals(
    roleNoticeText(base),
    `Thank you for subscribing to "Gold". You now have the <@&${GOLD}> <@&${SHARED}> roles in Lounge.`,
  );
  assertEquals(
    roleNoticeText({ ...base, locale: "ja" }),
    `「ゴールド」のご購読ありがとうございます。Lounge のロール <@&${GOLD}> <@&${SHARED}> を付与しました。`,
  );
});

Deno.test("a removal of several roles names each of them, and one role reads as before", () => {
  assertEquals(
    roleNoticeText({ ...base, kind: "revoke" }),
    `Your "Gold" subscription has ended, so the <@&${GOLD}> <@&${SHARED}> roles in Lounge have ` +
      "been removed.\nRun /subscribe to join again.",
  );
  assertEquals(
    roleNoticeText({ ...base, kind: "revoke", otherRoleIds: [] }),
    `Your "Gold" subscription has ended, so the <@&${GOLD}> role in Lounge has been removed.\n` +
      "Run /subscribe to join again.",
  );
});
