/**
 * What `/rolepass onboarding` answers, in the operator's language: the private Stripe Express
 * onboarding link of their server, or why there is none. Ephemeral, and it mentions nobody.
 */
import type { SellerStanding } from "../connect.ts";
import type { Locale } from "../locale.ts";
import { type EphemeralReply, ephemeralReply } from "./subscribe.ts";

/** What an onboarding request came to. */
export type OnboardingResult =
  /** A fresh, single-use Account Link; `standing` is the server's before onboarding. */
  | { kind: "link"; url: string; expiresAt: Date; standing: SellerStanding }
  /** The deployment sells through its own Stripe account: there is no onboarding. */
  | { kind: "standalone" }
  /** role-sync lacks STRIPE_SECRET_KEY or PUBLIC_SITE_URL. */
  | { kind: "not_configured" }
  /** Stripe could not be reached: no link was made. */
  | { kind: "stripe_unavailable"; detail: string }
  /** Asked from the command line, which has its own task for it. */
  | { kind: "use_task"; guildId: string };

/** The answer to `/rolepass onboarding`. */
export function onboardingReply(result: OnboardingResult, locale: Locale): EphemeralReply {
  const ja = locale === "ja";
  const content = (() => {
    switch (result.kind) {
      case "link": {
        const until = `<t:${Math.floor(result.expiresAt.getTime() / 1000)}:t>`;
        const lines = ja
          ? [
            `**Stripeの登録**（このサーバーの売上の受け取り先）：${result.url}`,
            `このリンクはあなた専用で、${until} まで1回だけ使えます。ほかの人には共有しないでください。`,
            "Stripeの画面で振込先の口座などを入力し終えると、登録の状況がわかるページに戻ります。",
          ]
          : [
            `**Stripe onboarding** (where this server's sales are paid): ${result.url}`,
            `This link is yours alone and works once, until ${until}. Don't share it.`,
            "Stripe asks for your bank account and the details it needs, then brings you back to " +
            "a page that shows where you stand.",
          ];
        if (result.standing === "selling") {
          lines.push(
            ja
              ? "このサーバーはすでに支払いを受け付けています。登録内容を直すときだけ使ってください。"
              : "This server already takes payments: use the link only to update your details.",
          );
        }
        return lines.join("\n");
      }
      case "standalone":
        return ja
          ? "売上受取の登録は、プラットフォーム型の運用（ROLEPASS_STRIPE_MODE=platform）でだけ使います。" +
            "この rolepass は運用者自身のStripeアカウントで販売しているため、登録するものはありません。"
          : "Onboarding applies only to platform deployments (ROLEPASS_STRIPE_MODE=platform). " +
            "This rolepass sells through its operator's own Stripe account: there is nothing " +
            "to set up.";
      case "not_configured":
        return ja
          ? "登録リンクをまだ作れません。role-sync に STRIPE_SECRET_KEY と PUBLIC_SITE_URL の設定が" +
            "必要です。rolepass の運用者に伝えてください。"
          : "No onboarding link can be made yet: role-sync needs STRIPE_SECRET_KEY and " +
            "PUBLIC_SITE_URL. Tell whoever runs this rolepass.";
      case "stripe_unavailable":
        return stripeUnreachedText(result.detail, locale);
      case "use_task":
        return connectTaskText("onboard", result.guildId, locale);
    }
  })();
  return ephemeralReply(content, locale);
}

/** Why no Stripe link (onboarding or dashboard) was made: Stripe could not be reached. */
export function stripeUnreachedText(detail: string, locale: Locale): string {
  return locale === "ja"
    ? `Stripeに接続できなかったため（${detail}）、リンクは作っていません。` +
      "少し待ってから、もう一度実行してください。"
    : `Stripe could not be reached (${detail}), so no link was made. Try again in a minute.`;
}

/** The `deno task connect` command that prints the same link from the command line. */
export function connectTaskText(task: "onboard" | "dashboard", guildId: string, locale: Locale) {
  const command = `\`deno task connect -- ${task} --guild ${guildId}\``;
  return locale === "ja"
    ? `コマンドラインでは ${command} を実行すると、リンクが表示されます。`
    : `From the command line, run ${command}: it prints the link.`;
}
