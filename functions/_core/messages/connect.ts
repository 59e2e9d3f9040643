/**
 * What the plan page tells a community's owner coming back from Stripe's onboarding (platform
 * mode), in Japanese and English: where the guild stands as a seller and what to do next.
 */
import type { SellerStanding } from "../connect.ts";
import type { Locale } from "../locale.ts";

/** A page's title and body. */
export interface ConnectPageText {
  title: string;
  body: string;
}

const ja: Record<SellerStanding | "refresh" | "unknown", ConnectPageText> = {
  selling: {
    title: "販売の準備ができました",
    body: "Stripeの登録が完了し、このサーバーでロールを販売できるようになりました。" +
      "売上の入金や明細はExpressダッシュボードで確認できます。",
  },
  restricted: {
    title: "Stripeの確認を待っています",
    body: "情報は送信されましたが、Stripeがまだお支払いの受け付けを許可していません。" +
      "必要な書類や情報がある場合はStripeからご連絡があります。それまで販売はできません。",
  },
  onboarding: {
    title: "登録が完了していません",
    body: "Stripeへの情報の入力が終わっていません。運営者に新しい登録リンクを依頼して、" +
      "続きから入力してください。",
  },
  not_connected: {
    title: "Stripeアカウントがありません",
    body:
      "このサーバーにはまだStripeアカウントがありません。運営者に登録リンクを依頼してください。",
  },
  refresh: {
    title: "登録リンクの有効期限が切れました",
    body:
      "登録リンクは一度しか使えず、数分で期限が切れます。運営者に新しいリンクを依頼してください。" +
      "入力済みの内容は保存されています。",
  },
  unknown: {
    title: "状況を確認できませんでした",
    body:
      "Stripeの登録状況を確認できませんでした。少し時間をおいてからこのページを再読み込みしてください。",
  },
};

const en: Record<SellerStanding | "refresh" | "unknown", ConnectPageText> = {
  selling: {
    title: "Ready to sell",
    body: "Stripe has everything it needs: this server can now sell its roles. Payouts and " +
      "statements are in your Express Dashboard.",
  },
  restricted: {
    title: "Waiting for Stripe",
    body: "Your details were sent, but Stripe does not let the account take payments yet. " +
      "Stripe will contact you if it needs a document or more information. Until then, " +
      "nothing can be sold.",
  },
  onboarding: {
    title: "Onboarding is not finished",
    body: "Stripe still needs some of your details. Ask the operator for a new onboarding link " +
      "and carry on where you stopped.",
  },
  not_connected: {
    title: "No Stripe account yet",
    body: "This server has no Stripe account yet. Ask the operator for an onboarding link.",
  },
  refresh: {
    title: "The onboarding link has expired",
    body: "An onboarding link works once and for a few minutes. Ask the operator for a new " +
      "one; what you entered is kept.",
  },
  unknown: {
    title: "Could not check",
    body: "Stripe's answer could not be read. Reload this page in a moment.",
  },
};

/** The return page's text for `standing` (`refresh`: the link expired; `unknown`: no answer). */
export function connectPageText(
  locale: Locale,
  page: SellerStanding | "refresh" | "unknown",
): ConnectPageText {
  return (locale === "ja" ? ja : en)[page];
}

/** Every text, for the typography and completeness tests. */
export const CONNECT_PAGES = [
  "selling",
  "restricted",
  "onboarding",
  "not_connected",
  "refresh",
  "unknown",
] as const;
