/**
 * `/rolepass`: the operators' console. Refused outside a server and to members without Manage
 * Server or Administrator, checked here on every request; every read and write is scoped to the
 * server the command was run in.
 */
import {
  type AdminRequest,
  explainEntitlement,
  mayAdminister,
  monthlyRecurringRevenue,
  parseAdminRequest,
  parseCompLastDay,
  scheduledCancelOf,
  stripeCustomerUrl,
} from "../_core/admin.ts";
import type { Locale } from "../_core/locale.ts";
import {
  adminRefusalReply,
  compGrantedReply,
  compRefusalReply,
  compRevokedReply,
  deferredAdminReply,
  driftReply,
  type DriftReport,
  failuresReply,
  memberStatusReply,
  overviewReply,
  retryReply,
} from "../_core/messages/admin.ts";
import { dashboardReply } from "../_core/messages/dashboard.ts";
import { onboardingReply } from "../_core/messages/onboarding.ts";
import { resyncRefusalReply, resyncReply, type ResyncResult } from "../_core/messages/resync.ts";
import type { EphemeralReply } from "../_core/messages/subscribe.ts";
import type { Logger } from "../_shared/log.ts";
import type { AdminStore } from "./admin_store.ts";
import type { Interaction } from "./interaction.ts";

/** What the command needs. */
export interface AdminCommandDeps {
  adminStore: AdminStore;
  /** Whether STRIPE_SECRET_KEY is a test key: the Dashboard keeps test customers under /test/. */
  stripeTestMode: boolean;
  now: () => Date;
  /**
   * Reads what reconciliation would change in a guild, changing nothing; null when the
   * deployment has no DISCORD_BOT_TOKEN. Null for an unknown guild.
   */
  readDrift?: ((guildId: string) => Promise<DriftReport | null>) | null;
  /** Replaces the deferred answer with `reply` (the interaction token authenticates it). */
  followUp?: (interactionToken: string, reply: EphemeralReply) => Promise<void>;
  /** `EdgeRuntime.waitUntil` where it exists; absent means the work runs inside the request. */
  runInBackground?: (work: Promise<unknown>) => void;
  /** DISCORD_APPLICATION_ID: role-sync answers `resync` and `health` as this application. */
  applicationId?: string;
  /**
   * `resync` and `health` done here rather than handed to role-sync: the command line has the
   * Stripe key and the bot token itself. Absent in the interactions function, which never loads
   * the Stripe SDK.
   */
  inProcess?: {
    resync(guildId: string, memberId: string): Promise<ResyncResult>;
    /** The health report in `locale`; null for a guild rolepass does not know. */
    health(guildId: string, locale: Locale): Promise<EphemeralReply | null>;
  };
}

/** A deferred first answer: Discord shows "thinking…" until the follow-up replaces it. */
export type DeferredReply = ReturnType<typeof deferredAdminReply>;

/** How many failures `overview` and `failures` list; Discord caps a message at 2,000 characters. */
const RECENT_FAILURES = 3;
const LISTED_FAILURES = 8;

/** A request `/rolepass` can act on: in a server, by an operator. */
export interface AdminCaller {
  guildId: string;
  operatorId: string;
}

/**
 * Who may run `/rolepass` for this interaction, or why nobody may.
 * Registration hides the command from non-operators, but server admins can override that per
 * role or channel; the member's own permissions decide.
 */
export function adminCaller(
  interaction: Interaction,
): { ok: true; caller: AdminCaller } | {
  ok: false;
  refusal: "not_in_server" | "missing_permission";
} {
  if (!interaction.guild_id || !interaction.member) return { ok: false, refusal: "not_in_server" };
  if (!mayAdminister(interaction.member.permissions)) {
    return { ok: false, refusal: "missing_permission" };
  }
  return {
    ok: true,
    caller: { guildId: interaction.guild_id, operatorId: interaction.member.user.id },
  };
}

/**
 * Answers `/rolepass` with an ephemeral reply.
 * @param interaction the signed, parsed interaction
 * @param locale the operator's language
 */
export async function answerAdmin(
  deps: AdminCommandDeps,
  interaction: Interaction,
  locale: Locale,
  log: Logger,
): Promise<EphemeralReply | DeferredReply> {
  const access = adminCaller(interaction);
  if (!access.ok) {
    log.warn("admin command refused", {
      refusal: access.refusal,
      guildId: interaction.guild_id,
      memberId: interaction.member?.user.id ?? interaction.user?.id,
    });
    return adminRefusalReply(access.refusal, locale);
  }
  const request = parseAdminRequest(interaction.data?.options);
  if (!request) return adminRefusalReply("unknown_subcommand", locale);
  if (request.subcommand === "resync") {
    const work = { subcommand: "resync", memberId: request.memberId } as const;
    return await handOver(deps, interaction, access.caller, work, locale, log);
  }
  if (
    request.subcommand === "health" || request.subcommand === "onboarding" ||
    request.subcommand === "dashboard"
  ) {
    const work = { subcommand: request.subcommand } as const;
    return await handOver(deps, interaction, access.caller, work, locale, log);
  }
  if (request.subcommand === "drift") {
    const { followUp } = deps;
    if (!deps.readDrift || !followUp) return adminRefusalReply("needs_bot_token", locale);
    // Reading every member takes several Discord calls: past the 3 s Discord gives the answer.
    const work = runAdminRequest(deps, access.caller, request, locale, log)
      .then(({ reply }) => followUp(interaction.token, reply))
      .catch((error) => log.error("admin follow-up could not be sent", { error }));
    if (deps.runInBackground) deps.runInBackground(work);
    else await work;
    return deferredAdminReply();
  }
  return (await runAdminRequest(deps, access.caller, request, locale, log)).reply;
}

/**
 * Records `resync`, `health`, `onboarding` or `dashboard` for role-sync, which does it (Stripe,
 * several Discord calls) and edits the deferred answer; a request with nothing to do is answered
 * at once.
 */
async function handOver(
  deps: AdminCommandDeps,
  interaction: Interaction,
  caller: AdminCaller,
  request:
    | { subcommand: "resync"; memberId: string }
    | { subcommand: "health" | "onboarding" | "dashboard" },
  locale: Locale,
  log: Logger,
): Promise<EphemeralReply | DeferredReply> {
  const memberId = request.subcommand === "resync" ? request.memberId : null;
  if (!deps.applicationId) return adminRefusalReply("unavailable", locale);
  try {
    const recorded = await deps.adminStore.requestAdminWork({
      guildId: caller.guildId,
      kind: request.subcommand,
      operatorId: caller.operatorId,
      memberId,
      memberRoleIds: memberId
        ? (interaction.data?.resolved?.members?.[memberId]?.roles ?? null)
        : null,
      locale,
      applicationId: deps.applicationId,
      interactionToken: interaction.token,
    });
    log.info("admin command", {
      guildId: caller.guildId,
      operatorId: caller.operatorId,
      subcommand: request.subcommand,
      handedOver: recorded.ok,
    });
    if (recorded.ok) return deferredAdminReply();
    if (recorded.reason === "unknown_guild") return adminRefusalReply("unknown_guild", locale);
    return resyncRefusalReply(recorded.reason, memberId ?? "", locale);
  } catch (error) {
    log.error("admin command could not reach the database", { error, guildId: caller.guildId });
    return adminRefusalReply("unavailable", locale);
  }
}

/** What an admin request answered, and whether it failed for want of the database. */
export interface AdminOutcome {
  reply: EphemeralReply;
  unavailable: boolean;
}

/**
 * Does what an operator asked, in their server only: shared by `/rolepass` and
 * `deno task admin`, which differ only in how they learn who asks and in what.
 * @param caller the server and the operator, already allowed
 * @returns the reply, in `locale`; a database failure is a reply too, never a throw
 */
export async function runAdminRequest(
  deps: AdminCommandDeps,
  caller: AdminCaller,
  request: AdminRequest,
  locale: Locale,
  log: Logger,
): Promise<AdminOutcome> {
  const { guildId, operatorId } = caller;
  log.info("admin command", { guildId, operatorId, subcommand: request.subcommand });
  try {
    switch (request.subcommand) {
      case "status": {
        const record = await deps.adminStore.member(guildId, request.memberId);
        if (!record) return answered(memberStatusReply(null, request.memberId, locale));
        const { membership } = record;
        return answered(memberStatusReply(
          {
            memberId: request.memberId,
            plan: record.plan,
            stripeStatus: membership.status,
            currentPeriodEnd: membership.currentPeriodEnd,
            scheduledCancelAt: scheduledCancelOf(membership),
            entitlement: explainEntitlement(membership, deps.now()),
            lastRoleJob: record.lastRoleJob,
            comp: record.comp,
            stripeCustomerUrl: record.stripeCustomerId
              ? stripeCustomerUrl(record.stripeCustomerId, deps.stripeTestMode)
              : null,
          },
          request.memberId,
          locale,
        ));
      }
      case "overview": {
        const [members, prices, queue, recentFailures] = await Promise.all([
          deps.adminStore.memberCounts(guildId),
          deps.adminStore.entitledPrices(guildId),
          deps.adminStore.queueHealth(guildId),
          deps.adminStore.failedRoleJobs(guildId, RECENT_FAILURES),
        ]);
        return answered(overviewReply({
          members,
          monthlyRevenue: monthlyRecurringRevenue(prices),
          queue,
          recentFailures,
        }, locale));
      }
      case "failures":
        return answered(failuresReply(
          await deps.adminStore.failedRoleJobs(guildId, LISTED_FAILURES),
          locale,
        ));
      case "retry": {
        const requeued = await deps.adminStore.retryFailedRoleJobs(guildId);
        log.info("admin retried failed role jobs", { guildId, operatorId, requeued });
        return answered(retryReply(requeued, locale));
      }
      case "grant": {
        const lastDay = request.lastDay === null ? null : parseCompLastDay(request.lastDay);
        if (request.lastDay !== null && lastDay === null) {
          return answered(compRefusalReply("malformed_date", locale));
        }
        const grant = await deps.adminStore.grantComp(
          guildId,
          request.memberId,
          request.roleId,
          `/rolepass grant by ${operatorId}`,
          lastDay,
        );
        if (!grant.ok) return answered(compRefusalReply(grant.reason, locale));
        log.info("admin gave a comp", {
          guildId,
          operatorId,
          memberId: request.memberId,
          roleId: request.roleId,
          expiresAt: grant.expiresAt,
        });
        return answered(compGrantedReply({
          memberId: request.memberId,
          roleId: request.roleId,
          plan: grant.plan,
          expiresAt: grant.expiresAt,
          replacedRoleId: grant.replacedRoleId,
        }, locale));
      }
      case "drift": {
        if (!deps.readDrift) return answered(adminRefusalReply("needs_bot_token", locale));
        const report = await deps.readDrift(guildId).catch((error) => {
          log.error("admin drift could not read Discord", { error, guildId });
          return "discord_unavailable" as const;
        });
        if (report === "discord_unavailable") {
          return answered(adminRefusalReply("discord_unavailable", locale));
        }
        if (!report) return answered(adminRefusalReply("unknown_guild", locale));
        return answered(driftReply(report, locale));
      }
      case "resync": {
        if (!deps.inProcess) return answered(adminRefusalReply("unavailable", locale));
        const record = await deps.adminStore.member(guildId, request.memberId);
        if (!record?.stripeCustomerId) {
          return answered(
            resyncRefusalReply(record ? "no_customer" : "unknown_member", request.memberId, locale),
          );
        }
        return answered(
          resyncReply(await deps.inProcess.resync(guildId, request.memberId), locale),
        );
      }
      case "health":
        if (!deps.inProcess) return answered(adminRefusalReply("unavailable", locale));
        return answered(
          await deps.inProcess.health(guildId, locale) ??
            adminRefusalReply("unknown_guild", locale),
        );
      case "onboarding":
        // The command line has `deno task connect -- onboard`, which prints the link itself.
        return answered(onboardingReply({ kind: "use_task", guildId }, locale));
      case "dashboard":
        // The command line has `deno task connect -- dashboard`, which prints the link itself.
        return answered(dashboardReply({ kind: "use_task", guildId }, locale));
      case "revoke": {
        const roleId = await deps.adminStore.revokeComp(guildId, request.memberId);
        log.info("admin ended a comp", { guildId, operatorId, memberId: request.memberId, roleId });
        return answered(compRevokedReply(request.memberId, roleId, locale));
      }
    }
  } catch (error) {
    log.error("admin command could not reach the database", { error, guildId });
    return { reply: adminRefusalReply("unavailable", locale), unavailable: true };
  }
}

function answered(reply: EphemeralReply): AdminOutcome {
  return { reply, unavailable: false };
}
