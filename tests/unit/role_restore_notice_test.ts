/**
 * A role given back to a member who already pays (they rejoined, or a moderator removed it) is
 * told as a restore: the member is not thanked for a subscription they bought long ago.
 */
import { ROLE_REPAIR_CAUSES, roleChangeNoticeKind } from "../../functions/_core/notices.ts";
import { type RoleNotice, roleNoticeText } from "../../functions/_core/messages/role_notice.ts";
import { assert, assertEquals } from "../harness/assert.ts";

const restore: RoleNotice = {
  kind: "restore",
  locale: "en",
  guildName: "Tea House",
  plan: { en: { name: "Gold", description: "" }, ja: { name: "ゴールド", description: "" } },
  roleId: "300000000000000001",
  endsAt: null,
  revokedReason: null,
};

Deno.test("a grant queued by /subscribe's or reconciliation's repair is told as a restore", () => {
  assertEquals(roleChangeNoticeKind("grant", "member_asked_role_missing"), "restore");
  assertEquals(roleChangeNoticeKind("grant", "reconciliation_missing_role"), "restore");
  assertEquals([...ROLE_REPAIR_CAUSES].sort(), [
    "member_asked_role_missing",
    "reconciliation_missing_role",
  ]);
});

Deno.test("a grant from a payment, a swap and a revoke keep their own messages", () => {
  assertEquals(roleChangeNoticeKind("grant", "stripe_sync"), "grant");
  assertEquals(roleChangeNoticeKind("swap", "reconciliation_missing_role"), "swap");
  assertEquals(roleChangeNoticeKind("revoke", "member_asked_role_missing"), "revoke");
});

Deno.test("the restore message says the role is back because the subscription is active, without thanks", () => {
  const en = roleNoticeText(restore);
  assertEquals(
    en,
    'Your "Gold" subscription is still active, so the <@&300000000000000001> role in Tea House has been given back to you.',
  );
  assert(!en.includes("Thank you"), en);
  const ja = roleNoticeText({ ...restore, locale: "ja" });
  assertEquals(
    ja,
    "「ゴールド」のご購読が続いているため、Tea House のロール <@&300000000000000001> を付け直しました。",
  );
  assert(!ja.includes("ありがとう"), ja);
});

Deno.test("a restore during a scheduled cancel names the date the role ends", () => {
  const endsAt = new Date("2030-01-31T00:00:00Z");
  assert(roleNoticeText({ ...restore, endsAt }).includes(`<t:${endsAt.getTime() / 1000}:D>`));
  assert(roleNoticeText({ ...restore, locale: "ja", endsAt }).includes("まで有効"));
});
