/**
 * What `/rolepass` answers, in the operator's language. Every reply is ephemeral and mentions
 * nobody: the console shows members to the operator without pinging them.
 */
import { InteractionResponseType, MessageFlags } from "discord-api-types/v10";
import type { EntitlementExplanation } from "../admin.ts";
import type { Drift } from "../reconciliation.ts";
import type { Locale } from "../locale.ts";
import { pickText, type PlanDisplay } from "../operator_text.ts";
import { formatAmount } from "../price.ts";
import { REASON_TEXT } from "./role_notice.ts";
import { ephemeralReply, escapeMarkdown } from "./subscribe.ts";

/** The last role job of a member, or of the guild's failures. */
export interface RoleJobSummary {
  id: number;
  memberId: string;
  /** Whether the job gives the role or takes it. */
  grants: boolean;
  roleId: string | null;
  status: "pending" | "running" | "done" | "failed";
  outcome: string | null;
  lastError: string | null;
  at: Date;
}

/** What `status` shows of one member. */
export interface MemberStatus {
  memberId: string;
  plan: PlanDisplay | null;
  stripeStatus: string | null;
  currentPeriodEnd: Date | null;
  scheduledCancelAt: Date | null;
  entitlement: EntitlementExplanation;
  lastRoleJob: RoleJobSummary | null;
  /** The comp in force, if an operator gave one. */
  comp: { roleId: string; expiresAt: Date | null } | null;
  /** The customer's page in the Stripe Dashboard, when there is a customer. */
  stripeCustomerUrl: string | null;
}

/** What `overview` shows of the guild. */
export interface GuildOverview {
  members: { plan: PlanDisplay | null; status: string | null; count: number }[];
  /** Minor units per currency. */
  monthlyRevenue: Map<string, number>;
  queue: { pending: number; running: number; failed: number; oldestOpenAt: Date | null };
  recentFailures: RoleJobSummary[];
}

function when(date: Date): string {
  return `<t:${Math.floor(date.getTime() / 1000)}:f>`;
}

function planName(plan: PlanDisplay | null, locale: Locale): string {
  if (!plan) return locale === "ja" ? "なし" : "none";
  return escapeMarkdown((locale === "ja" ? plan.ja?.name : undefined) ?? plan.en.name);
}

const ENTITLEMENT_REASON: Record<
  Extract<EntitlementExplanation, { entitled: false }>["reason"],
  { en: string; ja: string }
> = {
  no_subscription: { en: "no subscription", ja: "サブスクリプションがありません" },
  incomplete: { en: "first payment not completed", ja: "初回の支払いが完了していません" },
  incomplete_expired: { en: "first payment never completed", ja: "初回の支払いが期限切れです" },
  canceled: { en: "subscription canceled", ja: "サブスクリプションは解約済みです" },
  unpaid: { en: "renewal unpaid", ja: "更新料金が未払いです" },
  paused: { en: "subscription paused", ja: "サブスクリプションは一時停止中です" },
  past_due: {
    en: "renewal payment failed (no grace period)",
    ja: "更新の支払いに失敗しました（猶予期間なし）",
  },
  grace_period_ended: {
    en: "renewal payment failed and the grace period ended",
    ja: "更新の支払いに失敗し、猶予期間が終わりました",
  },
  scheduled_cancel_took_effect: {
    en: "scheduled cancellation took effect",
    ja: "予約された解約が有効になりました",
  },
  refund: { en: "payment refunded", ja: "支払いが返金されました" },
  dispute: { en: "payment disputed", ja: "支払いに異議申し立てがありました" },
};

function entitlementLine(entitlement: EntitlementExplanation, locale: Locale): string {
  const ja = locale === "ja";
  if (entitlement.entitled) {
    const until = entitlement.until
      ? (ja ? `（${when(entitlement.until)}まで）` : ` until ${when(entitlement.until)}`)
      : "";
    return ja ? `ロール：あり${until}` : `Role: yes${until}`;
  }
  const why = pickText(ENTITLEMENT_REASON[entitlement.reason], locale);
  return ja ? `ロール：なし（${why}）` : `Role: no (${why})`;
}

function jobLine(job: RoleJobSummary, locale: Locale): string {
  const ja = locale === "ja";
  const role = job.roleId ? `<@&${job.roleId}>` : ja ? "ロール" : "role";
  const action = job.grants ? (ja ? "付与" : "grant") : (ja ? "削除" : "removal");
  const state = ja
    ? { pending: "待機中", running: "実行中", done: "完了", failed: "失敗" }[job.status]
    : job.status;
  const detail = [job.outcome, job.lastError].filter(Boolean).join(": ");
  return ja
    ? `<@${job.memberId}> の${role}の${action}：${state}${detail ? `（${detail}）` : ""}、${
      when(job.at)
    }、ジョブ${job.id}`
    : `${role} ${action} for <@${job.memberId}>: ${state}${detail ? ` (${detail})` : ""}, ${
      when(job.at)
    }, job ${job.id}`;
}

function fixLine(job: RoleJobSummary, locale: Locale): string {
  const known = job.outcome && job.outcome in REASON_TEXT
    ? REASON_TEXT[job.outcome as keyof typeof REASON_TEXT]
    : REASON_TEXT.gave_up;
  return `  → ${pickText(known, locale)}`;
}

/** The reply to `status <member>`; `null` when rolepass has never seen the member here. */
export function memberStatusReply(status: MemberStatus | null, memberId: string, locale: Locale) {
  const ja = locale === "ja";
  if (!status) {
    return ephemeralReply(
      ja
        ? `<@${memberId}> の記録はこのサーバーにありません（登録したことがありません）。`
        : `rolepass has no record of <@${memberId}> in this server (they never subscribed).`,
      locale,
    );
  }
  const lines = [
    ja ? `**<@${status.memberId}> の状態**` : `**Status of <@${status.memberId}>**`,
    `${ja ? "プラン：" : "Plan: "}${planName(status.plan, locale)}`,
    `${ja ? "Stripeの状態：" : "Stripe status: "}${status.stripeStatus ?? (ja ? "なし" : "none")}`,
  ];
  if (status.currentPeriodEnd) {
    lines.push(`${ja ? "現在の期間の終了：" : "Period ends: "}${when(status.currentPeriodEnd)}`);
  }
  if (status.scheduledCancelAt) {
    lines.push(`${ja ? "解約予定：" : "Cancels: "}${when(status.scheduledCancelAt)}`);
  }
  lines.push(entitlementLine(status.entitlement, locale));
  if (status.comp) lines.push(compLine(status.comp, locale));
  lines.push(
    status.lastRoleJob
      ? `${ja ? "最後のロール変更：" : "Last role change: "}${jobLine(status.lastRoleJob, locale)}`
      : (ja ? "ロール変更はまだありません" : "No role change yet"),
  );
  if (status.stripeCustomerUrl) {
    lines.push(`${ja ? "Stripe：" : "Stripe: "}<${status.stripeCustomerUrl}>`);
  }
  return ephemeralReply(lines.join("\n"), locale);
}

/** The reply to `overview`. */
export function overviewReply(overview: GuildOverview, locale: Locale) {
  const ja = locale === "ja";
  const lines = [ja ? "**メンバー（プラン・状態別）**" : "**Members by plan and status**"];
  if (overview.members.length === 0) lines.push(ja ? "まだいません" : "none yet");
  for (const row of overview.members) {
    lines.push(
      `• ${planName(row.plan, locale)} / ${row.status ?? (ja ? "なし" : "none")}: ${row.count}`,
    );
  }
  lines.push(ja ? "**月間経常収益（通貨別）**" : "**Monthly recurring revenue (per currency)**");
  if (overview.monthlyRevenue.size === 0) lines.push(ja ? "なし" : "none");
  for (const [currency, amount] of overview.monthlyRevenue) {
    lines.push(`• ${formatAmount(amount, currency, locale)}`);
  }
  const { queue } = overview;
  lines.push(ja ? "**ロール変更キュー**" : "**Role queue**");
  lines.push(
    ja
      ? `待機中${queue.pending}件、実行中${queue.running}件、失敗${queue.failed}件`
      : `${queue.pending} pending, ${queue.running} running, ${queue.failed} failed`,
  );
  if (queue.oldestOpenAt) {
    lines.push(`${ja ? "最も古い未処理：" : "Oldest open since "}${when(queue.oldestOpenAt)}`);
  }
  if (overview.recentFailures.length > 0) {
    lines.push(ja ? "**最近の失敗**" : "**Recent failures**");
    for (const job of overview.recentFailures) lines.push(`• ${jobLine(job, locale)}`);
  }
  return ephemeralReply(lines.join("\n"), locale);
}

/** The reply to `failures`. */
export function failuresReply(failures: RoleJobSummary[], locale: Locale) {
  const ja = locale === "ja";
  if (failures.length === 0) {
    return ephemeralReply(
      ja ? "失敗したロール変更はありません。" : "No failed role changes.",
      locale,
    );
  }
  const lines = [ja ? "**失敗したロール変更**" : "**Failed role changes**"];
  for (const job of failures) lines.push(`• ${jobLine(job, locale)}`, fixLine(job, locale));
  lines.push(
    ja
      ? "原因を直したら `/rolepass retry` で再実行できます。"
      : "Once fixed, run `/rolepass retry` to try them again.",
  );
  return ephemeralReply(lines.join("\n"), locale);
}

/** The reply to `retry`. */
export function retryReply(requeued: number, locale: Locale) {
  return ephemeralReply(
    locale === "ja"
      ? (requeued === 0
        ? "再試行するロール変更はありません。"
        : `失敗したロール変更${requeued}件をもう一度実行します。`)
      : (requeued === 0
        ? "No failed role changes to retry."
        : `Trying ${requeued} failed role change(s) again.`),
    locale,
  );
}

function compLine(comp: { roleId: string; expiresAt: Date | null }, locale: Locale): string {
  const role = `<@&${comp.roleId}>`;
  if (locale === "ja") {
    return `無料付与：${role}（${
      comp.expiresAt ? `${when(comp.expiresAt)}まで` : "取り消すまで"
    }）`;
  }
  return `Comp: ${role} ${comp.expiresAt ? `until ${when(comp.expiresAt)}` : "until revoked"}`;
}

/** A comp just given, as `grant` reports it. */
export interface CompGiven {
  memberId: string;
  roleId: string;
  plan: PlanDisplay | null;
  expiresAt: Date | null;
  /** The role of the comp it replaced, when the member had another. */
  replacedRoleId: string | null;
}

/** The reply to `grant`. */
export function compGrantedReply(comp: CompGiven, locale: Locale) {
  const ja = locale === "ja";
  const role = `<@&${comp.roleId}>`;
  const lines = [
    ja
      ? `<@${comp.memberId}> に${planName(comp.plan, locale)}（${role}）を無料で付与しました（${
        comp.expiresAt ? `${when(comp.expiresAt)}まで` : "取り消すまで"
      }）。まもなくロールが付きます。`
      : `Gave <@${comp.memberId}> ${planName(comp.plan, locale)} (${role}) for free ${
        comp.expiresAt ? `until ${when(comp.expiresAt)}` : "until revoked"
      }. The role follows in a moment.`,
  ];
  if (comp.replacedRoleId) {
    lines.push(
      ja
        ? `以前の無料付与（<@&${comp.replacedRoleId}>）は終了しました。`
        : `This replaces their comp of <@&${comp.replacedRoleId}>.`,
    );
  }
  lines.push(
    ja
      ? "無料付与は支払いとは別に記録され、Stripeの状態が変わってもロールは残ります。"
      : "A comp is recorded apart from payments: the role stays whatever Stripe says.",
  );
  return ephemeralReply(lines.join("\n"), locale);
}

/** The reply to `revoke`: `roleId` is the comp's role, null when the member had no comp. */
export function compRevokedReply(memberId: string, roleId: string | null, locale: Locale) {
  const ja = locale === "ja";
  if (!roleId) {
    return ephemeralReply(
      ja
        ? `<@${memberId}> への無料付与はありません。支払い中のロールは \`/rolepass revoke\` では外せません。`
        : `<@${memberId}> has no comp. \`/rolepass revoke\` never takes a paid role.`,
      locale,
    );
  }
  return ephemeralReply(
    ja
      ? `<@${memberId}> への無料付与（<@&${roleId}>）を取り消しました。支払い中でなければ、まもなくロールが外れます。`
      : `Ended <@${memberId}>'s comp of <@&${roleId}>. Unless they pay for it, the role goes in a moment.`,
    locale,
  );
}

/** Why a comp was not given; nothing was changed. */
export type CompRefusal = "not_a_plan_role" | "date_passed" | "malformed_date";

const COMP_REFUSAL_TEXT: Record<CompRefusal, { en: string; ja: string }> = {
  not_a_plan_role: {
    en: "That role belongs to no plan of this server; a comp gives a plan's role.",
    ja:
      "そのロールはこのサーバーのどのプランにも属していません。無料付与できるのはプランのロールだけです。",
  },
  date_passed: {
    en: "That day has already ended; give a later last day.",
    ja: "その日はすでに終わっています。もっと後の日付を指定してください。",
  },
  malformed_date: {
    en: "Write the last day as 2027-01-31 (year-month-day).",
    ja: "最終日は 2027-01-31（年-月-日）の形で入力してください。",
  },
};

/** The reply when `grant` gives nothing. */
export function compRefusalReply(refusal: CompRefusal, locale: Locale) {
  return ephemeralReply(pickText(COMP_REFUSAL_TEXT[refusal], locale), locale);
}

/** What `drift` found, in the core's terms. */
export interface DriftReport {
  /** False when the pass stopped early (Discord refused or time ran out); `detail` says why. */
  completed: boolean;
  detail: string | null;
  membersChecked: number;
  comped: number;
  findings: readonly Drift[];
}

/** How many differences `drift` lists; Discord caps a message at 2,000 characters. */
const LISTED_DRIFT = 15;

/** The follow-up to `drift`: what reconciliation would change, changing nothing. */
export function driftReply(report: DriftReport, locale: Locale) {
  const ja = locale === "ja";
  const lines = [
    ja
      ? `**ずれの確認**（${report.membersChecked}人を確認、無料付与${report.comped}件、何も変更していません）`
      : `**Drift** (${report.membersChecked} checked, ${report.comped} comp(s); nothing was changed)`,
  ];
  if (!report.completed) {
    lines.push(
      ja
        ? `途中で止まりました：${report.detail ?? "不明"}`
        : `Stopped early: ${report.detail ?? "unknown"}`,
    );
  }
  if (report.findings.length === 0) lines.push(ja ? "ずれはありません。" : "No drift.");
  for (const drift of report.findings.slice(0, LISTED_DRIFT)) {
    const who = `<@${drift.userId}>`;
    const role = `<@&${drift.roleId}>`;
    lines.push(
      drift.kind === "missing_role"
        ? (ja ? `• ${who} は支払い中ですが${role}がありません` : `• ${who} pays but lacks ${role}`)
        : (ja
          ? `• ${who} は支払いなしで${role}を持っています`
          : `• ${who} holds ${role} without paying`),
    );
  }
  if (report.findings.length > LISTED_DRIFT) {
    const more = report.findings.length - LISTED_DRIFT;
    lines.push(ja ? `ほか${more}件` : `and ${more} more`);
  }
  return ephemeralReply(lines.join("\n"), locale);
}

/** The first answer to work that runs past Discord's 3 seconds: "thinking…", seen by the operator. */
export function deferredAdminReply() {
  return {
    type: InteractionResponseType.DeferredChannelMessageWithSource,
    data: { flags: MessageFlags.Ephemeral },
  } as const;
}

/** Why `/rolepass` was not run. */
export type AdminRefusal =
  | "not_in_server"
  | "missing_permission"
  | "unknown_subcommand"
  | "unavailable"
  | "needs_bot_token"
  | "discord_unavailable"
  | "unknown_guild";

const REFUSAL_TEXT: Record<AdminRefusal, { en: string; ja: string }> = {
  needs_bot_token: {
    en: "This deployment has no DISCORD_BOT_TOKEN, so rolepass cannot read the server's members.",
    ja: "このデプロイにはDISCORD_BOT_TOKENがないため、サーバーのメンバーを読めません。",
  },
  unknown_guild: {
    en: "This server is not set up in rolepass yet.",
    ja: "このサーバーはまだrolepassに登録されていません。",
  },
  discord_unavailable: {
    en: "rolepass could not read the server's members from Discord; try again in a minute.",
    ja: "Discordからサーバーのメンバーを読めませんでした。少し待ってからもう一度お試しください。",
  },
  not_in_server: {
    en: "`/rolepass` works only inside a server.",
    ja: "`/rolepass` はサーバー内でのみ使えます。",
  },
  missing_permission: {
    en: "`/rolepass` needs the Manage Server permission.",
    ja: "`/rolepass` を使うには「サーバー管理」権限が必要です。",
  },
  unknown_subcommand: {
    en: "This subcommand is not available; register the commands again.",
    ja: "このサブコマンドは使えません。コマンドを登録し直してください。",
  },
  unavailable: {
    en: "rolepass cannot read its database right now; try again in a minute.",
    ja: "データベースを読めませんでした。少し待ってからもう一度お試しください。",
  },
};

/** The reply when `/rolepass` is refused or cannot run. */
export function adminRefusalReply(refusal: AdminRefusal, locale: Locale) {
  return ephemeralReply(pickText(REFUSAL_TEXT[refusal], locale), locale);
}
