/**
 * One short line per operator log kind, in the guild's language: who (a mention that pings
 * nobody), which plan, how much and why. Nothing a member would not want the server's operators
 * to see: no email, no card, no Stripe secret.
 */
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { Locale } from "../locale.ts";

/** The facts a line may name (all optional: a health problem names no member). */
export interface OperatorLogFacts {
  memberId?: string;
  planName?: string;
  amount?: string;
  reason?: string;
  at?: Date;
  noticeKind?: string;
}

/** Operator log kinds this module words (role failures have their own alert). */
export type OperatorLogLineKind =
  | "new_subscription"
  | "renewal_paid"
  | "payment_failed"
  | "cancellation_scheduled"
  | "subscription_ended"
  | "refund"
  | "dispute_opened"
  | "dispute_closed"
  | "dispute_recovered"
  | "webhook_failing"
  | "queue_stalled"
  | "health_problem"
  | "health_fixed"
  | "member_dms_closed";

/** The text of one operator log line. */
export function operatorLogText(
  kind: OperatorLogLineKind,
  locale: Locale,
  facts: OperatorLogFacts,
): string {
  const who = facts.memberId ? `<@${facts.memberId}>` : "";
  const date = facts.at ? `<t:${Math.floor(facts.at.getTime() / 1000)}:D>` : "";
  const plan = facts.planName ?? "";
  const amount = facts.amount ?? "";
  const reason = facts.reason ?? "";
  if (locale === "ja") {
    const lines: Record<OperatorLogLineKind, string> = {
      new_subscription: `🆕 ${who} が「${plan}」の購読を始めました（${amount}）。`,
      renewal_paid: `💳 ${who} の「${plan}」の更新料金 ${amount} が支払われました。`,
      payment_failed: `⚠️ ${who} の「${plan}」の支払いに失敗しました（${amount}）。` +
        (date ? `猶予期間は ${date} までです。` : ""),
      cancellation_scheduled: `📅 ${who} が「${plan}」の解約を予約しました。${date} に終了します。`,
      subscription_ended: `👋 ${who} の「${plan}」が終了しました（${reason}）。`,
      refund: `↩️ ${who} に ${amount} を返金しました（${reason}）。`,
      dispute_opened: `🚨 ${who} の支払い ${amount} に異議申し立てがありました（${reason}）。`,
      dispute_closed: `⚖️ ${who} の異議申し立てが終了しました（${reason}）。`,
      dispute_recovered:
        `💸 ${who} の異議申し立てで支払いが取り消されたため、このサーバーの売上から ${amount} をプラットフォームに差し戻しました。`,
      webhook_failing: `⚠️ Stripe のイベントの処理が続けて失敗しています（${reason}）。`,
      queue_stalled: `⏳ ロール付与のキューが止まっています（${reason}）。`,
      health_problem: `🩺 問題が見つかりました: ${reason}`,
      health_fixed: `✅ 問題が解決しました: ${reason}`,
      member_dms_closed: `✉️ ${who} は DM を受け付けていないため、お知らせを届けられませんでした。`,
    };
    return tidyJapaneseSpacing(lines[kind]);
  }
  const lines: Record<OperatorLogLineKind, string> = {
    new_subscription: `🆕 ${who} subscribed to ${plan} (${amount}).`,
    renewal_paid: `💳 ${who} paid ${amount} to renew ${plan}.`,
    payment_failed: `⚠️ ${who}'s payment of ${amount} for ${plan} failed.` +
      (date ? ` Their grace period runs until ${date}.` : ""),
    cancellation_scheduled: `📅 ${who} scheduled ${plan} to cancel; it ends on ${date}.`,
    subscription_ended: `👋 ${who}'s ${plan} ended (${reason}).`,
    refund: `↩️ ${who} was refunded ${amount} (${reason}).`,
    dispute_opened: `🚨 ${who} disputed a payment of ${amount} (${reason}).`,
    dispute_closed: `⚖️ ${who}'s dispute closed (${reason}).`,
    dispute_recovered:
      `💸 ${who}'s payment was taken back by a dispute, so ${amount} of this server's sales went back to the platform.`,
    webhook_failing: `⚠️ A Stripe event keeps failing (${reason}).`,
    queue_stalled: `⏳ The role queue is stalled (${reason}).`,
    health_problem: `🩺 Problem found: ${reason}`,
    health_fixed: `✅ Fixed: ${reason}`,
    member_dms_closed: `✉️ ${who} does not accept DMs, so a notice could not reach them.`,
  };
  return lines[kind];
}
