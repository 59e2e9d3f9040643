/**
 * What `/rolepass dashboard` answers, in the operator's language: a private login link to their
 * server's Stripe Express Dashboard (payouts, statements, exports), or why there is none.
 * Ephemeral, and it mentions nobody.
 */
import type { Locale } from "../locale.ts";
import { connectTaskText, stripeUnreachedText } from "./onboarding.ts";
import { type EphemeralReply, ephemeralReply } from "./subscribe.ts";

/** What a dashboard request came to. */
export type DashboardResult =
  /** A fresh, single-use login link to the server's own Express Dashboard. */
  | { kind: "link"; url: string }
  /** The server has no account yet, or has not finished Stripe's onboarding. */
  | { kind: "not_onboarded" }
  /** The deployment sells through its own Stripe account: there is no Express Dashboard. */
  | { kind: "standalone" }
  /** role-sync lacks STRIPE_SECRET_KEY. */
  | { kind: "not_configured" }
  /** Stripe could not be reached: no link was made. */
  | { kind: "stripe_unavailable"; detail: string }
  /** Asked from the command line, which has its own task for it. */
  | { kind: "use_task"; guildId: string };

/** The answer to `/rolepass dashboard`. */
export function dashboardReply(result: DashboardResult, locale: Locale): EphemeralReply {
  const ja = locale === "ja";
  const content = (() => {
    switch (result.kind) {
      case "link":
        return ja
          ? [
            `**Stripeの管理画面**（このサーバーの入金・明細・書き出し）：${result.url}`,
            "このリンクはあなた専用で、数分のあいだに1回だけ使えます。ほかの人には共有しないでください。",
          ].join("\n")
          : [
            `**Stripe dashboard** (this server's payouts, statements and exports): ${result.url}`,
            "This link is yours alone and works once, within a few minutes. Don't share it.",
          ].join("\n");
      case "not_onboarded":
        return ja
          ? "このサーバーはStripeの登録がまだ終わっていないため、管理画面はまだありません。" +
            "`/rolepass 売上受取の登録` で登録を済ませてください。"
          : "This server has not finished Stripe's onboarding, so it has no dashboard yet. " +
            "Run `/rolepass onboarding` to finish it.";
      case "standalone":
        return ja
          ? "Stripeの管理画面へのリンクは、プラットフォーム型の運用（ROLEPASS_STRIPE_MODE=platform）" +
            "でだけ使います。この rolepass は運用者自身のStripeアカウントで販売しているため、" +
            "Stripeのダッシュボードを直接開いてください。"
          : "Dashboard links apply only to platform deployments (ROLEPASS_STRIPE_MODE=platform). " +
            "This rolepass sells through its operator's own Stripe account: open Stripe's " +
            "Dashboard directly.";
      case "not_configured":
        return ja
          ? "管理画面へのリンクをまだ作れません。role-sync に STRIPE_SECRET_KEY の設定が必要です。" +
            "rolepass の運用者に伝えてください。"
          : "No dashboard link can be made yet: role-sync needs STRIPE_SECRET_KEY. Tell whoever " +
            "runs this rolepass.";
      case "stripe_unavailable":
        return stripeUnreachedText(result.detail, locale);
      case "use_task":
        return connectTaskText("dashboard", result.guildId, locale);
    }
  })();
  return ephemeralReply(content, locale);
}
