/**
 * The `/rolepass` work the interactions function hands over (`rolepass.admin_requests`), done here
 * because it needs Stripe or several Discord calls: `resync` re-reads a member's subscription
 * through the webhook's own path (`syncSubscription`, under the customer's lock) and lets the
 * triggers queue the role job; `health` runs the health checks for the guild; `onboarding` makes
 * the guild's Stripe Express onboarding link and `dashboard` a login link to the guild's own
 * Express Dashboard (platform mode). Each request is answered by editing
 * the deferred reply (`PATCH /webhooks/{application}/{token}/messages/@original`).
 *
 * Stripe down during a resync: nothing is written (the re-read comes before any transaction) and
 * the answer says so at once. The operator is watching "thinking…", and a retry minutes later
 * would answer a question they may have given up on; running the command again is one click.
 */
import { z } from "zod";
import { missingEntitledRoles, resyncChanges } from "../_core/admin.ts";
import { localeSchema } from "../_core/locale.ts";
import { sellerStanding, type StripeMode } from "../_core/connect.ts";
import { healthReply } from "../_core/messages/health.ts";
import { dashboardReply, type DashboardResult } from "../_core/messages/dashboard.ts";
import { onboardingReply, type OnboardingResult } from "../_core/messages/onboarding.ts";
import { resyncReply, type ResyncResult } from "../_core/messages/resync.ts";
import type { EphemeralReply } from "../_core/messages/subscribe.ts";
import { SUBSCRIPTION_STATUSES } from "../_core/stripe_shapes.ts";
import { startOnboarding } from "../_shared/connect_onboarding.ts";
import type { Sql } from "../_shared/db.ts";
import { guildStripeAccount } from "../_shared/guild_stripe_accounts.ts";
import { discordRoutes } from "../_shared/discord_api.ts";
import type { Logger } from "../_shared/log.ts";
import { stripeRefusalOf } from "../_shared/stripe_gateway.ts";
import { type SyncDeps, syncSubscription } from "../_shared/subscription_sync.ts";
import { checkGuildHealth, type HealthDeps } from "./health.ts";

/** What answering admin requests needs. */
export interface AdminRequestDeps extends HealthDeps {
  /** The sync path of the webhook; null when role-sync has no STRIPE_SECRET_KEY. */
  sync: SyncDeps | null;
  /** How long a claimed request is held before another wake may take it. */
  leaseSeconds: number;
  /** ROLEPASS_STRIPE_MODE: onboarding exists in platform mode only (standalone when absent). */
  stripeMode?: StripeMode;
  /** PUBLIC_SITE_URL: where onboarding comes back to; without it no link is made. */
  publicSiteUrl?: string | null;
}

/** An answer that could not reach Discord is tried again on a later wake, this many times. */
const MAX_ATTEMPTS = 5;

const claimedRow = z.object({
  id: z.coerce.number(),
  guild_id: z.string(),
  kind: z.enum(["resync", "health", "onboarding", "dashboard"]),
  member_id: z.string().nullable(),
  member_role_ids: z.array(z.string()).nullable(),
  locale: localeSchema,
  application_id: z.string(),
  interaction_token: z.string(),
  attempts: z.number().int(),
  claim_id: z.string(),
  result: z.object({ content: z.string() }).nullable(),
});

type ClaimedRequest = z.infer<typeof claimedRow>;

/** What one wake did. */
export interface AdminRequestSummary {
  answered: number;
  failed: number;
  /** Requests whose answer could not be delivered yet; the minute's sweep wakes them again. */
  released: number;
}

/** Answers every open request, until `deadline` (epoch ms). */
export async function answerAdminRequests(
  deps: AdminRequestDeps,
  deadline: number,
): Promise<AdminRequestSummary> {
  const summary: AdminRequestSummary = { answered: 0, failed: 0, released: 0 };
  while (deps.now().getTime() < deadline) {
    const rows = await deps.sql`
      select * from rolepass.claim_admin_requests(5, ${deps.leaseSeconds})`;
    if (rows.length === 0) break;
    for (const row of rows) {
      const request = claimedRow.parse(row);
      const log = deps.logger.child({ adminRequestId: request.id, kind: request.kind });
      try {
        summary[await answerRequest(deps, request, deadline, log)]++;
      } catch (error) {
        const message = error instanceof Error ? error.message.slice(0, 500) : String(error);
        if (request.attempts >= MAX_ATTEMPTS) {
          log.error("admin request could not be done; given up", { error });
          await deps.sql`select rolepass.finish_admin_request(${request.id}, ${request.claim_id},
            'failed', ${message})`;
          summary.failed++;
        } else {
          log.error("admin request could not be done; it is tried again", { error });
          await deps.sql`select rolepass.release_admin_request(${request.id}, ${request.claim_id},
            ${message})`;
          summary.released++;
        }
      }
    }
  }
  return summary;
}

async function answerRequest(
  deps: AdminRequestDeps,
  request: ClaimedRequest,
  deadline: number,
  log: Logger,
): Promise<keyof AdminRequestSummary> {
  let content = request.result?.content;
  if (content === undefined) {
    const reply = await doRequest(deps, request, deadline, log);
    content = reply.data?.content ?? "";
    // An onboarding or dashboard link opens the community's Stripe account: it is sent, never
    // stored (a retried answer makes a fresh link).
    if (request.kind !== "onboarding" && request.kind !== "dashboard") {
      await deps.sql`select rolepass.record_admin_result(${request.id}, ${request.claim_id},
        ${deps.sql.json({ content })})`;
    }
  }
  const sent = await deps.discord.send(
    discordRoutes.editOriginalResponse(request.application_id, request.interaction_token, {
      content,
      allowed_mentions: { parse: [] },
    }),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  const status = sent.kind === "response" ? sent.response.status : null;
  if (status !== null && status < 300) {
    await deps.sql`select rolepass.finish_admin_request(${request.id}, ${request.claim_id},
      'answered')`;
    log.info("admin request answered");
    return "answered";
  }
  const error = sent.kind === "response"
    ? `Discord answered ${status}${
      sent.response.code === null ? "" : ` (code ${sent.response.code})`
    }`
    : sent.kind;
  const transient = status === null || status === 429 || status >= 500;
  if (transient && request.attempts < MAX_ATTEMPTS) {
    log.warn("admin answer not delivered; tried again on the next wake", { error });
    await deps.sql`select rolepass.release_admin_request(${request.id}, ${request.claim_id},
      ${error})`;
    return "released";
  }
  log.error("admin answer could not be delivered", { error });
  await deps.sql`select rolepass.finish_admin_request(${request.id}, ${request.claim_id},
    'failed', ${error})`;
  return "failed";
}

async function doRequest(
  deps: AdminRequestDeps,
  request: ClaimedRequest,
  deadline: number,
  log: Logger,
): Promise<EphemeralReply> {
  if (request.kind === "health") {
    const [health] = await checkGuildHealth(deps, request.guild_id, deadline);
    if (!health) throw new Error("the guild is no longer configured");
    return healthReply(health.report, request.locale, { stripeChecked: deps.stripe !== null });
  }
  if (request.kind === "onboarding") {
    return onboardingReply(await onboardGuild(deps, request.guild_id, log), request.locale);
  }
  if (request.kind === "dashboard") {
    return dashboardReply(await guildDashboard(deps, request.guild_id, log), request.locale);
  }
  if (!request.member_id) throw new Error("a resync request names no member");
  const result = await resyncMember(deps, {
    guildId: request.guild_id,
    memberId: request.member_id,
    heldRoleIds: request.member_role_ids,
  }, log);
  return resyncReply(result, request.locale);
}

const membershipRow = z.object({
  stripe_customer_id: z.string().nullable(),
  status: z.enum(SUBSCRIPTION_STATUSES).nullable(),
  entitled: z.boolean(),
  entitled_role_id: z.string().nullable(),
  entitled_role_ids: z.array(z.string()),
});

async function readMembership(sql: Sql, guildId: string, memberId: string) {
  const [row] = await sql`
    select stripe_customer_id, status, entitled, entitled_role_id,
      entitled_role_ids::text[] as entitled_role_ids
    from rolepass.memberships where guild_id = ${guildId} and discord_user_id = ${memberId}`;
  if (!row) return null;
  const parsed = membershipRow.parse(row);
  return {
    customerId: parsed.stripe_customer_id,
    snapshot: { status: parsed.status, entitled: parsed.entitled, roleId: parsed.entitled_role_id },
    roleIds: parsed.entitled ? parsed.entitled_role_ids : [],
  };
}

/** Who a resync is for, and the roles Discord said the member holds (null when unknown). */
export interface ResyncTarget {
  guildId: string;
  memberId: string;
  heldRoleIds: readonly string[] | null;
}

/**
 * Re-reads the member's subscription from Stripe and overwrites the membership (the triggers
 * queue the role job), then gives back every role the member should hold but lacks in Discord.
 * Shared by `/rolepass resync` and `deno task admin resync`.
 */
export async function resyncMember(
  deps: Pick<AdminRequestDeps, "sql" | "sync">,
  target: ResyncTarget,
  log: Logger,
): Promise<ResyncResult> {
  const { guildId, memberId } = target;
  if (!deps.sync) return { kind: "stripe_not_configured", memberId };
  const before = await readMembership(deps.sql, guildId, memberId);
  if (!before?.customerId) return { kind: "no_subscription", memberId };
  let outcome;
  try {
    outcome = await syncSubscription(deps.sync, { customerId: before.customerId }, {
      cause: "admin_resync",
      eventId: null,
    });
  } catch (error) {
    const refusal = stripeRefusalOf(error);
    if (!refusal) throw error;
    log.warn("resync could not read Stripe; nothing was changed", { guildId, refusal });
    return {
      kind: "stripe_unavailable",
      memberId,
      detail: refusal.status === null ? "no connection" : `HTTP ${refusal.status}`,
    };
  }
  if (outcome.result !== "applied") return { kind: "no_subscription", memberId };
  const after = await readMembership(deps.sql, guildId, memberId);
  if (!after) return { kind: "no_subscription", memberId };
  const changes = resyncChanges(before.snapshot, after.snapshot);
  const roleId = after.snapshot.entitled ? after.snapshot.roleId : null;
  const missing = changes.some((change) => change.field === "role")
    ? []
    : missingEntitledRoles(after.roleIds, target.heldRoleIds);
  let repairedRoleIds: string[] = [];
  if (missing.length) {
    // One job gives back the membership's whole set, so one repair names the first missing role.
    const [row] = await deps.sql`
      select rolepass.enqueue_role_repairs(${guildId},
        ${deps.sql.json([{ action: "grant", userId: memberId, roleId: missing[0] }])}, 1, 0,
        true) as queued`;
    const queued = z.object({ queued: z.coerce.number() }).parse(row).queued > 0;
    if (queued) repairedRoleIds = missing;
  }
  log.info("member resynced from Stripe", { guildId, memberId, changes, repairedRoleIds });
  return {
    kind: "synced",
    memberId,
    changes,
    roleId,
    status: after.snapshot.status,
    repairedRoleIds,
  };
}

/**
 * Makes the guild's onboarding link in platform mode, creating its Express account the first
 * time (Japan, no platform fee: the platform sets the fee with `deno task connect -- policy`).
 */
async function onboardGuild(
  deps: AdminRequestDeps,
  guildId: string,
  log: Logger,
): Promise<OnboardingResult> {
  if ((deps.stripeMode ?? "standalone") === "standalone") return { kind: "standalone" };
  if (!deps.stripe || !deps.publicSiteUrl) return { kind: "not_configured" };
  const before = await guildStripeAccount(deps.sql, guildId);
  let started;
  try {
    started = await startOnboarding(
      { sql: deps.sql, stripe: deps.stripe, publicSiteUrl: deps.publicSiteUrl },
      { guildId, platformFeePercent: 0, country: "JP", email: null },
    );
  } catch (error) {
    const refusal = stripeRefusalOf(error);
    if (!refusal) throw error;
    log.warn("onboarding could not reach Stripe; no link was made", { guildId, refusal });
    return {
      kind: "stripe_unavailable",
      detail: refusal.status === null ? "no connection" : `HTTP ${refusal.status}`,
    };
  }
  if (!started) throw new Error("the guild is no longer configured");
  log.info("onboarding link made", { guildId, accountCreated: started.created });
  return {
    kind: "link",
    url: started.url,
    expiresAt: started.expiresAt,
    standing: sellerStanding(before?.facts ?? null),
  };
}

/**
 * A login link to the guild's own Express Dashboard (payouts, statements, exports: what Stripe
 * builds for Express accounts), in platform mode, once onboarding is done. Stripe makes login
 * links only for an account whose details were submitted; a record that says otherwise is checked
 * with Stripe first, since account.updated often comes after the community is back.
 */
async function guildDashboard(
  deps: AdminRequestDeps,
  guildId: string,
  log: Logger,
): Promise<DashboardResult> {
  if ((deps.stripeMode ?? "standalone") === "standalone") return { kind: "standalone" };
  if (!deps.stripe) return { kind: "not_configured" };
  const account = await guildStripeAccount(deps.sql, guildId);
  if (!account) return { kind: "not_onboarded" };
  try {
    const submitted = account.facts.detailsSubmitted ||
      (await deps.stripe.retrieveConnectedAccount(account.accountId)).detailsSubmitted;
    if (!submitted) return { kind: "not_onboarded" };
    const link = await deps.stripe.createDashboardLink(account.accountId);
    log.info("dashboard link made", { guildId });
    return { kind: "link", url: link.url };
  } catch (error) {
    const refusal = stripeRefusalOf(error);
    if (!refusal) throw error;
    log.warn("dashboard could not reach Stripe; no link was made", { guildId, refusal });
    return {
      kind: "stripe_unavailable",
      detail: refusal.status === null ? "no connection" : `HTTP ${refusal.status}`,
    };
  }
}
