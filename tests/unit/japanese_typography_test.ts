/**
 * Every Japanese text the core can produce, built with operator texts that start and end with
 * full-width punctuation, has no ASCII space next to full-width punctuation: Japanese typesetting
 * puts none there ("サポーター（月額）を申し込む", not "サポーター（月額） を申し込む").
 */
import { assert, first } from "../harness/assert.ts";
import {
  adminRefusalReply,
  compGrantedReply,
  compRefusalReply,
  compRevokedReply,
  driftReply,
  failuresReply,
  memberStatusReply,
  overviewReply,
  retryReply,
  type RoleJobSummary,
} from "../../functions/_core/messages/admin.ts";
import type { HealthProblem } from "../../functions/_core/health.ts";
import { healthReply } from "../../functions/_core/messages/health.ts";
import { resyncRefusalReply, resyncReply } from "../../functions/_core/messages/resync.ts";
import { operatorLogText } from "../../functions/_core/messages/operator_log.ts";
import { memberTimelineText } from "../../functions/_core/messages/member_timeline.ts";
import { MEMBER_TIMELINE_KINDS, OPERATOR_LOG_KINDS } from "../../functions/_core/notices.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import {
  operatorAlertMessage,
  type RoleNotice,
  roleNoticeText,
} from "../../functions/_core/messages/role_notice.ts";
import {
  dmRefusalReply,
  type MembershipSummary,
  type PlanSummary,
  subscribeReply,
  unavailableReply,
  unknownCommandReply,
  unsupportedInteractionReply,
} from "../../functions/_core/messages/subscribe.ts";
import type { PlanDisplay } from "../../functions/_core/operator_text.ts";
import { billingIntervalSchema, formatPlanPrice } from "../../functions/_core/price.ts";

const GUILD_NAMES = ["雑談部屋（公式）", "「ゲーム」同好会", "Rolepass Lounge"];
const PLANS: PlanDisplay[] = [
  {
    en: { name: "Supporter", description: "" },
    ja: { name: "サポーター（月額）", description: "" },
  },
  { en: { name: "VIP", description: "" }, ja: { name: "【限定】VIP", description: "" } },
  { en: { name: "Gold", description: "" } },
];
const LINK = "https://plans.example/join/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const LATER = new Date("2026-12-24T10:15:00Z");
const COMMAND = "</subscribe:1100000000000000000>";

function isFullWidthPunctuation(ch: string | undefined): boolean {
  if (ch === undefined || !/\p{P}/u.test(ch)) return false;
  const code = ch.codePointAt(0)!;
  return (code >= 0x3000 && code <= 0x303f) || code === 0x30fb ||
    (code >= 0xff00 && code <= 0xff65);
}

/** The spaces a reader sees next to full-width punctuation, with Discord's emphasis hidden. */
function spacingProblems(text: string): string[] {
  const shown = text.replace(/\*\*|__|~~/g, "");
  const problems: string[] = [];
  for (let i = 0; i < shown.length; i++) {
    if (shown[i] !== " ") continue;
    if (isFullWidthPunctuation(shown[i - 1]) || isFullWidthPunctuation(shown[i + 1])) {
      problems.push(`…${shown.slice(Math.max(0, i - 12), i + 12)}…`);
    }
  }
  return problems;
}

function subscribeTexts(): string[] {
  const plans: PlanSummary[] = PLANS.flatMap((display) => [{
    display,
    unitAmount: 500,
    currency: "jpy",
    sale: { kind: "subscription", billingInterval: "month", intervalCount: 1 },
  }, {
    display,
    unitAmount: 3000,
    currency: "jpy",
    sale: { kind: "pass", accessSeconds: 30 * 86_400 },
  }, {
    display,
    unitAmount: 20000,
    currency: "jpy",
    sale: { kind: "pass", accessSeconds: null },
  }]);
  const memberships: MembershipSummary[] = [...PLANS, null].flatMap((plan) => [
    { plan, standing: { kind: "active" } },
    { plan, standing: { kind: "cancel_scheduled", endsAt: LATER } },
    { plan, standing: { kind: "inactive" } },
    { plan, standing: { kind: "refunded" } },
    { plan, standing: { kind: "disputed" } },
    { plan, standing: { kind: "past_due_in_grace", until: LATER } },
    { plan, standing: { kind: "past_due_in_grace", until: null } },
    { plan, standing: { kind: "past_due" } },
    { plan, standing: { kind: "unpaid" } },
    { plan, standing: { kind: "paused" } },
    { plan, standing: { kind: "trialing", trialEndsAt: LATER } },
    { plan, standing: { kind: "trialing", trialEndsAt: null } },
  ]);
  const replies = [
    subscribeReply({ kind: "no_plan", guildName: null }, "ja"),
    dmRefusalReply("ja", COMMAND),
    unknownCommandReply("ja"),
    unsupportedInteractionReply("ja"),
    unavailableReply("ja", COMMAND),
    ...GUILD_NAMES.flatMap((guildName) => [
      subscribeReply({ kind: "no_plan", guildName }, "ja"),
      subscribeReply({ kind: "join", guildName, plans, link: LINK, linkExpiresAt: LATER }, "ja"),
      ...PLANS.flatMap((plan) =>
        [LATER, null].map((accessUntil) =>
          subscribeReply({
            kind: "join",
            guildName,
            plans,
            pass: { plan, accessUntil },
            link: LINK,
            linkExpiresAt: LATER,
          }, "ja")
        )
      ),
      ...memberships.map((membership) =>
        subscribeReply(
          { kind: "manage", guildName, membership, link: LINK, linkExpiresAt: LATER },
          "ja",
        )
      ),
    ]),
  ];
  return replies.flatMap((reply) => [
    reply.data?.content ?? "",
    // The link button's label, wherever the reply's component rows put it.
    ...JSON.stringify(reply.data?.components ?? []).matchAll(/"label":"([^"]*)"/g)
      .map((match) => match[1] ?? ""),
  ]);
}

function roleNoticeTexts(): string[] {
  const notices: RoleNotice[] = GUILD_NAMES.flatMap((guildName) =>
    [...PLANS, null].flatMap((plan) =>
      [
        { kind: "grant", endsAt: null, revokedReason: null },
        { kind: "grant", endsAt: LATER, revokedReason: null },
        { kind: "restore", endsAt: null, revokedReason: null },
        { kind: "restore", endsAt: LATER, revokedReason: null },
        { kind: "swap", endsAt: null, revokedReason: null },
        { kind: "swap", endsAt: LATER, revokedReason: null },
        { kind: "revoke", endsAt: null, revokedReason: null },
        { kind: "revoke", endsAt: null, revokedReason: "refund" },
        { kind: "revoke", endsAt: null, revokedReason: "dispute" },
      ].map((change) =>
        ({
          ...change,
          locale: "ja",
          guildName,
          plan,
          roleId: "1200000000000000000",
        }) as RoleNotice
      )
    )
  );
  const reasons = [
    "unknown_role",
    "missing_permissions",
    "missing_access",
    "unknown_guild",
    "unauthorized",
    "forbidden",
    "invalid_request",
    "gave_up",
  ] as const;
  const alerts = reasons.flatMap((reason) =>
    (["grant", "revoke"] as const).map((action) =>
      operatorAlertMessage({
        locale: "ja",
        action,
        roleId: "1200000000000000000",
        memberId: "1300000000000000000",
        reason,
        detail: "50013 Missing Permissions",
        jobId: 42,
      }).content ?? ""
    )
  );
  const logLines = OPERATOR_LOG_KINDS.filter((kind) => kind !== "role_failure").map((kind) =>
    operatorLogText(kind, "ja", {
      memberId: "1300000000000000000",
      planName: "ゴールド",
      amount: "¥500",
      reason: "返金（全額）",
      at: new Date("2026-12-31T00:00:00Z"),
    })
  );
  const timeline = MEMBER_TIMELINE_KINDS.flatMap((kind) =>
    [new Date("2026-12-31T00:00:00Z"), null].flatMap((at) =>
      GUILD_NAMES.flatMap((guildName) =>
        [[], ["1200000000000000000"], ["1200000000000000000", "1200000000000000001"]].map((
          roleIds,
        ) =>
          memberTimelineText(kind, "ja", { guildName, plan: first(PLANS, "a plan"), at, roleIds })
        )
      )
    )
  );
  return [...notices.map(roleNoticeText), ...alerts, ...logLines, ...timeline];
}

function planPageTexts(): string[] {
  const texts: string[] = [];
  const names = [...GUILD_NAMES, ...PLANS.map((plan) => plan.ja?.name ?? plan.en.name)];
  const collect = (value: unknown) => {
    if (typeof value === "string") texts.push(value);
    else if (typeof value === "function") {
      for (const first of names) {
        texts.push(value(first));
        for (const second of names) texts.push(value(first, second));
      }
    } else if (value && typeof value === "object") Object.values(value).forEach(collect);
  };
  collect(planPageMessages("ja"));
  for (const interval of billingIntervalSchema.options) {
    for (const intervalCount of [1, 3]) {
      texts.push(
        formatPlanPrice({ unitAmount: 500, currency: "jpy", interval, intervalCount }, "ja"),
      );
    }
  }
  return texts;
}

function adminTexts(): string[] {
  const jobs: RoleJobSummary[] = (["done", "failed"] as const).flatMap((status) =>
    [true, false].map((grants) => ({
      id: 7,
      memberId: "1300000000000000000",
      grants,
      roleId: grants ? "1200000000000000000" : null,
      status,
      outcome: status === "failed" ? "missing_permissions" : null,
      lastError: status === "failed" ? "Missing Permissions (50013)" : null,
      at: LATER,
    }))
  );
  const reasons = [
    "no_subscription",
    "incomplete",
    "incomplete_expired",
    "canceled",
    "unpaid",
    "paused",
    "past_due",
    "grace_period_ended",
    "scheduled_cancel_took_effect",
    "refund",
    "dispute",
  ] as const;
  const replies = [
    memberStatusReply(null, "1300000000000000000", "ja"),
    ...[...PLANS, null].flatMap((plan) =>
      [
        { entitled: true as const, until: null },
        { entitled: true as const, until: LATER },
        ...reasons.map((reason) => ({ entitled: false as const, reason })),
      ].map((entitlement) =>
        memberStatusReply(
          {
            memberId: "1300000000000000000",
            plan,
            stripeStatus: "active",
            currentPeriodEnd: LATER,
            scheduledCancelAt: LATER,
            entitlement,
            lastRoleJob: jobs[1] ?? null,
            comp: { roleId: "1200000000000000000", expiresAt: plan ? LATER : null },
            stripeCustomerUrl: "https://dashboard.stripe.com/test/customers/cus_1",
          },
          "1300000000000000000",
          "ja",
        )
      )
    ),
    overviewReply({
      members: PLANS.map((plan) => ({ plan, status: "active", count: 2 })),
      monthlyRevenue: new Map([["jpy", 1000], ["usd", 1000]]),
      queue: { pending: 1, running: 0, failed: 1, oldestOpenAt: LATER },
      recentFailures: jobs,
    }, "ja"),
    overviewReply({
      members: [],
      monthlyRevenue: new Map(),
      queue: { pending: 0, running: 0, failed: 0, oldestOpenAt: null },
      recentFailures: [],
    }, "ja"),
    failuresReply(jobs, "ja"),
    failuresReply([], "ja"),
    retryReply(0, "ja"),
    retryReply(3, "ja"),
    ...([
      "not_in_server",
      "missing_permission",
      "unknown_subcommand",
      "unavailable",
      "needs_bot_token",
      "discord_unavailable",
      "unknown_guild",
    ] as const).map((refusal) => adminRefusalReply(refusal, "ja")),
    ...[true, false].map((completed) =>
      driftReply({
        completed,
        detail: completed ? null : "Missing Access (50001)",
        membersChecked: 20,
        comped: 1,
        findings: completed ? [] : [
          { kind: "missing_role", userId: "1300000000000000000", roleId: "1200000000000000000" },
          {
            kind: "unpaid_role",
            userId: "1300000000000000001",
            roleId: "1200000000000000000",
            rolepassGranted: false,
          },
        ],
      }, "ja")
    ),
    ...[...PLANS, null].flatMap((plan) =>
      [null, LATER].map((expiresAt) =>
        compGrantedReply({
          memberId: "1300000000000000000",
          roleId: "1200000000000000000",
          plan,
          expiresAt,
          replacedRoleId: expiresAt ? "1200000000000000001" : null,
        }, "ja")
      )
    ),
    compRevokedReply("1300000000000000000", "1200000000000000000", "ja"),
    compRevokedReply("1300000000000000000", null, "ja"),
    ...(["not_a_plan_role", "date_passed", "malformed_date"] as const)
      .map((refusal) => compRefusalReply(refusal, "ja")),
    ...resyncAndHealthReplies(),
  ];
  return replies.map((reply) => reply.data.content ?? "");
}

function resyncAndHealthReplies() {
  const memberId = "1300000000000000000";
  const roleId = "1200000000000000000";
  const otherRoleId = "1200000000000000001";
  const problems: HealthProblem[] = [
    { code: "bot_not_in_guild" },
    { code: "no_manage_roles" },
    { code: "role_outranks_bot", roleId, roleName: "サポーター（月額）" },
    ...PLANS.flatMap((plan): HealthProblem[] => [
      { code: "role_missing", roleId, planName: plan.ja?.name ?? plan.en.name },
      { code: "role_managed", roleId, planName: plan.ja?.name ?? plan.en.name },
    ]),
    { code: "log_channel_unknown", channelId: roleId },
    { code: "log_channel_no_access", channelId: roleId },
    { code: "members_intent_off" },
    { code: "webhook_missing", url: "https://p.supabase.co/functions/v1/stripe-webhook" },
    { code: "webhook_missing", url: null },
    { code: "webhook_disabled" },
    { code: "webhook_events_missing", events: ["invoice.paid", "charge.refunded"] },
    { code: "portal_not_configured" },
    { code: "portal_no_cancel" },
    { code: "portal_no_card_update" },
  ];
  return [
    resyncRefusalReply("unknown_member", memberId, "ja"),
    resyncRefusalReply("no_customer", memberId, "ja"),
    resyncReply({ kind: "stripe_unavailable", memberId, detail: "HTTP 500" }, "ja"),
    resyncReply({ kind: "stripe_not_configured", memberId }, "ja"),
    resyncReply({ kind: "no_subscription", memberId }, "ja"),
    ...[[], [roleId], [roleId, otherRoleId]].flatMap((repairedRoleIds) => [
      resyncReply({
        kind: "synced",
        memberId,
        changes: [],
        roleId,
        status: "active",
        repairedRoleIds,
      }, "ja"),
      resyncReply({
        kind: "synced",
        memberId,
        changes: [
          { field: "status", from: null, to: "active" },
          { field: "role", from: null, to: roleId },
          { field: "role", from: roleId, to: null },
        ],
        roleId: null,
        status: null,
        repairedRoleIds,
      }, "ja"),
    ]),
    healthReply({ checked: [], unanswered: [], problems: [] }, "ja", { stripeChecked: true }),
    healthReply(
      {
        checked: ["discord.guild"],
        unanswered: [{ check: "stripe.webhook", detail: "HTTP 500" }],
        problems: problems.map((problem) => ({ check: "discord.roles", key: "k", problem })),
      },
      "ja",
      { stripeChecked: false },
    ),
  ];
}

for (
  const [source, texts] of [
    ["the /subscribe replies", subscribeTexts],
    ["the role notices and operator alerts", roleNoticeTexts],
    ["the plan page and prices", planPageTexts],
    ["the /rolepass replies", adminTexts],
  ] as const
) {
  Deno.test(`${source} put no ASCII space next to full-width punctuation in Japanese`, () => {
    const all = texts();
    assert(all.length > 10, "the scan found the texts");
    const problems = all.flatMap(spacingProblems);
    assert(
      problems.length === 0,
      `${problems.length} spaces:\n${[...new Set(problems)].join("\n")}`,
    );
  });
}

Deno.test("the scan itself catches a space on either side, also behind Discord's emphasis", () => {
  assert(spacingProblems("サポーター（月額） を申し込む").length === 1);
  assert(spacingProblems("外しました。 再開するには").length === 1);
  assert(spacingProblems("**雑談部屋（公式）** のプラン").length === 1);
  assert(spacingProblems("Rolepass Lounge のプラン").length === 0);
});
