/**
 * The member's message when role-sync changes their role, and the operator's alert.
 */
import {
  operatorAlertMessage,
  type RoleNotice,
  roleNoticeMessage,
  roleNoticeText,
} from "../../functions/_core/messages/role_notice.ts";
import { assert, assertEquals } from "../harness/assert.ts";

const base: RoleNotice = {
  kind: "grant",
  locale: "en",
  guildName: "Tea House",
  plan: { en: { name: "Gold", description: "" }, ja: { name: "ゴールド", description: "" } },
  roleId: "300000000000000001",
  endsAt: null,
  revokedReason: null,
};

Deno.test("a grant names the plan, the role and the server in the member's language", () => {
  assertEquals(
    roleNoticeText(base),
    'Thank you for subscribing to "Gold". You now have the <@&300000000000000001> role in Tea House.',
  );
  const ja = roleNoticeText({ ...base, locale: "ja" });
  assert(ja.includes("「ゴールド」") && ja.includes("Tea House"), ja);
});

Deno.test("a grant with a scheduled cancel names the date as a Discord timestamp", () => {
  const endsAt = new Date("2030-01-31T00:00:00Z");
  const en = roleNoticeText({ ...base, endsAt });
  assert(en.includes(`<t:${endsAt.getTime() / 1000}:D>`), en);
  assert(roleNoticeText({ ...base, locale: "ja", endsAt }).includes("まで有効"));
});

Deno.test("a revoke says why: ended, refunded or disputed", () => {
  const ended = roleNoticeText({ ...base, kind: "revoke" });
  assert(ended.startsWith('Your "Gold" subscription has ended'), ended);
  assert(roleNoticeText({ ...base, kind: "revoke", revokedReason: "refund" }).includes("refunded"));
  assert(
    roleNoticeText({ ...base, kind: "revoke", locale: "ja", revokedReason: "dispute" })
      .includes("異議申し立て"),
  );
});

Deno.test("a plan without display text falls back to a generic name", () => {
  assert(roleNoticeText({ ...base, plan: null }).includes('"subscription"'));
  assert(roleNoticeText({ ...base, plan: null, locale: "ja" }).includes("サブスクリプション"));
});

Deno.test("English is used when the plan has no Japanese name", () => {
  const text = roleNoticeText({
    ...base,
    locale: "ja",
    plan: { en: { name: "Gold", description: "" } },
  });
  assert(text.includes("「Gold」"), text);
});

Deno.test("follow-ups are ephemeral, DMs are not, and neither mentions anyone", () => {
  const followup = roleNoticeMessage(base, { ephemeral: true });
  assertEquals(followup.flags, 64);
  assertEquals(followup.allowed_mentions, { parse: [] });
  assertEquals(roleNoticeMessage(base, { ephemeral: false }).flags, undefined);
});

Deno.test("the operator alert says what failed, why, and how to re-run it", () => {
  const alert = operatorAlertMessage({
    locale: "en",
    action: "grant",
    roleId: "300000000000000001",
    memberId: "400000000000000001",
    reason: "missing_permissions",
    detail: "Discord answered 403 (code 50013)",
    jobId: 7,
  });
  assert(alert.content?.includes("move the bot's role up"), alert.content);
  assert(alert.content?.includes("retry_failed_role_jobs"));
  assertEquals(alert.allowed_mentions, { parse: [] });
});
