/**
 * Everything the plan page says to a member, in Japanese and English. The page picks the language
 * from the link's locale (the member's Discord locale) and offers a switch.
 */
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { Locale } from "../locale.ts";
import { type BillingInterval, formatInterval, formatPassAccess } from "../price.ts";

/** How often a subscription renews, for the seller notice's payment timing. */
export interface Renewal {
  interval: BillingInterval;
  intervalCount: number;
}

/** What a free trial grants: the plan's paid roles, roles of its own, or none until it is paid. */
export type TrialRoles = "paid" | "own" | "none";

/**
 * Why the page cannot go on. The `checkout` API answers with these codes, and the page shows the
 * matching message; every one of them ends with what the member can do next.
 */
export type PlanPageProblem =
  | "malformed_token"
  | "unknown_token"
  | "expired_token"
  | "used_token"
  | "wrong_purpose"
  | "no_plans"
  | "not_selling_yet"
  | "unknown_plan"
  | "no_subscription"
  | "subscription_pending"
  | "invalid_request"
  | "not_found"
  | "stripe_unavailable"
  | "unavailable";

/** Every problem code, for schemas and exhaustive tests. */
export const PLAN_PAGE_PROBLEMS: readonly PlanPageProblem[] = [
  "malformed_token",
  "unknown_token",
  "expired_token",
  "used_token",
  "wrong_purpose",
  "no_plans",
  "not_selling_yet",
  "unknown_plan",
  "no_subscription",
  "subscription_pending",
  "invalid_request",
  "not_found",
  "stripe_unavailable",
  "unavailable",
];

/** The labels of the seller notice (特定商取引法に基づく表記), in the order the law lists them. */
export interface SellerNoticeLabels {
  heading: string;
  seller: string;
  representative: string;
  address: string;
  phone: string;
  email: string;
  price: string;
  additionalFees: string;
  paymentMethods: string;
  paymentTiming: string;
  deliveryTiming: string;
  cancellationPolicy: string;
}

/** The plan page's texts in one language. */
export interface PlanPageMessages {
  /** Name of the language in itself, for the switch ("日本語", "English"). */
  languageName: string;
  languageSwitchLabel: string;
  joinTitle(guildName: string): string;
  joinIntro(guildName: string): string;
  plansHeading: string;
  priceLabel: string;
  grantsLabel: string;
  /** The role a plan grants; without the operator's `role_name`, "this plan's role". */
  grants(guildName: string, roleName?: string): string;
  /**
   * The roles of a plan offered with a free trial that grants a role of its own (named by the
   * operator's `trial_role_name`, if given) until the first payment grants the paid one.
   */
  grantsTrialRole(trialRoleName?: string, roleName?: string): string;
  /** The role of a plan offered with a free trial that grants none: it comes with the first payment. */
  grantsFromFirstPayment(roleName?: string): string;
  subscribeButton(planName: string): string;
  /** The role a pass grants, for as long as it lasts. */
  grantsForPass(guildName: string, roleName?: string): string;
  /** The button of a pass the member does not hold. */
  buyButton(planName: string): string;
  /** The button of the pass the member holds: buying it again extends it. */
  renewButton(planName: string): string;
  /** What the member holds: a pass until `until` (already formatted), or for good when null. */
  passHeld(planName: string, until: string | null): string;
  trialLabel: string;
  /**
   * A plan's free trial this member may start: its days, the price after it (already formatted),
   * and whether Checkout asks for a card up front (else the trial ends unless one is added).
   */
  trialTerms(days: number, priceAfter: string, cardUpFront: boolean): string;
  /** The button of a plan whose Checkout starts a free trial. */
  trialButton(planName: string, days: number): string;
  stripeNote: string;
  alreadySubscribed: string;
  manageButton: string;
  sellerNotice: SellerNoticeLabels;
  sellerNoticeMissing: string;
  /**
   * The seller notice's payment timing of a subscription, from its facts: at sign-up, or when the
   * free trial of `trialDays` this member is offered ends; then on each renewal.
   */
  subscriptionChargeTiming(renewal: Renewal, trialDays?: number): string;
  /** The seller notice's payment timing of a pass. */
  passChargeTiming: string;
  /**
   * The seller notice's delivery timing of a subscription: when its role is granted, which the
   * free trial this member is offered (none: at the payment) moves to sign-up or the first payment.
   */
  subscriptionDeliveryTiming(
    trialRoles?: TrialRoles,
    trialRoleName?: string,
    roleName?: string,
  ): string;
  /** The seller notice's delivery timing of a pass lasting `accessSeconds` (null for life). */
  passDeliveryTiming(accessSeconds: number | null): string;
  thanksTitle: string;
  /** When the page could not tell how far the payment got (the webhook still finishes it). */
  thanksBody: string;
  /** The payment went through and the membership is updated: the role job is queued. */
  thanksGrantingBody: string;
  /** Stripe has not confirmed the payment yet. */
  thanksProcessingBody: string;
  /** A free trial started (nothing was charged) and its role is being granted. */
  thanksTrialGrantingBody: string;
  /** A free trial started whose plan grants its role only from the first payment. */
  thanksTrialStartedBody: string;
  cancelledTitle: string;
  cancelledBody: string;
  portalReturnTitle: string;
  portalReturnBody: string;
  homeTitle: string;
  homeBody: string;
  errorTitle: string;
  tryAgainTitle: string;
  tryAgainLink: string;
  runSubscribeAgain: string;
  problems: Record<PlanPageProblem, string>;
}

/** A paid role as the Japanese role rows name it. */
function jaRole(role: string | undefined): string {
  return role ? `「${role}」ロール` : "このプランのロール";
}

const ja: PlanPageMessages = {
  languageName: "日本語",
  languageSwitchLabel: "表示言語",
  // Operator names can end in full-width punctuation ("雑談部屋（公式）"), which takes no space.
  joinTitle: (guild) => tidyJapaneseSpacing(`${guild} の有料プラン`),
  joinIntro: (guild) =>
    `Discord サーバー「${guild}」の有料ロールをお申し込みいただけます。お支払いは Stripe の安全な決済ページで行います。`,
  plansHeading: "プラン",
  priceLabel: "料金",
  grantsLabel: "付与されるロール",
  grants: (guild, role) =>
    role
      ? `「${guild}」の「${role}」ロール（ご契約中のみ）`
      : `「${guild}」でこのプランのロール（ご契約中のみ）`,
  grantsTrialRole: (trialRole, role) =>
    `無料お試し中は${trialRole ? `「${trialRole}」ロール` : "お試し用のロール"}、` +
    `初回のお支払い後は${jaRole(role)}`,
  grantsFromFirstPayment: (role) => `無料お試し中はロールなし、初回のお支払い後は${jaRole(role)}`,
  subscribeButton: (plan) => tidyJapaneseSpacing(`${plan} を申し込む`),
  grantsForPass: (guild, role) =>
    role
      ? `「${guild}」の「${role}」ロール（ご購入の期間中）`
      : `「${guild}」でこのプランのロール（ご購入の期間中）`,
  buyButton: (plan) => tidyJapaneseSpacing(`${plan} を購入する`),
  renewButton: (plan) => tidyJapaneseSpacing(`${plan} を延長する`),
  passHeld: (plan, until) =>
    until
      ? `「${plan}」をご購入済みです（${until}まで）。もう一度購入すると、その期限から期間が延長されます。`
      : `「${plan}」をご購入済みです（無期限）。ロールは今後もずっとご利用いただけます。`,
  trialLabel: "無料お試し",
  trialTerms: (days, price, cardUpFront) =>
    cardUpFront
      ? `最初の${days}日間は無料です。その後は ${price} で自動更新されます。無料期間中に解約すれば料金はかかりません。`
      : `最初の${days}日間は無料で、カードの登録は不要です。無料期間の後も続けるには、カードの登録が必要です（${price}）。`,
  trialButton: (plan, days) => tidyJapaneseSpacing(`${plan} を${days}日間無料で試す`),
  stripeNote:
    "ボタンを押すと Stripe の決済ページに移動します。カード情報は当サイトに送信・保存されません。",
  alreadySubscribed:
    "すでにご契約中です。ボタンからご契約の確認・変更・解約ができます（Stripe カスタマーポータル）。",
  manageButton: "ご契約を管理する",
  sellerNoticeMissing:
    "販売事業者の表記を準備中です。お申し込みの前にサーバーの運営者にお問い合わせください。",
  subscriptionChargeTiming: (renewal, trialDays) => {
    const then = `以後、${formatInterval(renewal.interval, renewal.intervalCount, "ja")}の更新日`;
    return trialDays
      ? `無料お試し期間（${trialDays}日間）の終了時（${then}）`
      : `お申し込み時（${then}）`;
  },
  passChargeTiming: "ご購入時",
  subscriptionDeliveryTiming: (trialRoles, trialRole, role) => {
    if (trialRoles === "own") {
      return `お申し込み後すぐに${trialRole ? `「${trialRole}」ロール` : "お試し用のロール"}` +
        `を付与（無料お試し期間中）、初回のお支払い後は${jaRole(role)}`;
    }
    if (trialRoles === "paid") return "お申し込み後すぐにロールを付与（無料お試し期間中から）";
    if (trialRoles === "none") {
      return "初回のお支払い（無料お試し期間の終了時）後すぐにロールを付与";
    }
    return "お支払い後すぐにロールを付与";
  },
  passDeliveryTiming: (accessSeconds) =>
    `ご購入後すぐにロールを付与（${formatPassAccess(accessSeconds, "ja")}）`,
  sellerNotice: {
    heading: "特定商取引法に基づく表記",
    seller: "販売事業者",
    representative: "運営統括責任者",
    address: "所在地",
    phone: "電話番号",
    email: "メールアドレス",
    price: "販売価格",
    additionalFees: "商品代金以外の必要料金",
    paymentMethods: "お支払い方法",
    paymentTiming: "お支払い時期",
    deliveryTiming: "役務の提供時期",
    cancellationPolicy: "返品・キャンセル（解約）",
  },
  thanksTitle: "お申し込みありがとうございます",
  thanksBody:
    "お支払いを受け付けました。まもなく Discord でロールが付与され、お知らせが届きます。このページは閉じてかまいません。",
  thanksGrantingBody:
    "お支払いが完了しました。Discord でロールを付与しています。付与されるとお知らせが届きます。このページは閉じてかまいません。",
  thanksProcessingBody:
    "お支払いの処理がまだ完了していません。完了しだい Discord でロールが付与され、お知らせが届きます。このページは閉じてかまいません。",
  thanksTrialGrantingBody:
    "無料お試しが始まりました。Discord でロールを付与しています。付与されるとお知らせが届きます。このページは閉じてかまいません。",
  thanksTrialStartedBody:
    "無料お試しが始まりました。ロールは初回のお支払いが完了すると Discord で付与され、お知らせが届きます。このページは閉じてかまいません。",
  cancelledTitle: "お申し込みは完了していません",
  cancelledBody:
    "決済は行われていません。もう一度お申し込みの場合は、Discord で /subscribe を実行して新しいリンクを開いてください。",
  portalReturnTitle: "ご契約の管理を終えました",
  portalReturnBody:
    "変更内容はまもなく Discord のロールに反映されます。このページは閉じてかまいません。",
  homeTitle: "rolepass",
  homeBody: "Discord サーバーで /subscribe を実行すると、あなた専用のリンクが届きます。",
  errorTitle: "このリンクは使えません",
  tryAgainTitle: "お手続きを続けられませんでした",
  tryAgainLink: "プランの選択に戻る",
  runSubscribeAgain: "Discord で /subscribe をもう一度実行して、新しいリンクを開いてください。",
  problems: {
    malformed_token: "リンクの形式が正しくありません。途中で切れていないか確認してください。",
    unknown_token: "このリンクは見つかりませんでした。",
    expired_token: "このリンクの有効期限（15分）が切れています。",
    used_token: "このリンクはすでに使用されています。",
    wrong_purpose: "このリンクはこの操作には使えません。",
    no_plans: "このサーバーには現在お申し込みいただけるプランがありません。",
    not_selling_yet:
      "このサーバーはまだお支払いを受け付けられません。販売の準備が整うまでお待ちください。課金は行われていません。",
    unknown_plan: "選択されたプランは現在お申し込みいただけません。",
    no_subscription: "管理できるご契約がありません。",
    subscription_pending:
      "お支払いは完了しており、ロールの付与を処理中です。しばらくお待ちください。",
    invalid_request: "リクエストの内容が正しくありません。",
    not_found: "ページが見つかりません。",
    stripe_unavailable:
      "決済サービス（Stripe）に接続できませんでした。課金は行われていません。少し時間をおいてからお試しください。",
    unavailable:
      "一時的に処理できませんでした。課金は行われていません。少し時間をおいてからお試しください。",
  },
};

function dayCount(days: number): string {
  return days === 1 ? "1 day" : `${days} days`;
}

/** A paid role as the English role rows name it. */
function enRole(role: string | undefined): string {
  return role ? `the “${role}” role` : "this plan's role";
}

const EN_EVERY_ONE: Record<BillingInterval, string> = {
  day: "daily",
  week: "weekly",
  month: "monthly",
  year: "yearly",
};

/** "each monthly renewal date", "each renewal date (every 3 months)". */
function enRenewalDate(renewal: Renewal): string {
  return renewal.intervalCount === 1
    ? `each ${EN_EVERY_ONE[renewal.interval]} renewal date`
    : `each renewal date (${formatInterval(renewal.interval, renewal.intervalCount, "en")})`;
}

const en: PlanPageMessages = {
  languageName: "English",
  languageSwitchLabel: "Language",
  joinTitle: (guild) => `Paid plans of ${guild}`,
  joinIntro: (guild) =>
    `Subscribe to a paid role on the Discord server “${guild}”. You pay on Stripe's secure checkout page.`,
  plansHeading: "Plans",
  priceLabel: "Price",
  grantsLabel: "Role granted",
  grants: (guild, role) =>
    role
      ? `The “${role}” role on “${guild}”, while your subscription runs`
      : `This plan's role on “${guild}”, while your subscription runs`,
  grantsTrialRole: (trialRole, role) =>
    `${trialRole ? `The “${trialRole}” role` : "A trial role"} during the free trial, ` +
    `then ${enRole(role)} from your first payment`,
  grantsFromFirstPayment: (role) =>
    `No role during the free trial, then ${enRole(role)} from your first payment`,
  subscribeButton: (plan) => `Subscribe to ${plan}`,
  grantsForPass: (guild, role) =>
    role
      ? `The “${role}” role on “${guild}”, for as long as your pass lasts`
      : `This plan's role on “${guild}”, for as long as your pass lasts`,
  buyButton: (plan) => `Buy ${plan}`,
  renewButton: (plan) => `Renew ${plan}`,
  passHeld: (plan, until) =>
    until
      ? `You have ${plan} until ${until}. Buying it again adds its time from that date.`
      : `You have ${plan} for good: the role is yours to keep.`,
  trialLabel: "Free trial",
  trialTerms: (days, price, cardUpFront) => {
    const free = `Free for the first ${dayCount(days)}`;
    return cardUpFront
      ? `${free}, then ${price}. Cancel before the trial ends and you pay nothing.`
      : `${free}, no card needed. To continue after the trial, add a card (${price}).`;
  },
  trialButton: (plan, days) => `Try ${plan} free for ${dayCount(days)}`,
  stripeNote:
    "The button takes you to Stripe's checkout page. Your card details are never sent to or stored by this site.",
  alreadySubscribed:
    "You already have a subscription. The button opens the Stripe customer portal, where you can review, change or cancel it.",
  manageButton: "Manage your subscription",
  sellerNoticeMissing:
    "The seller's legal notice is not published yet. Please ask the server's operator before subscribing.",
  subscriptionChargeTiming: (renewal, trialDays) =>
    trialDays
      ? `When the ${trialDays}-day free trial ends, then on ${enRenewalDate(renewal)}`
      : `At sign-up, then on ${enRenewalDate(renewal)}`,
  passChargeTiming: "At purchase",
  subscriptionDeliveryTiming: (trialRoles, trialRole, role) => {
    if (trialRoles === "own") {
      return `${trialRole ? `The “${trialRole}” role` : "A trial role"} as soon as you sign up ` +
        `(during the free trial), then ${enRole(role)} from your first payment`;
    }
    if (trialRoles === "paid") return "The role as soon as you sign up, free trial included";
    if (trialRoles === "none") {
      return "The role as soon as your first payment goes through (when the free trial ends)";
    }
    return "The role as soon as your payment goes through";
  },
  passDeliveryTiming: (accessSeconds) =>
    accessSeconds === null
      ? "The role as soon as you buy, for good"
      : `The role as soon as you buy, for ${formatPassAccess(accessSeconds, "en")}`,
  sellerNotice: {
    heading: "Notation based on the Specified Commercial Transactions Act",
    seller: "Seller",
    representative: "Representative",
    address: "Address",
    phone: "Phone",
    email: "Email",
    price: "Price",
    additionalFees: "Additional fees",
    paymentMethods: "Payment methods",
    paymentTiming: "Payment timing",
    deliveryTiming: "Delivery",
    cancellationPolicy: "Returns and cancellation",
  },
  thanksTitle: "Thank you for subscribing",
  thanksBody:
    "Your payment was received. Your role will be granted on Discord shortly, and you will get a message there. You can close this page.",
  thanksGrantingBody:
    "Your payment went through and your role is being granted on Discord now; you will get a message there. You can close this page.",
  thanksProcessingBody:
    "Your payment is still processing. Your role will be granted on Discord as soon as it completes, and you will get a message there. You can close this page.",
  thanksTrialGrantingBody:
    "Your free trial has started and your role is being granted on Discord now; you will get a message there. You can close this page.",
  thanksTrialStartedBody:
    "Your free trial has started. Your role is granted on Discord once your first payment goes through, and you will get a message there. You can close this page.",
  cancelledTitle: "Your subscription was not completed",
  cancelledBody:
    "Nothing was charged. To try again, run /subscribe in Discord and open the new link.",
  portalReturnTitle: "Done managing your subscription",
  portalReturnBody: "Any change shows on your Discord role shortly. You can close this page.",
  homeTitle: "rolepass",
  homeBody: "Run /subscribe on the Discord server to get your personal link.",
  errorTitle: "This link cannot be used",
  tryAgainTitle: "We could not continue",
  tryAgainLink: "Back to the plans",
  runSubscribeAgain: "Run /subscribe again in Discord and open the new link.",
  problems: {
    malformed_token: "The link is not complete. Check that it was not cut off.",
    unknown_token: "This link was not found.",
    expired_token: "This link has expired (links work for 15 minutes).",
    used_token: "This link has already been used.",
    wrong_purpose: "This link is not for this action.",
    no_plans: "This server has no plan open for subscription right now.",
    not_selling_yet:
      "This server cannot take payments yet. Please come back once it is ready to sell. Nothing was charged.",
    unknown_plan: "The chosen plan is not available.",
    no_subscription: "There is no subscription to manage.",
    subscription_pending:
      "Your payment went through and your role is being granted. Please wait a moment.",
    invalid_request: "The request was not valid.",
    not_found: "This page does not exist.",
    stripe_unavailable:
      "The payment service (Stripe) could not be reached. Nothing was charged. Please try again in a moment.",
    unavailable:
      "Something went wrong on our side. Nothing was charged. Please try again in a moment.",
  },
};

const MESSAGES: Record<Locale, PlanPageMessages> = { ja, en };

/** The plan page's texts for `locale`. */
export function planPageMessages(locale: Locale): PlanPageMessages {
  return MESSAGES[locale];
}

/**
 * When a pass ends, as the plan page writes it: Japan time for Japanese ("2026年12月31日 23:59"),
 * UTC and labelled for English ("December 31, 2026, 14:59 UTC").
 */
export function formatPassEnd(date: Date, locale: Locale): string {
  if (locale === "ja") {
    return new Intl.DateTimeFormat("ja-JP", {
      timeZone: "Asia/Tokyo",
      dateStyle: "long",
      timeStyle: "short",
    }).format(date);
  }
  return new Intl.DateTimeFormat("en-US", {
    timeZone: "UTC",
    dateStyle: "long",
    timeStyle: "short",
    hourCycle: "h23",
  }).format(date) + " UTC";
}
