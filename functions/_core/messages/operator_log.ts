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
  | "member_dms_closed"
  | "member_notice_failed";

/**
 * What a member notice was about, in a few words, by its kind (a role change by what it did).
 * A kind not listed here is left out of the line rather than echoed.
 */
const NOTICE_SUBJECTS: Record<Locale, Record<string, string>> = {
  ja: {
    grant: "ロールの付与",
    restore: "ロールの復元",
    swap: "ロールの入れ替え",
    revoke: "ロールの削除",
    role_change: "ロールの変更",
    payment_failed: "支払いの失敗",
    grace_ending: "猶予期間の終了",
    payment_recovered: "支払いの完了",
    cancel_scheduled: "解約の予約",
    cancel_undone: "解約予約の取り消し",
    plan_changed: "プランの変更",
    trial_ending: "トライアルの終了",
    pass_ended: "パスの終了",
  },
  en: {
    grant: "role granted",
    restore: "role restored",
    swap: "roles swapped",
    revoke: "role removed",
    role_change: "role changed",
    payment_failed: "payment failed",
    grace_ending: "grace period ending",
    payment_recovered: "payment recovered",
    cancel_scheduled: "cancellation scheduled",
    cancel_undone: "cancellation undone",
    plan_changed: "plan changed",
    trial_ending: "trial ending",
    pass_ended: "pass ended",
  },
};

/**
 * Stripe's codes a money line names as its reason (a dispute's status, a refund's or an ended
 * subscription's reason), in words; `null` for a code the line already says (a refund is a
 * refund). A code not listed is shown as Stripe spells it.
 */
const MONEY_REASONS: Record<Locale, Record<string, string | null>> = {
  ja: {
    refund: null,
    requested_by_customer: "お客様のご依頼",
    duplicate: "二重請求",
    fraudulent: "不正利用",
    warning_needs_response: "カード会社からの照会、回答が必要です",
    warning_under_review: "照会を審査中",
    warning_closed: "照会は終了",
    needs_response: "回答が必要です",
    under_review: "審査中",
    won: "勝訴",
    lost: "敗訴",
    prevented: "防止済み",
    canceled: "解約",
  },
  en: {
    refund: null,
    requested_by_customer: "requested by the customer",
    duplicate: "duplicate",
    fraudulent: "fraudulent",
    warning_needs_response: "an inquiry awaiting your response",
    warning_under_review: "inquiry under review",
    warning_closed: "inquiry closed",
    needs_response: "awaiting your response",
    under_review: "under review",
    won: "won",
    lost: "lost",
    prevented: "prevented",
    canceled: "canceled",
  },
};

/** A money line's reason in `locale`'s words, as a parenthesis; "" when there is none to add. */
function moneyReason(code: string | undefined, locale: Locale): string {
  if (!code) return "";
  const words = Object.hasOwn(MONEY_REASONS[locale], code) ? MONEY_REASONS[locale][code] : code;
  if (!words) return "";
  return locale === "ja" ? `（${words}）` : ` (${words})`;
}

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
  const subject = Object.hasOwn(NOTICE_SUBJECTS[locale], facts.noticeKind ?? "")
    ? NOTICE_SUBJECTS[locale][facts.noticeKind ?? ""]
    : undefined;
  if (locale === "ja") {
    const lines: Record<OperatorLogLineKind, string> = {
      new_subscription: `🆕 ${who} が「${plan}」の購読を始めました（${amount}）。`,
      renewal_paid: `💳 ${who} の「${plan}」の更新料金 ${amount} が支払われました。`,
      payment_failed: `⚠️ ${who} の「${plan}」の支払いに失敗しました（${amount}）。` +
        (date ? `猶予期間は ${date} までです。` : ""),
      cancellation_scheduled: `📅 ${who} が「${plan}」の解約を予約しました。${date} に終了します。`,
      subscription_ended: `👋 ${who} の「${plan}」が終了しました${moneyReason(reason, locale)}。`,
      refund: `↩️ ${who} に ${amount} を返金しました${moneyReason(reason, locale)}。`,
      dispute_opened: `🚨 ${who} の支払い ${amount} に異議申し立てがありました${
        moneyReason(reason, locale)
      }。`,
      dispute_closed: `⚖️ ${who} の異議申し立てが終了しました${moneyReason(reason, locale)}。`,
      dispute_recovered:
        `💸 ${who} の異議申し立てで支払いが取り消されたため、このサーバーの売上から ${amount} をプラットフォームに差し戻しました。`,
      webhook_failing: `⚠️ Stripe のイベントの処理が続けて失敗しています（${reason}）。`,
      queue_stalled: `⏳ ロール付与のキューが止まっています（${reason}）。`,
      health_problem: `🩺 問題が見つかりました: ${reason}`,
      health_fixed: `✅ 問題が解決しました: ${reason}`,
      member_dms_closed: `✉️ ${who} は DM を受け付けていないため、お知らせを届けられませんでした。`,
      member_notice_failed: `📭 ${who} へのお知らせ${subject ? `（${subject}）` : ""}` +
        "が届いていない可能性があります。再送はされないため、必要であれば別の方法でお伝えください。",
    };
    return tidyJapaneseSpacing(lines[kind]);
  }
  const lines: Record<OperatorLogLineKind, string> = {
    new_subscription: `🆕 ${who} subscribed to ${plan} (${amount}).`,
    renewal_paid: `💳 ${who} paid ${amount} to renew ${plan}.`,
    payment_failed: `⚠️ ${who}'s payment of ${amount} for ${plan} failed.` +
      (date ? ` Their grace period runs until ${date}.` : ""),
    cancellation_scheduled: `📅 ${who} scheduled ${plan} to cancel; it ends on ${date}.`,
    subscription_ended: `👋 ${who}'s ${plan} ended${moneyReason(reason, locale)}.`,
    refund: `↩️ ${who} was refunded ${amount}${moneyReason(reason, locale)}.`,
    dispute_opened: `🚨 ${who} disputed a payment of ${amount}${moneyReason(reason, locale)}.`,
    dispute_closed: `⚖️ ${who}'s dispute closed${moneyReason(reason, locale)}.`,
    dispute_recovered:
      `💸 ${who}'s payment was taken back by a dispute, so ${amount} of this server's sales went back to the platform.`,
    webhook_failing: `⚠️ A Stripe event keeps failing (${reason}).`,
    queue_stalled: `⏳ The role queue is stalled (${reason}).`,
    health_problem: `🩺 Problem found: ${reason}`,
    health_fixed: `✅ Fixed: ${reason}`,
    member_dms_closed: `✉️ ${who} does not accept DMs, so a notice could not reach them.`,
    member_notice_failed: `📭 A notice to ${who}${subject ? ` (${subject})` : ""} may not have ` +
      "reached them. It will not be sent again; let them know another way if it matters.",
  };
  return lines[kind];
}
