/**
 * What the bot tells a member about their subscription between role changes: a failed renewal
 * (what happened, until when they keep the role, how to fix it), the reminder before the grace
 * period ends, the recovery, a scheduled cancellation and its undo, a plan change that keeps the
 * role, a trial ending soon, a one-time pass that ran out. In Japanese and English; dates are Discord timestamp markup, which
 * each client shows in the reader's language and time zone. Never a link token or a secret:
 * `/subscribe` gives the member their own portal link.
 */
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { Locale } from "../locale.ts";
import type { PlanDisplay } from "../operator_text.ts";

/** Timeline kinds a member is told about. */
export type MemberTimelineKind =
  | "payment_failed"
  | "grace_ending"
  | "payment_recovered"
  | "cancel_scheduled"
  | "cancel_undone"
  | "plan_changed"
  | "trial_ending"
  | "pass_ended";

/** The facts one timeline message names. */
export interface MemberTimelineFacts {
  guildName: string;
  plan: PlanDisplay | null;
  /** Grace end (payment_failed, grace_ending), end date (cancel_scheduled), trial end, the end
   * of a pass. */
  at: Date | null;
  /** The roles taken away with it (pass_ended): the pass's roles no other grant holds. */
  roleIds?: readonly string[];
}

function discordDate(date: Date): string {
  return `<t:${Math.floor(date.getTime() / 1000)}:D>`;
}

/** The text of a member timeline message. */
export function memberTimelineText(
  kind: MemberTimelineKind,
  locale: Locale,
  facts: MemberTimelineFacts,
): string {
  const plan = facts.plan
    ? (locale === "ja" ? facts.plan.ja?.name ?? facts.plan.en.name : facts.plan.en.name)
    : (locale === "ja" ? "サブスクリプション" : "subscription");
  const guild = facts.guildName;
  const at = facts.at ? discordDate(facts.at) : null;
  const roleIds = facts.roleIds ?? [];
  const roles = roleIds.map((id) => `<@&${id}>`).join(" ");
  if (locale === "ja") {
    const text: Record<MemberTimelineKind, string> = {
      payment_failed: `${guild} の「${plan}」の更新料金をお支払いいただけませんでした。` +
        (at ? `ロールは ${at} まで有効です。` : "") +
        `\n/subscribe からお支払い方法を更新すると、そのまま続けられます。`,
      grace_ending: `${guild} の「${plan}」のお支払いがまだ確認できていません。` +
        (at ? `ロールは ${at} に外れます。` : "") +
        `\n/subscribe からお支払い方法を更新してください。`,
      payment_recovered:
        `${guild} の「${plan}」のお支払いを確認しました。引き続きご利用いただけます。`,
      cancel_scheduled: `${guild} の「${plan}」の解約を承りました。` +
        (at ? `ロールは ${at} まで有効です。` : "") +
        `\n取り消すには /subscribe からお手続きください。`,
      cancel_undone:
        `${guild} の「${plan}」の解約予約を取り消しました。引き続きご利用いただけます。`,
      plan_changed: `${guild} のプランが「${plan}」に変わりました。`,
      trial_ending: `${guild} の「${plan}」の無料期間は` +
        (at ? ` ${at} ` : "まもなく") +
        `に終わり、その後は自動で課金されます。\n変更や解約は /subscribe からできます。`,
      pass_ended: `${guild} の「${plan}」の有効期間が終了したため、` +
        (roles ? `ロール ${roles} を外しました。` : "ご利用いただけなくなりました。") +
        `\nもう一度購入するには /subscribe を実行してください。`,
    };
    return tidyJapaneseSpacing(text[kind]);
  }
  const text: Record<MemberTimelineKind, string> = {
    payment_failed: `The renewal payment for "${plan}" in ${guild} failed.` +
      (at ? ` You keep the role until ${at}.` : "") +
      `\nRun /subscribe to update your payment method and keep your subscription.`,
    grace_ending: `We still have no payment for "${plan}" in ${guild}.` +
      (at ? ` The role will be removed on ${at}.` : "") +
      `\nRun /subscribe to update your payment method.`,
    payment_recovered: `Your payment for "${plan}" in ${guild} went through. All is well.`,
    cancel_scheduled: `Your "${plan}" subscription in ${guild} is set to cancel.` +
      (at ? ` You keep the role until ${at}.` : "") +
      `\nChanged your mind? Run /subscribe to undo it.`,
    cancel_undone:
      `Your "${plan}" subscription in ${guild} will continue: the cancellation is undone.`,
    plan_changed: `Your plan in ${guild} is now "${plan}".`,
    trial_ending: `Your free trial of "${plan}" in ${guild} ends ${
      at ? `on ${at}` : "soon"
    }; you will then be charged automatically.\nRun /subscribe to change or cancel.`,
    pass_ended: `Your "${plan}" in ${guild} has run out` +
      (roles
        ? `, so ${roleIds.length > 1 ? `the ${roles} roles have` : `the ${roles} role has`} ` +
          "been removed."
        : ".") +
      `\nRun /subscribe to buy it again.`,
  };
  return text[kind];
}
