/**
 * The notices outbox's vocabulary: what each kind of message owed to a member or to the operator
 * log channel carries (parsed once when role-sync claims it), and the message it becomes.
 *
 * @module
 */
import type { RESTPostAPIChannelMessageJSONBody } from "discord-api-types/v10";
import { MessageFlags } from "discord-api-types/v10";
import { z } from "zod";
import { operatorAlertMessage, type RoleNotice, roleNoticeText } from "./messages/role_notice.ts";
import { type MemberTimelineKind, memberTimelineText } from "./messages/member_timeline.ts";
import { operatorLogText } from "./messages/operator_log.ts";
import { planDisplaySchema } from "./operator_text.ts";
import { discordIdSchema as snowflake } from "./discord_id.ts";
import { type Locale, localeSchema } from "./locale.ts";
import { formatAmount } from "./price.ts";
import { sameRoleSet } from "./role_plan.ts";

/** A role change told to the member (grant, restore, swap, revoke), as the role job wrote it. */
export const roleChangePayloadSchema = z.object({
  kind: z.enum(["grant", "restore", "swap", "revoke"]),
  locale: localeSchema,
  guildName: z.string(),
  plan: planDisplaySchema.nullable(),
  roleId: snowflake,
  otherRoleIds: z.array(snowflake).optional(),
  endsAt: z.coerce.date().nullable(),
  revokedReason: z.enum(["refund", "dispute", "payment_failed"]).nullable(),
});

/**
 * Role job causes that give back a role the member already pays for: `/subscribe` finding the
 * paid role missing (open_subscribe_link) and reconciliation finding it missing
 * (enqueue_role_repairs), as their SQL names them.
 */
export const ROLE_REPAIR_CAUSES: readonly string[] = [
  "member_asked_role_missing",
  "reconciliation_missing_role",
];

/**
 * Whether a role job's change is news to the member. Flips that cancel out before role-sync runs
 * (revoke then grant, grant then revoke) leave the roles the member had before them: nothing to
 * tell, unless the job repairs a role Discord lost, which is news though the set is the same.
 */
export function roleChangeIsNews(
  previousRoleIds: readonly string[],
  roleIds: readonly string[],
  jobCause: string,
): boolean {
  return ROLE_REPAIR_CAUSES.includes(jobCause) || !sameRoleSet(previousRoleIds, roleIds);
}

/**
 * What the member is told of a role job's change: a grant made by a repair gives back a role
 * already paid for, so it is a restore, not a thank-you for a new subscription.
 */
export function roleChangeNoticeKind(
  change: "grant" | "swap" | "revoke",
  jobCause: string,
): RoleNotice["kind"] {
  return change === "grant" && ROLE_REPAIR_CAUSES.includes(jobCause) ? "restore" : change;
}

/** Member timeline kinds (functions/_core/messages/member_timeline.ts). */
export const MEMBER_TIMELINE_KINDS: readonly MemberTimelineKind[] = [
  "payment_failed",
  "grace_ending",
  "payment_recovered",
  "cancel_scheduled",
  "cancel_undone",
  "plan_changed",
  "trial_ending",
  "pass_ended",
];

/** A member timeline message's facts, as the trigger or the webhook wrote them. */
export const memberTimelinePayloadSchema = z.object({
  guildName: z.string(),
  plan: planDisplaySchema.nullable().catch(null),
  at: z.coerce.date().nullable().optional().transform((at) => at ?? null),
  roleIds: z.array(snowflake).optional(),
});

/** A role job that failed for good, told to the operator. */
export const roleFailurePayloadSchema = z.object({
  action: z.enum(["grant", "revoke"]),
  roleId: snowflake,
  memberId: snowflake,
  reason: z.enum([
    "unknown_role",
    "missing_permissions",
    "missing_access",
    "unknown_guild",
    "unauthorized",
    "forbidden",
    "invalid_request",
    "gave_up",
  ]),
  detail: z.string(),
  jobId: z.number().int(),
});

/**
 * Operator log kinds other than role failures: one short line each, naming the member (mention),
 * and where it applies the plan, the amount and the reason. Never a secret, a card or an email.
 */
export const OPERATOR_LOG_KINDS = [
  "new_subscription",
  "renewal_paid",
  "payment_failed",
  "cancellation_scheduled",
  "subscription_ended",
  "refund",
  "dispute_opened",
  "dispute_closed",
  "dispute_recovered",
  "role_failure",
  "webhook_failing",
  "queue_stalled",
  "health_problem",
  "health_fixed",
  "member_dms_closed",
  "member_notice_failed",
] as const;

/** An operator log kind, as the plans file toggles it. */
export type OperatorLogKind = typeof OPERATOR_LOG_KINDS[number];

/** The facts an operator log line may name. */
export const operatorLogPayloadSchema = z.object({
  memberId: snowflake.optional(),
  planName: z.string().max(100).optional(),
  /** In the currency's minor unit, as Stripe gives it. */
  amountMinor: z.number().int().nonnegative().optional(),
  currency: z.string().regex(/^[a-z]{3}$/).optional(),
  reason: z.string().max(300).optional(),
  /** A date the line names (period end, scheduled end). */
  at: z.coerce.date().optional(),
  noticeKind: z.string().optional(),
});

/** A claimed notice, as its row says. */
export type Notice =
  | {
    audience: "member";
    kind: "role_change";
    payload: z.infer<typeof roleChangePayloadSchema>;
  }
  | {
    audience: "member";
    kind: MemberTimelineKind;
    locale: Locale;
    payload: z.infer<typeof memberTimelinePayloadSchema>;
  }
  | {
    audience: "operator";
    kind: "role_failure";
    locale: Locale;
    payload: z.infer<typeof roleFailurePayloadSchema>;
  }
  | {
    audience: "operator";
    kind: Exclude<OperatorLogKind, "role_failure">;
    locale: Locale;
    payload: z.infer<typeof operatorLogPayloadSchema>;
  };

/** Parses a notice row's kind and payload; an error value names what is wrong. */
export function parseNotice(
  row: { audience: string; kind: string; locale: string; payload: unknown },
): { ok: true; notice: Notice } | { ok: false; reason: string } {
  const locale = localeSchema.safeParse(row.locale);
  if (!locale.success) return { ok: false, reason: `Unknown locale ${row.locale}` };
  if (row.audience === "member" && row.kind === "role_change") {
    const payload = roleChangePayloadSchema.safeParse(row.payload);
    return payload.success
      ? { ok: true, notice: { audience: "member", kind: "role_change", payload: payload.data } }
      : { ok: false, reason: `Cannot read role_change payload: ${payload.error.message}` };
  }
  const timelineKind = MEMBER_TIMELINE_KINDS.find((k) => k === row.kind);
  if (row.audience === "member" && timelineKind) {
    const payload = memberTimelinePayloadSchema.safeParse(row.payload);
    return payload.success
      ? {
        ok: true,
        notice: {
          audience: "member",
          kind: timelineKind,
          locale: locale.data,
          payload: payload.data,
        },
      }
      : { ok: false, reason: `Cannot read ${timelineKind} payload: ${payload.error.message}` };
  }
  if (row.audience === "operator" && row.kind === "role_failure") {
    const payload = roleFailurePayloadSchema.safeParse(row.payload);
    return payload.success
      ? {
        ok: true,
        notice: {
          audience: "operator",
          kind: "role_failure",
          locale: locale.data,
          payload: payload.data,
        },
      }
      : { ok: false, reason: `Cannot read role_failure payload: ${payload.error.message}` };
  }
  const kind = OPERATOR_LOG_KINDS.find((k) => k === row.kind && k !== "role_failure");
  if (row.audience === "operator" && kind && kind !== "role_failure") {
    const payload = operatorLogPayloadSchema.safeParse(row.payload);
    return payload.success
      ? {
        ok: true,
        notice: { audience: "operator", kind, locale: locale.data, payload: payload.data },
      }
      : { ok: false, reason: `Cannot read ${kind} payload: ${payload.error.message}` };
  }
  return { ok: false, reason: `Unknown ${row.audience} notice kind ${row.kind}` };
}

/**
 * The message a notice becomes. `nonce` (channel messages only) makes Discord return the first
 * message when a retry sends the same nonce again within a few minutes (`enforce_nonce`).
 */
export function noticeMessage(
  notice: Notice,
  delivery: { via: "followup" } | { via: "channel"; nonce: string },
): RESTPostAPIChannelMessageJSONBody {
  const content = noticeText(notice);
  return {
    content,
    allowed_mentions: { parse: [] },
    ...(delivery.via === "followup"
      ? { flags: MessageFlags.Ephemeral }
      : { nonce: delivery.nonce, enforce_nonce: true }),
  };
}

function noticeText(notice: Notice): string {
  if (notice.kind === "role_change") return roleNoticeText(notice.payload);
  if (notice.audience === "member") {
    return memberTimelineText(notice.kind, notice.locale, notice.payload);
  }
  if (notice.kind === "role_failure") {
    return operatorAlertMessage({ ...notice.payload, locale: notice.locale }).content ?? "";
  }
  const { amountMinor, currency, ...facts } = notice.payload;
  return operatorLogText(notice.kind, notice.locale, {
    ...facts,
    ...(amountMinor !== undefined && currency
      ? { amount: formatAmount(amountMinor, currency, notice.locale) }
      : {}),
  });
}
