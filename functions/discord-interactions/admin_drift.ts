/**
 * The Discord side of `/rolepass drift`: the reconciliation pass run dry for one guild (the code
 * behind `deno task drift`), and the follow-up that replaces the deferred answer.
 */
import type { DriftReport } from "../_core/messages/admin.ts";
import type { EphemeralReply } from "../_core/messages/subscribe.ts";
import type { Sql } from "../_shared/db.ts";
import { type DiscordApi, discordRoutes } from "../_shared/discord_api.ts";
import { createRateLimitedDiscord } from "../_shared/discord_rate_limits.ts";
import type { Logger } from "../_shared/log.ts";
import { RECONCILE_DEFAULTS, reconcileGuild } from "../role-sync/reconciliation.ts";
import { createReconciliationStore } from "../role-sync/reconciliation_store.ts";

/**
 * Interaction tokens live 15 minutes and the follow-up needs a moment: the pass reads members
 * for at most this long, then reports what it read.
 */
const DRIFT_BUDGET_MS = 60_000;

/** Reads what reconciliation would change in `guildId`; null when rolepass does not know it. */
export function createDriftReader(
  sql: Sql,
  api: DiscordApi,
  logger: Logger,
): (guildId: string) => Promise<DriftReport | null> {
  const deps = {
    ...RECONCILE_DEFAULTS,
    store: createReconciliationStore(sql),
    discord: createRateLimitedDiscord({ api, sql, maxWaitMs: 5_000 }),
    logger,
    now: () => new Date(),
    discordTimeoutMs: 10_000,
  };
  return async (guildId) => {
    const result = await reconcileGuild(deps, guildId, Date.now() + DRIFT_BUDGET_MS, {
      dryRun: true,
    });
    if (result.status === "unknown_guild") return null;
    return {
      completed: result.status === "completed",
      detail: result.detail,
      membersChecked: result.counts.membersChecked,
      comped: result.counts.comped,
      findings: result.findings,
    };
  };
}

/** Edits the deferred answer of an interaction of `applicationId`. */
export function createFollowUp(
  api: DiscordApi,
  applicationId: string,
): (interactionToken: string, reply: EphemeralReply) => Promise<void> {
  return async (interactionToken, reply) => {
    const response = await api.send(
      discordRoutes.editOriginalResponse(applicationId, interactionToken, {
        content: reply.data?.content,
        allowed_mentions: { parse: [] },
      }),
    );
    if (response.status >= 300) {
      throw new Error(`Cannot send the follow-up: Discord answered ${response.status}`);
    }
  };
}
