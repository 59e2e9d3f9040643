/**
 * The health checks' findings in the operator's language: one line per problem with what fixes
 * it, for `/rolepass health` and for the log channel's health_problem / health_fixed lines.
 */
import type { HealthCheckId, HealthProblem, HealthReport } from "../health.ts";
import type { Locale } from "../locale.ts";
import { type EphemeralReply, ephemeralReply, escapeMarkdown } from "./subscribe.ts";

const ROLES = { en: "Server Settings → Roles", ja: "サーバー設定 → ロール" };
const WEBHOOKS = {
  en: "Stripe Dashboard → Developers → Webhooks",
  ja: "Stripeダッシュボード → 開発者 → Webhook",
};
const PORTAL = {
  en: "Stripe Dashboard → Settings → Billing → Customer portal",
  ja: "Stripeダッシュボード → 設定 → Billing → カスタマーポータル",
};

/** One problem and its fix, in one or two sentences. */
export function healthProblemText(problem: HealthProblem, locale: Locale): string {
  const ja = locale === "ja";
  switch (problem.code) {
    case "bot_not_in_guild":
      return ja
        ? "ボットがこのサーバーにいません。ボットを招待し直してください。"
        : "The bot is not in this server: invite it again.";
    case "no_manage_roles":
      return ja
        ? `ボットに「ロールの管理」権限がありません。${ROLES.ja} → ボットのロールで有効にしてください。`
        : `The bot lacks Manage Roles: turn it on in ${ROLES.en} → the bot's role.`;
    case "role_outranks_bot":
      return ja
        ? `ボットのロールが<@&${problem.roleId}>より下にあります。${ROLES.ja}でボットのロールを上に移動してください。`
        : `The bot's role is below <@&${problem.roleId}>: drag the bot's role above it in ${ROLES.en}.`;
    case "role_missing":
      return ja
        ? `プラン「${
          escapeMarkdown(problem.planName)
        }」のロール（${problem.roleId}）がありません。ロールを作り直すか、プランファイルのIDを直して \`deno task plans:apply\` を実行してください。`
        : `The role ${problem.roleId} of plan "${
          escapeMarkdown(problem.planName)
        }" no longer exists: create it, or fix the id in the plans file and run \`deno task plans:apply\`.`;
    case "role_managed":
      return ja
        ? `プラン「${
          escapeMarkdown(problem.planName)
        }」のロール<@&${problem.roleId}>は連携機能が管理しているため、ボットは付与できません。通常のロールを使ってください。`
        : `The role <@&${problem.roleId}> of plan "${
          escapeMarkdown(problem.planName)
        }" is managed by an integration, so no bot can give it: use an ordinary role.`;
    case "log_channel_unknown":
      return ja
        ? `運営ログのチャンネル（${problem.channelId}）がありません。プランファイルの operator_log_channel_id を直してください。`
        : `The operator log channel ${problem.channelId} no longer exists: fix operator_log_channel_id in the plans file.`;
    case "log_channel_no_access":
      return ja
        ? `ボットが運営ログのチャンネル<#${problem.channelId}>を見られません。チャンネルの権限でボットに閲覧とメッセージ送信を許可してください。`
        : `The bot cannot see the operator log channel <#${problem.channelId}>: let it view and send messages there.`;
    case "members_intent_off":
      return ja
        ? "Server Members Intentが無効なため、手動で付けられた有料ロールを確認できません。Developer Portal → Botで有効にしてください。"
        : "The Server Members intent is off, so paid roles given by hand go unseen: turn it on under Developer Portal → Bot.";
    case "webhook_missing":
      return ja
        ? `rolepassに届くStripeのWebhookエンドポイントがありません${
          problem.url ? `（${problem.url}）` : ""
        }。${WEBHOOKS.ja}で追加してください。`
        : `No Stripe webhook endpoint reaches rolepass${
          problem.url ? ` (${problem.url})` : ""
        }: add one in ${WEBHOOKS.en}.`;
    case "webhook_disabled":
      return ja
        ? `StripeのWebhookエンドポイントが無効になっています。${WEBHOOKS.ja}で有効にしてください。`
        : `The Stripe webhook endpoint is disabled: enable it in ${WEBHOOKS.en}.`;
    case "webhook_events_missing":
      return ja
        ? `StripeのWebhookエンドポイントが次のイベントを送っていません：${
          problem.events.join(", ")
        }。${WEBHOOKS.ja}で追加してください。`
        : `The Stripe webhook endpoint does not send ${
          problem.events.join(", ")
        }: add them in ${WEBHOOKS.en}.`;
    case "portal_not_configured":
      return ja
        ? `Stripeのカスタマーポータルが設定されていないため、メンバーが解約やカード変更をできません。${PORTAL.ja}で保存してください。`
        : `The Stripe Customer Portal is not configured, so members cannot cancel or change their card: save it in ${PORTAL.en}.`;
    case "portal_no_cancel":
      return ja
        ? `カスタマーポータルで解約できません。${PORTAL.ja}で解約を許可してください。`
        : `Members cannot cancel in the Customer Portal: allow it in ${PORTAL.en}.`;
    case "portal_no_card_update":
      return ja
        ? `カスタマーポータルでカードを変更できません。${PORTAL.ja}で許可してください。`
        : `Members cannot change their card in the Customer Portal: allow it in ${PORTAL.en}.`;
  }
}

const CHECK_NAMES: Record<HealthCheckId, { en: string; ja: string }> = {
  "discord.guild": { en: "the bot in the server", ja: "サーバー内のボット" },
  "discord.permissions": { en: "Manage Roles and role order", ja: "ロールの管理権限と順序" },
  "discord.roles": { en: "plan roles", ja: "プランのロール" },
  "discord.log_channel": { en: "operator log channel", ja: "運営ログのチャンネル" },
  "discord.members_intent": { en: "Server Members intent", ja: "Server Members Intent" },
  "stripe.webhook": { en: "Stripe webhook endpoint", ja: "StripeのWebhookエンドポイント" },
  "stripe.portal": { en: "Stripe Customer Portal", ja: "Stripeのカスタマーポータル" },
};

/** The follow-up to `/rolepass health`: each problem with its fix, and what could not be checked. */
export function healthReply(
  report: HealthReport,
  locale: Locale,
  notes: { stripeChecked: boolean },
): EphemeralReply {
  const ja = locale === "ja";
  const lines = [ja ? "**設定の確認**" : "**Health**"];
  if (report.problems.length === 0) {
    lines.push(
      ja
        ? `問題は見つかりませんでした（${report.checked.length}項目を確認）。`
        : `No problem found (${report.checked.length} check(s) passed).`,
    );
  }
  for (const { problem } of report.problems) lines.push(`• ${healthProblemText(problem, locale)}`);
  for (const { check, detail } of report.unanswered) {
    const name = CHECK_NAMES[check][ja ? "ja" : "en"];
    lines.push(
      ja
        ? `• ${name}：確認できませんでした（${detail}）。少し待ってからもう一度お試しください。`
        : `• ${name}: not checked (${detail}); try again in a minute.`,
    );
  }
  if (!notes.stripeChecked) {
    lines.push(
      ja
        ? "• Stripeの設定：STRIPE_SECRET_KEYがないため確認していません。"
        : "• Stripe settings: not checked (no STRIPE_SECRET_KEY).",
    );
  }
  const content = lines.join("\n");
  return ephemeralReply(content, locale);
}
