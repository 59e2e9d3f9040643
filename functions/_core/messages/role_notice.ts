/**
 * What the bot tells a member when role-sync changed their role, and what it tells the operator
 * when it could not, in Japanese and English.
 *
 * Dates are Discord timestamp markup (`<t:unix:D>`), which each client renders in the reader's own
 * language and time zone. Messages mention nobody (`allowed_mentions.parse = []`): a DM or a
 * follow-up must not ping, and the operator log must not ping the member it talks about.
 */
import type { RESTPostAPIChannelMessageJSONBody } from "discord-api-types/v10";
import { MessageFlags } from "discord-api-types/v10";
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { Locale } from "../locale.ts";
import { pickText, type PlanDisplay } from "../operator_text.ts";
import type { RefusalReason } from "../role_plan.ts";

/**
 * What changed for the member, as the message tells it. A restore is a role given back to a member
 * who already pays for it (they rejoined the server, or a moderator took it away): thanking them
 * for subscribing again would read as a second purchase.
 */
export interface RoleNotice {
  kind: "grant" | "restore" | "swap" | "revoke";
  locale: Locale;
  guildName: string;
  /**
   * The plan now granted (grant, restore, swap) or the plan that ended (revoke), when still
   * configured.
   */
  plan: PlanDisplay | null;
  /** The role granted (grant, restore, swap) or removed (revoke). */
  roleId: string;
  /** The plan's other roles granted or removed with `roleId` (a plan with several roles). */
  otherRoleIds?: readonly string[];
  /** A scheduled cancel: when the role ends. Only for grant, restore and swap. */
  endsAt: Date | null;
  /** Why a role was removed early. */
  revokedReason: "refund" | "dispute" | "payment_failed" | null;
}

function discordDate(date: Date): string {
  return `<t:${Math.floor(date.getTime() / 1000)}:D>`;
}

function planName(notice: RoleNotice): string {
  if (notice.plan) {
    const display = notice.locale === "ja" ? notice.plan.ja ?? notice.plan.en : notice.plan.en;
    return display.name;
  }
  return notice.locale === "ja" ? "サブスクリプション" : "subscription";
}

/** The text of the member's message. */
export function roleNoticeText(notice: RoleNotice): string {
  // Operator names can end in full-width punctuation ("雑談部屋（公式）"), which takes no space.
  return notice.locale === "ja" ? tidyJapaneseSpacing(noticeText(notice)) : noticeText(notice);
}

function noticeText(notice: RoleNotice): string {
  const plan = planName(notice);
  const guild = notice.guildName;
  const roleIds = [notice.roleId, ...(notice.otherRoleIds ?? [])];
  const role = roleIds.map((id) => `<@&${id}>`).join(" ");
  const several = roleIds.length > 1;
  if (notice.locale === "ja") {
    switch (notice.kind) {
      case "grant":
      case "restore":
      case "swap": {
        const lead = notice.kind === "swap"
          ? `プランが「${plan}」に変わりました。${guild} のロール ${role} を付与しました。`
          : notice.kind === "restore"
          ? `「${plan}」のご購読が続いているため、${guild} のロール ${role} を付け直しました。`
          : `「${plan}」のご購読ありがとうございます。${guild} のロール ${role} を付与しました。`;
        return notice.endsAt
          ? `${lead}\n解約予約により、${several ? "これらのロール" : "このロール"}は ${
            discordDate(notice.endsAt)
          } まで有効です。`
          : lead;
      }
      case "revoke": {
        const why = notice.revokedReason === "refund"
          ? "返金されたため、"
          : notice.revokedReason === "dispute"
          ? "支払いに異議申し立てがあったため、"
          : notice.revokedReason === "payment_failed"
          ? "お支払いを確認できないまま猶予期間が終わったため、"
          : "ご購読が終了したため、";
        return `${why}${guild} のロール ${role}（「${plan}」）を外しました。` +
          (notice.revokedReason === "payment_failed"
            ? `\n/subscribe からお支払い方法を更新するか、改めてお申し込みください。`
            : `\n再開するには /subscribe を実行してください。`);
      }
    }
  }
  switch (notice.kind) {
    case "grant":
    case "restore":
    case "swap": {
      const roles = several ? `the ${role} roles` : `the ${role} role`;
      const lead = notice.kind === "swap"
        ? `Your plan is now "${plan}". You have ${roles} in ${guild}.`
        : notice.kind === "restore"
        ? `Your "${plan}" subscription is still active, so ${roles} in ${guild} ${
          several ? "have" : "has"
        } been given back to you.`
        : `Thank you for subscribing to "${plan}". You now have ${roles} in ${guild}.`;
      return notice.endsAt
        ? `${lead}\nYour cancellation is scheduled: ${
          several ? "the roles stay" : "the role stays"
        } until ${discordDate(notice.endsAt)}.`
        : lead;
    }
    case "revoke": {
      const why = notice.revokedReason === "refund"
        ? "Your payment was refunded, so"
        : notice.revokedReason === "dispute"
        ? "Your payment was disputed, so"
        : notice.revokedReason === "payment_failed"
        ? `Your payment for "${plan}" did not go through, so`
        : `Your "${plan}" subscription has ended, so`;
      return `${why} ${several ? `the ${role} roles` : `the ${role} role`} in ${guild} ${
        several ? "have" : "has"
      } been removed.` +
        (notice.revokedReason === "payment_failed"
          ? `\nRun /subscribe to update your payment method or to join again.`
          : `\nRun /subscribe to join again.`);
    }
  }
}

/** The message body for a DM or an (ephemeral) interaction follow-up. */
export function roleNoticeMessage(
  notice: RoleNotice,
  options: { ephemeral: boolean },
): RESTPostAPIChannelMessageJSONBody {
  return {
    content: roleNoticeText(notice),
    allowed_mentions: { parse: [] },
    ...(options.ephemeral ? { flags: MessageFlags.Ephemeral } : {}),
  };
}

/** What the operator is told about a role job that failed for good. */
export interface OperatorAlert {
  locale: Locale;
  action: "grant" | "revoke";
  roleId: string;
  memberId: string;
  /** Why: a refusal from Discord, or too many failed attempts. */
  reason: RefusalReason | "gave_up";
  detail: string;
  jobId: number;
}

/** What each reason of a failed role job means and what fixes it, in both languages. */
export const REASON_TEXT: Record<OperatorAlert["reason"], { en: string; ja: string }> = {
  unknown_role: {
    en: "the role no longer exists; update the plan's role",
    ja: "ロールが存在しません。プランのロール設定を更新してください",
  },
  missing_permissions: {
    en:
      "the bot lacks Manage Roles, or its role is not above the paid role; move the bot's role up",
    ja:
      "ボットに「ロールの管理」権限がないか、ボットのロールが有料ロールより下にあります。ボットのロールを上に移動してください",
  },
  missing_access: {
    en: "the bot has no access to this server",
    ja: "ボットがこのサーバーにアクセスできません",
  },
  unknown_guild: {
    en: "the bot is not in this server",
    ja: "ボットがこのサーバーに参加していません",
  },
  unauthorized: {
    en: "Discord rejected the bot token; check DISCORD_BOT_TOKEN",
    ja: "ボットトークンが拒否されました。DISCORD_BOT_TOKEN を確認してください",
  },
  forbidden: {
    en: "Discord refused the request (403)",
    ja: "Discord がリクエストを拒否しました (403)",
  },
  invalid_request: {
    en: "Discord rejected the request as invalid",
    ja: "Discord がリクエストを不正として拒否しました",
  },
  gave_up: {
    en: "Discord kept failing; gave up after the maximum number of attempts",
    ja: "Discord でエラーが続いたため、上限回数で再試行を打ち切りました",
  },
};

/** The operator log message for a failed role job. */
export function operatorAlertMessage(alert: OperatorAlert): RESTPostAPIChannelMessageJSONBody {
  const reason = pickText(REASON_TEXT[alert.reason], alert.locale);
  const retry = "`select rolepass.retry_failed_role_jobs();`";
  const content = alert.locale === "ja"
    ? `⚠️ rolepass: <@${alert.memberId}> のロール <@&${alert.roleId}> を${
      alert.action === "grant" ? "付与" : "削除"
    }できませんでした: ${reason} (${alert.detail}、ジョブ ${alert.jobId})。` +
      `\n原因を直したら ${retry} で再実行できます。`
    : `⚠️ rolepass could not ${
      alert.action === "grant" ? "grant" : "remove"
    } <@&${alert.roleId}> for <@${alert.memberId}>: ${reason} (${alert.detail}, job ${alert.jobId}).` +
      `\nOnce fixed, re-run it with ${retry}.`;
  return {
    content: alert.locale === "ja" ? tidyJapaneseSpacing(content) : content,
    allowed_mentions: { parse: [] },
  };
}
