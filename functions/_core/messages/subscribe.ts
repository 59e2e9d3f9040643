/**
 * What the bot says in answer to `/subscribe`, in Japanese and English. Every reply is ephemeral
 * (only the member who ran the command sees it) and can mention nobody.
 *
 * Times are written as Discord timestamp markup (`<t:unix:R>`), which each member's client renders
 * in their own language and time zone.
 */
import {
  type APIActionRowComponent,
  type APIButtonComponentWithURL,
  type APIInteractionResponseChannelMessageWithSource,
  ButtonStyle,
  ComponentType,
  InteractionResponseType,
  MessageFlags,
} from "discord-api-types/v10";
import { tidyJapaneseSpacing } from "../japanese_spacing.ts";
import type { LinkPurpose } from "../link_token.ts";
import type { Locale } from "../locale.ts";
import type { MemberStanding } from "../member_standing.ts";
import type { PlanDisplay } from "../operator_text.ts";
import { type BillingInterval, formatPlanTerms } from "../price.ts";

/** A plan as the reply lists it. */
export interface PlanSummary {
  display: PlanDisplay;
  /** In the currency's smallest unit, as Stripe counts it. */
  unitAmount: number;
  /** ISO 4217, lower case as Stripe writes it. */
  currency: string;
  /** A subscription renewing every interval, or a one-time pass (null: for life). */
  sale:
    | { kind: "subscription"; billingInterval: BillingInterval; intervalCount: number }
    | { kind: "pass"; accessSeconds: number | null };
}

/** The one-time pass a member holds, for a "join" reply. */
export interface PassSummary {
  plan: PlanDisplay;
  /** When it ends; null: for good. */
  accessUntil: Date | null;
}

/** The member's current subscription, for a "manage" reply. */
export interface MembershipSummary {
  /** The plan's display text, or null when the plan is no longer configured. */
  plan: PlanDisplay | null;
  /** Where the subscription stands (member_standing.ts decides it). */
  standing: MemberStanding;
}

/** What `/subscribe` found out, decided in one database round trip. */
export type SubscribeOutcome =
  | { kind: "no_plan"; guildName: string | null }
  | {
    kind: "join";
    guildName: string;
    plans: PlanSummary[];
    /** The live pass the member holds, if any: they may renew it from the same page. */
    pass?: PassSummary | null;
    /** The pass holder lacks the pass's role, and a role job is giving it back. */
    roleRepair?: boolean;
    link: string;
    linkExpiresAt: Date;
  }
  | {
    kind: "manage";
    guildName: string;
    membership: MembershipSummary;
    /** The member is entitled but lacks the role, and a role job is giving it back. */
    roleRepair?: boolean;
    link: string;
    linkExpiresAt: Date;
  };

/** An ephemeral message reply. */
export type EphemeralReply = APIInteractionResponseChannelMessageWithSource;

/** A private answer to the one who ran the command, mentioning nobody. */
export function ephemeralReply(content: string, locale: Locale): EphemeralReply {
  return {
    type: InteractionResponseType.ChannelMessageWithSource,
    data: {
      content: locale === "ja" ? tidyJapaneseSpacing(content) : content,
      flags: MessageFlags.Ephemeral,
      allowed_mentions: { parse: [] },
    },
  };
}

/** How many plans the reply lists; the plan page shows them all. */
const LISTED_PLANS = 10;

function replyWith(
  content: string,
  button?: { label: string; url: string },
): EphemeralReply {
  const components: APIActionRowComponent<APIButtonComponentWithURL>[] | undefined = button
    ? [{
      type: ComponentType.ActionRow,
      components: [{
        type: ComponentType.Button,
        style: ButtonStyle.Link,
        label: button.label,
        url: button.url,
      }],
    }]
    : undefined;
  return {
    type: InteractionResponseType.ChannelMessageWithSource,
    data: {
      content,
      flags: MessageFlags.Ephemeral,
      allowed_mentions: { parse: [] },
      ...(components ? { components } : {}),
    },
  };
}

/**
 * Escapes Discord's inline markdown in operator-written text (server and plan names); the names
 * never start a line, so line-start markup (`#`, `-`, `>`) cannot trigger.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_~`|])/g, "\\$1");
}

function timestamp(date: Date, style: "R" | "D"): string {
  return `<t:${Math.floor(date.getTime() / 1000)}:${style}>`;
}

function planName(display: PlanDisplay, locale: Locale): string {
  return escapeMarkdown((locale === "ja" ? display.ja?.name : undefined) ?? display.en.name);
}

function planLine(plan: PlanSummary, locale: Locale): string {
  const { sale } = plan;
  const price = formatPlanTerms(
    sale.kind === "subscription"
      ? {
        kind: "subscription",
        unitAmount: plan.unitAmount,
        currency: plan.currency,
        interval: sale.billingInterval,
        intervalCount: sale.intervalCount,
      }
      : {
        kind: "pass",
        unitAmount: plan.unitAmount,
        currency: plan.currency,
        accessSeconds: sale.accessSeconds,
      },
    locale,
  );
  return `• ${planName(plan.display, locale)}: ${price}`;
}

function listPlans(plans: PlanSummary[], locale: Locale): string {
  const lines = plans.slice(0, LISTED_PLANS).map((plan) => planLine(plan, locale));
  const more = plans.length - LISTED_PLANS;
  if (more > 0) lines.push(locale === "ja" ? `…ほか${more}件` : `…and ${more} more`);
  return lines.join("\n");
}

/**
 * What a pass holder is told first: the pass and until when, with renewal from the page; a
 * lifetime pass is theirs for good.
 */
function passText(pass: PassSummary, guild: string, locale: Locale): string {
  const plan = `**${planName(pass.plan, locale)}**`;
  if (locale === "ja") {
    return pass.accessUntil
      ? `${guild} の ${plan} をお持ちです（${
        timestamp(pass.accessUntil, "D")
      }まで）。同じプランを購入すると、その日から期間が延長されます。\n\n`
      : `${guild} の ${plan} をお持ちです。期限はなく、ずっとご利用いただけます。\n\n`;
  }
  return pass.accessUntil
    ? `You have ${plan} on ${guild} until ${
      timestamp(pass.accessUntil, "D")
    }. Buying it again extends it from that date.\n\n`
    : `You have ${plan} on ${guild} for good: it never expires.\n\n`;
}

/**
 * The reply to `/subscribe` in a server.
 * @param outcome what the database said about the server's plans and the member
 * @param locale the member's language
 */
export function subscribeReply(outcome: SubscribeOutcome, locale: Locale): EphemeralReply {
  const ja = locale === "ja";
  // Operator names can end in full-width punctuation ("雑談部屋（公式）"), which takes no space.
  const reply = (content: string, button?: { label: string; url: string }) =>
    replyWith(ja ? tidyJapaneseSpacing(content) : content, button);
  if (outcome.kind === "no_plan") {
    const server = outcome.guildName ? `**${escapeMarkdown(outcome.guildName)}**` : null;
    if (ja) {
      return reply(
        `${
          server ? `${server} では` : "このサーバーでは"
        }まだ有料ロールのプランが用意されていません。` +
          "サーバーの運営者にお問い合わせください。",
      );
    }
    return reply(
      `${server ?? "This server"} has no paid role plan yet. Please ask the server's operators.`,
    );
  }

  const guild = `**${escapeMarkdown(outcome.guildName)}**`;
  const expires = timestamp(outcome.linkExpiresAt, "R");
  if (outcome.kind === "join") {
    const plans = listPlans(outcome.plans, locale);
    const held = outcome.pass ? passText(outcome.pass, guild, locale) : "";
    const passPlan = outcome.pass ? `**${planName(outcome.pass.plan, locale)}**` : null;
    const repair = outcome.roleRepair ? `${repairText(passPlan, locale)}\n\n` : "";
    const renewable = outcome.pass?.accessUntil !== null && outcome.pass !== undefined &&
      outcome.pass !== null;
    if (ja) {
      return reply(
        `${held}${repair}${guild} のプラン:\n${plans}\n\n` +
          `下のボタンからあなた専用のページを開いて、プランを選んでください。` +
          `このリンクは1回だけ使え、${expires}に期限が切れます。誰にも共有しないでください。`,
        { label: renewable ? "延長・プランを選ぶ" : "プランを選ぶ", url: outcome.link },
      );
    }
    return reply(
      `${held}${repair}Plans on ${guild}:\n${plans}\n\n` +
        "Open your private page below to choose a plan. " +
        `The link works once and expires ${expires}. Do not share it.`,
      { label: renewable ? "Renew or choose a plan" : "Choose a plan", url: outcome.link },
    );
  }

  const { membership } = outcome;
  const plan = membership.plan
    ? `**${planName(membership.plan, locale)}**`
    : (ja ? "有料ロール" : "the paid role");
  const situation = standingText(membership.standing, guild, plan, locale);
  const repair = outcome.roleRepair
    ? `\n\n${repairText(membership.plan ? plan : null, locale)}`
    : "";
  const linkNote = ja
    ? `\n\nこのリンクは1回だけ使え、${expires}に期限が切れます。誰にも共有しないでください。`
    : `\n\nThe link works once and expires ${expires}. Do not share it.`;
  return reply(situation + repair + linkNote, {
    label: ja ? "サブスクリプションを管理" : "Manage subscription",
    url: outcome.link,
  });
}

/** What a member who lacked their role is told: a job is giving back `plan`'s role (bold). */
function repairText(plan: string | null, locale: Locale): string {
  if (locale === "ja") {
    const role = plan ? `${plan} のロール` : "有料ロール";
    return `${role}が付いていなかったため、付け直しを手配しました。数秒で戻ります。`;
  }
  const role = plan ? `the ${plan} role` : "the paid role";
  return `You did not have ${role} on the server, so it is being given back now. ` +
    "It should appear within seconds.";
}

/**
 * The reply when `/subscribe` is used outside a server (in a DM with the bot).
 * @param commandMention `</subscribe:id>`, which Discord shows in the member's language
 */
export function dmRefusalReply(locale: Locale, commandMention: string): EphemeralReply {
  return replyWith(
    locale === "ja"
      ? `${commandMention} はサーバーの中で使うコマンドです。ロールを購入したいサーバーのチャンネルで実行してください。`
      : `${commandMention} works inside a server. Run it in a channel of the server whose role you want.`,
  );
}

/** The reply to a command this application does not (or no longer) offers. */
export function unknownCommandReply(locale: Locale): EphemeralReply {
  return replyWith(
    locale === "ja"
      ? "このコマンドは現在使えません。/サブスク (/subscribe) をお使いください。"
      : "This command is not available any more. Please use /subscribe.",
  );
}

/** The reply to a button or form this application did not send (or no longer handles). */
export function unsupportedInteractionReply(locale: Locale): EphemeralReply {
  return replyWith(
    locale === "ja"
      ? "この操作は現在使えません。/サブスク (/subscribe) をもう一度実行してください。"
      : "This action is not available any more. Please run /subscribe again.",
  );
}

/** The reply when the database could not be reached; nothing was stored. */
export function unavailableReply(locale: Locale, commandMention: string): EphemeralReply {
  return replyWith(
    locale === "ja"
      ? `ただいま処理できませんでした。少し待ってから ${commandMention} をもう一度実行してください。`
      : `Something went wrong on our side. Please run ${commandMention} again in a minute.`,
  );
}

/** The path of the plan page (join) or the portal redirect (manage) for a link token. */
export function linkPath(purpose: LinkPurpose, token: string): string {
  return `/${purpose}/${token}`;
}

/** What the manage reply says about the member's standing, and what the portal fixes. */
function standingText(
  standing: MemberStanding,
  guild: string,
  plan: string,
  locale: Locale,
): string {
  const date = (at: Date | null) => (at ? timestamp(at, "D") : null);
  if (locale === "ja") {
    switch (standing.kind) {
      case "refunded":
        return `${guild} の ${plan} は返金されたため、ロールを外しています。` +
          "続けるには、ポータルでサブスクリプションの状態をご確認ください。";
      case "disputed":
        return `${guild} の ${plan} の支払いに異議申し立てがあるため、結果が出るまでロールを外しています。` +
          "心当たりがない場合は、カード会社への申し立てを取り下げてください。";
      case "past_due_in_grace": {
        const until = date(standing.until);
        return `${guild} の ${plan} の更新料金をお支払いいただけていません。` +
          (until ? `ロールは ${until} まで有効です。` : "") +
          "ポータルでお支払い方法を更新してください。";
      }
      case "past_due":
      case "unpaid":
        return `${guild} の ${plan} の更新料金が未払いのため、ロールを外しています。` +
          "ポータルでお支払い方法を更新すると、ロールが戻ります。";
      case "paused":
        return `${guild} の ${plan} は一時停止中のため、ロールを外しています。ポータルで再開できます。`;
      case "cancel_scheduled":
        return `${guild} の ${plan} のサブスクリプションは ${
          date(standing.endsAt)
        } に終了します。それまではロールをお使いいただけます。` +
          "ポータルで継続に戻すこともできます。";
      case "trialing": {
        const until = date(standing.trialEndsAt);
        return `${guild} の ${plan} を無料でお試し中です。` +
          (until ? `${until} から課金が始まります。` : "") +
          "ポータルでプランの確認や解約ができます。";
      }
      case "active":
        return `${guild} の ${plan} を購読中です。ポータルでカードの変更、プランの確認、解約ができます。`;
      case "inactive":
        return `${guild} の ${plan} のサブスクリプションに対応が必要なため、ロールは現在停止しています。` +
          "ポータルでお支払い方法を確認してください。";
    }
  }
  switch (standing.kind) {
    case "refunded":
      return `Your payment for ${plan} on ${guild} was refunded, so the role is removed. ` +
        "Check the subscription in the portal to continue.";
    case "disputed":
      return `A payment for ${plan} on ${guild} is disputed, so the role is removed until the ` +
        "dispute is settled. If you did not mean to dispute it, withdraw it with your card issuer.";
    case "past_due_in_grace": {
      const until = date(standing.until);
      return `The renewal payment for ${plan} on ${guild} failed.` +
        (until ? ` You keep the role until ${until}.` : "") +
        " Update your payment method in the portal.";
    }
    case "past_due":
    case "unpaid":
      return `The renewal for ${plan} on ${guild} is unpaid, so the role is removed. ` +
        "Update your payment method in the portal and the role comes back.";
    case "paused":
      return `Your subscription to ${plan} on ${guild} is paused, so the role is removed. ` +
        "You can resume it in the portal.";
    case "cancel_scheduled":
      return `Your subscription to ${plan} on ${guild} ends on ${
        date(standing.endsAt)
      }; you keep the role until then. You can resume it in the portal.`;
    case "trialing": {
      const until = date(standing.trialEndsAt);
      return `You are on a free trial of ${plan} on ${guild}.` +
        (until ? ` Billing starts ${until}.` : "") +
        " In the portal you can review the plan or cancel.";
    }
    case "active":
      return `You are subscribed to ${plan} on ${guild}. In the portal you can change your card, ` +
        "review the plan or cancel.";
    case "inactive":
      return `Your subscription to ${plan} on ${guild} needs attention, so the role is paused for now. ` +
        "Check your payment method in the portal.";
  }
}
