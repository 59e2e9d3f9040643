/**
 * The operators' console (`/rolepass`), decided without I/O: who may use it, which subcommands
 * exist, what a member's state means, and monthly recurring revenue per currency.
 */
import { PermissionFlagsBits } from "discord-api-types/v10";
import { DISCORD_ID_PATTERN } from "./discord_id.ts";
import { decideEntitlement, type NotEntitledReason, scheduledCancelAt } from "./entitlement.ts";
import type { BillingInterval } from "./price.ts";
import type { SubscriptionStatus } from "./stripe_shapes.ts";

/** A subcommand of `/rolepass`, as registered. */
export interface AdminSubcommand {
  name: AdminSubcommandName;
  /** Japanese name (Discord shows it to members using Japanese). */
  ja: string;
  description: { en: string; ja: string };
  /** The options it takes, in order; `commands.ts` describes each. */
  options: readonly AdminOptionName[];
}

/** The subcommands rolepass answers. */
export type AdminSubcommandName =
  | "status"
  | "overview"
  | "failures"
  | "retry"
  | "grant"
  | "revoke"
  | "drift"
  | "resync"
  | "health"
  | "onboarding"
  | "dashboard";

/** An option of a subcommand: the member, the plan's role, the comp's last day. */
export type AdminOptionName = "member" | "plan" | "until";

/** Every subcommand, in the order Discord lists them. */
export const ADMIN_SUBCOMMANDS: readonly AdminSubcommand[] = [
  {
    name: "status",
    ja: "状態",
    description: {
      en: "A member's plan, Stripe status, entitlement and last role change",
      ja: "メンバーのプラン、Stripeの状態、ロールの有無と理由、最後のロール変更",
    },
    options: ["member"],
  },
  {
    name: "overview",
    ja: "概要",
    description: {
      en: "Members per plan and status, monthly revenue per currency, queue health",
      ja: "プラン・状態ごとのメンバー数、通貨ごとの月間売上、キューの状態",
    },
    options: [],
  },
  {
    name: "failures",
    ja: "失敗",
    description: {
      en: "Role changes that failed, why, and what fixes them",
      ja: "失敗したロール変更とその理由、直し方",
    },
    options: [],
  },
  {
    name: "retry",
    ja: "再試行",
    description: {
      en: "Try this server's failed role changes again",
      ja: "このサーバーで失敗したロール変更をもう一度試します",
    },
    options: [],
  },
  {
    name: "grant",
    ja: "付与",
    description: {
      en: "Give a member a plan's role for free (a comp), until a day you choose or until revoked",
      ja: "メンバーにプランのロールを無料で付与します（指定日まで、または取り消すまで）",
    },
    options: ["member", "plan", "until"],
  },
  {
    name: "revoke",
    ja: "取り消し",
    description: {
      en: "End a member's comp; a paying member keeps their role",
      ja: "メンバーへの無料付与を取り消します（支払い中のメンバーのロールは残ります）",
    },
    options: ["member"],
  },
  {
    name: "drift",
    ja: "ずれ",
    description: {
      en: "What reconciliation would change: paid roles missing or held without paying",
      ja: "整合処理で変わる内容：足りない有料ロールと、支払いなしで持たれている有料ロール",
    },
    options: [],
  },
  {
    name: "resync",
    ja: "再同期",
    description: {
      en: "Re-read a member's subscription from Stripe and repair their role now",
      ja: "メンバーのサブスクリプションをStripeから読み直し、ロールをすぐに直します",
    },
    options: ["member"],
  },
  {
    name: "health",
    ja: "診断",
    description: {
      en: "Check the bot's permissions, the plan roles, the log channel and Stripe's settings",
      ja: "ボットの権限、プランのロール、運営ログのチャンネル、Stripeの設定を確認します",
    },
    options: [],
  },
  {
    name: "onboarding",
    ja: "売上受取の登録",
    description: {
      en: "Get a private link to set up the Stripe account this server's sales are paid to",
      ja: "このサーバーの売上を受け取るStripeアカウントの登録リンクを、あなただけに送ります",
    },
    options: [],
  },
  {
    name: "dashboard",
    ja: "売上の管理画面",
    description: {
      en: "Get a private link to this server's Stripe dashboard: payouts, statements, exports",
      ja:
        "このサーバーのStripeの管理画面（入金・明細・書き出し）へのリンクを、あなただけに送ります",
    },
    options: [],
  },
];

/** Manage Server or Administrator: what `/rolepass` asks of the member on every request. */
const ADMIN_PERMISSIONS = PermissionFlagsBits.ManageGuild | PermissionFlagsBits.Administrator;

/**
 * Whether the member who ran the command may administer rolepass in this server.
 * @param permissions the interaction's `member.permissions` (Discord's decimal bit set, which
 *   already folds in channel overwrites); absent or malformed refuses.
 */
export function mayAdminister(permissions: string | null | undefined): boolean {
  if (!permissions || !/^[0-9]{1,40}$/.test(permissions)) return false;
  return (BigInt(permissions) & ADMIN_PERMISSIONS) !== 0n;
}

/** What the operator asked for, read from the interaction's options. */
export type AdminRequest =
  | { subcommand: "status" | "revoke" | "resync"; memberId: string }
  | { subcommand: "grant"; memberId: string; roleId: string; lastDay: string | null }
  | {
    subcommand: "overview" | "failures" | "retry" | "drift" | "health" | "onboarding" | "dashboard";
  };

/** One option as Discord nests them under a subcommand. */
export interface CommandOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: CommandOption[];
}

/**
 * Reads the subcommand and its options; null when they are not one rolepass answers (a command
 * registered by an older version, or a body not shaped by Discord).
 */
export function parseAdminRequest(
  options: readonly CommandOption[] | undefined,
): AdminRequest | null {
  const [chosen] = options ?? [];
  if (!chosen) return null;
  const subcommand = ADMIN_SUBCOMMANDS.find((known) => known.name === chosen.name);
  if (!subcommand) return null;
  const value = (name: AdminOptionName) =>
    chosen.options?.find((option) => option.name === name)?.value;
  const discordId = (name: AdminOptionName) => {
    const id = value(name);
    return typeof id === "string" && DISCORD_ID_PATTERN.test(id) ? id : null;
  };
  switch (subcommand.name) {
    case "status":
    case "revoke":
    case "resync": {
      const memberId = discordId("member");
      return memberId ? { subcommand: subcommand.name, memberId } : null;
    }
    case "grant": {
      const memberId = discordId("member");
      const roleId = discordId("plan");
      const until = value("until");
      if (!memberId || !roleId || (until !== undefined && typeof until !== "string")) return null;
      return { subcommand: "grant", memberId, roleId, lastDay: until?.trim() || null };
    }
    default:
      return { subcommand: subcommand.name };
  }
}

/**
 * Reads a comp's last day as the operator typed it (`2027-01-31`): a real calendar day, or null.
 * The day ends at midnight in the server's accounting time zone, which the database applies.
 */
export function parseCompLastDay(text: string): string | null {
  const match = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!match) return null;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
      date.getUTCDate() === day
    ? text
    : null;
}

/** A membership as stored, with the guild's grace period. */
export interface StoredMembership {
  status: SubscriptionStatus | null;
  currentPeriodEnd: Date | null;
  cancelAt: Date | null;
  cancelAtPeriodEnd: boolean;
  pastDueSince: Date | null;
  entitled: boolean;
  revokedReason: "refund" | "dispute" | null;
  pastDueGraceMs: number;
}

/** Why a member holds the paid role or not, as the entitlement rules see the stored facts. */
export type EntitlementExplanation =
  | { entitled: true; until: Date | null }
  | { entitled: false; reason: NotEntitledReason | "no_subscription" };

/**
 * Explains the stored entitlement with the core's own rules (`_core/entitlement.ts`), so the
 * reason shown is the one that decided it.
 */
export function explainEntitlement(
  membership: StoredMembership,
  now: Date,
): EntitlementExplanation {
  if (!membership.status) return { entitled: false, reason: "no_subscription" };
  const decision = decideEntitlement(
    {
      status: membership.status,
      cancelAt: membership.cancelAt,
      cancelAtPeriodEnd: membership.cancelAtPeriodEnd,
      // The stored unpaid-since time is the period start the grace rule counts from.
      currentPeriodStart: membership.pastDueSince,
      currentPeriodEnd: membership.currentPeriodEnd,
    },
    { pastDueGraceMs: membership.pastDueGraceMs },
    now,
    membership.revokedReason,
  );
  if (decision.entitled) return { entitled: true, until: decision.entitledUntil };
  return { entitled: false, reason: decision.reason ?? "no_subscription" };
}

/** When the member's scheduled cancel takes effect, in either billing mode; null when none. */
export function scheduledCancelOf(membership: StoredMembership): Date | null {
  if (!membership.status) return null;
  return scheduledCancelAt({ ...membership, currentPeriodStart: null, status: membership.status });
}

/** The Stripe Dashboard page of a customer; test-mode customers live under `/test/`. */
export function stripeCustomerUrl(customerId: string, testMode: boolean): string {
  return `https://dashboard.stripe.com/${testMode ? "test/" : ""}customers/${customerId}`;
}

/** An entitled membership's plan price, for revenue. */
export interface RecurringPrice {
  unitAmount: number;
  currency: string;
  interval: BillingInterval;
  intervalCount: number;
}

const MONTHS_PER: Record<BillingInterval, number> = {
  day: 12 / 365,
  week: 12 / 52,
  month: 1,
  year: 12,
};

/**
 * Monthly recurring revenue per currency, in each currency's minor units, rounded down. Amounts
 * in different currencies are never added together: there is no rate to add them at.
 */
export function monthlyRecurringRevenue(prices: readonly RecurringPrice[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const price of prices) {
    const monthly = price.unitAmount / (MONTHS_PER[price.interval] * price.intervalCount);
    totals.set(price.currency, (totals.get(price.currency) ?? 0) + monthly);
  }
  return new Map([...totals].sort().map(([currency, total]) => [currency, Math.floor(total)]));
}

/** A member's membership as a resync reads it before and after re-reading Stripe. */
export interface MembershipSnapshot {
  status: SubscriptionStatus | null;
  entitled: boolean;
  roleId: string | null;
}

/** One difference a resync made, named by what the operator sees. */
export type ResyncChange =
  | { field: "status"; from: SubscriptionStatus | null; to: SubscriptionStatus | null }
  | { field: "role"; from: string | null; to: string | null };

/** What re-reading Stripe changed in the membership; empty when it already matched. */
export function resyncChanges(
  before: MembershipSnapshot,
  after: MembershipSnapshot,
): ResyncChange[] {
  const changes: ResyncChange[] = [];
  if (before.status !== after.status) {
    changes.push({ field: "status", from: before.status, to: after.status });
  }
  const roleBefore = before.entitled ? before.roleId : null;
  const roleAfter = after.entitled ? after.roleId : null;
  if (roleBefore !== roleAfter) changes.push({ field: "role", from: roleBefore, to: roleAfter });
  return changes;
}

/**
 * The roles of `entitledRoleIds` (every role the member should hold) that the member lacks in
 * Discord, by the roles Discord sent with the command; unknown roles (null) repair nothing,
 * reconciliation will.
 */
export function missingEntitledRoles(
  entitledRoleIds: readonly string[],
  heldRoleIds: readonly string[] | null,
): string[] {
  if (heldRoleIds === null) return [];
  return entitledRoleIds.filter((roleId) => !heldRoleIds.includes(roleId));
}
