/** The operator log line for a member notice that failed for good (member_notice_failed). */
import { LOCALES } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { noticeMessage, parseNotice } from "../../functions/_core/notices.ts";

const MEMBER = "1300000000000000000";

/** The log line an operator notice row becomes, as role-sync sends it. */
function logLine(locale: string, payload: Record<string, unknown>): string {
  const parsed = parseNotice({
    audience: "operator",
    kind: "member_notice_failed",
    locale,
    payload,
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return noticeMessage(parsed.notice, { via: "channel", nonce: "n" }).content ?? "";
}

Deno.test("the line names the member and what the notice was about, in Japanese", () => {
  assertEquals(
    logLine("ja", { memberId: MEMBER, noticeKind: "revoke" }),
    `📭 <@${MEMBER}> へのお知らせ（ロールの削除）が届いていない可能性があります。` +
      "再送はされないため、必要であれば別の方法でお伝えください。",
  );
});

Deno.test("the line names the member and what the notice was about, in English", () => {
  assertEquals(
    logLine("en", { memberId: MEMBER, noticeKind: "payment_failed" }),
    `📭 A notice to <@${MEMBER}> (payment failed) may not have reached them. ` +
      "It will not be sent again; let them know another way if it matters.",
  );
});

Deno.test("a notice kind the log does not know is left out of the line, not echoed", () => {
  for (const locale of LOCALES) {
    const line = logLine(locale, { memberId: MEMBER, noticeKind: "x_<@&1>_unknown" });
    assert(line.includes(`<@${MEMBER}>`), line);
    assert(!line.includes("unknown") && !line.includes("（") && !line.includes("("), line);
  }
});
