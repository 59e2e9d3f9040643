/**
 * The Postgres side of `/subscribe`: one call to `rolepass.open_subscribe_link`, which claims the
 * interaction's id, reads the server's plans and the member's membership, stores the link token's
 * hash and keeps the interaction token, all in one round trip (Discord allows 3 seconds for the
 * whole answer).
 */
import { memberStanding } from "../_core/member_standing.ts";
import { z } from "zod";
import { oneRow, type Sql } from "../_shared/db.ts";
import type { LinkPurpose } from "../_core/link_token.ts";
import type { Locale } from "../_core/locale.ts";
import { planDisplaySchema } from "../_core/operator_text.ts";
import { billingIntervalSchema } from "../_core/price.ts";
import type { MembershipSummary, PassSummary, PlanSummary } from "../_core/messages/subscribe.ts";

/** What `/subscribe` asks the database to do. */
export interface SubscribeLinkRequest {
  /** Discord's id of the interaction; a second request with the same id stores nothing. */
  interactionId: string;
  guildId: string;
  memberId: string;
  locale: Locale;
  /** SHA-256 of the link token; the token itself never reaches the database. */
  linkTokenHash: Uint8Array;
  linkTokenTtlSeconds: number;
  applicationId: string;
  /** Discord's interaction token, kept 15 minutes for the role-sync follow-up. */
  interactionToken: string;
  /** The role ids the interaction says the member holds now; null when Discord did not say. */
  memberRoleIds: string[] | null;
}

/** What the database decided and stored. */
export type SubscribeLink =
  | { outcome: "already_handled" }
  | { outcome: "no_plan"; guildName: string | null }
  | {
    outcome: LinkPurpose;
    guildName: string;
    plans: PlanSummary[];
    linkExpiresAt: Date;
    /** Present when the outcome is "manage". */
    membership: MembershipSummary | null;
    /** The member's live one-time pass, when the outcome is "join". */
    pass: PassSummary | null;
    /** The member is entitled but lacks the role: a role job gives it back. */
    roleRepair: boolean;
  };

/** Opens subscribe links. */
export interface SubscribeLinkStore {
  open(request: SubscribeLinkRequest): Promise<SubscribeLink>;
}

const planSchema = z.object({
  display: planDisplaySchema,
  unit_amount: z.number().int(),
  currency: z.string(),
  /** Null for a one-time pass. */
  billing_interval: billingIntervalSchema.nullable(),
  interval_count: z.number().int(),
  access_kind: z.enum(["subscription", "lifetime", "duration"]).optional(),
  access_seconds: z.number().nullable().optional(),
}).transform((plan): PlanSummary => ({
  display: plan.display,
  unitAmount: plan.unit_amount,
  currency: plan.currency,
  sale: plan.billing_interval
    ? {
      kind: "subscription",
      billingInterval: plan.billing_interval,
      intervalCount: plan.interval_count,
    }
    : {
      kind: "pass",
      accessSeconds: plan.access_kind === "duration" ? Math.round(plan.access_seconds ?? 0) : null,
    },
}));

const resultSchema = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.literal("already_handled") }),
  z.object({ outcome: z.literal("no_plan"), guild_name: z.string().nullable() }),
  z.object({
    outcome: z.enum(["join", "manage"]),
    guild_name: z.string(),
    plans: z.array(planSchema),
    link_expires_at: z.coerce.date(),
    role_repair: z.boolean(),
    pass: z.object({
      display: planDisplaySchema,
      access_until: z.coerce.date().nullable(),
    }).nullable().optional().transform((pass) => pass ?? null),
    membership: z.object({
      entitled: z.boolean(),
      plan: z.object({ display: planDisplaySchema }).nullable(),
      cancel_at: z.coerce.date().nullable(),
      status: z.string().nullable(),
      revoked_reason: z.enum(["refund", "dispute"]).nullable(),
      entitled_until: z.coerce.date().nullable(),
      current_period_end: z.coerce.date().nullable(),
    }).nullable(),
  }),
]);

/** The store over a postgres.js client. */
export function createSubscribeLinkStore(sql: Sql): SubscribeLinkStore {
  return {
    async open(request) {
      const row = oneRow(
        await sql<{ result: unknown }[]>`
        select rolepass.open_subscribe_link(
          ${request.interactionId}, ${request.guildId}, ${request.memberId}, ${request.locale}, ${request.linkTokenHash},
          ${request.linkTokenTtlSeconds}, ${request.applicationId}, ${request.interactionToken},
          ${request.memberRoleIds}::text[]
        ) as result`,
        "open_subscribe_link's result",
      );
      const result = resultSchema.parse(row.result);
      if (result.outcome === "already_handled") return { outcome: "already_handled" };
      if (result.outcome === "no_plan") {
        return { outcome: "no_plan", guildName: result.guild_name };
      }
      return {
        outcome: result.outcome,
        guildName: result.guild_name,
        plans: result.plans,
        linkExpiresAt: result.link_expires_at,
        roleRepair: result.role_repair,
        pass: result.pass && { plan: result.pass.display, accessUntil: result.pass.access_until },
        membership: result.membership && {
          plan: result.membership.plan?.display ?? null,
          standing: memberStanding({
            status: result.membership.status,
            entitled: result.membership.entitled,
            revokedReason: result.membership.revoked_reason,
            cancelAt: result.membership.cancel_at,
            entitledUntil: result.membership.entitled_until,
            currentPeriodEnd: result.membership.current_period_end,
          }),
        },
      };
    },
  };
}
