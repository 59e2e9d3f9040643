/**
 * `deno task drift [-- --guild <id>]` prints, per guild, what the reconciliation pass would change
 * (paid roles missing from paying members, paid roles held without paying) without changing
 * anything: the same reads and the same comparison (functions/_core/reconciliation.ts) as the
 * pass, with nothing queued or recorded.
 *
 * Reads DISCORD_BOT_TOKEN, DISCORD_API_BASE_URL and DATABASE_URL (or SUPABASE_DB_URL) from the
 * environment or the project's `.env`.
 */
import { discordIdSchema } from "../_core/discord_id.ts";
import { createSql } from "../_shared/db.ts";
import { createDiscordApi, DISCORD_DEFAULT_BASE_URL } from "../_shared/discord_api.ts";
import { createRateLimitedDiscord } from "../_shared/discord_rate_limits.ts";
import { fields, parseEnv, requireDatabaseUrl, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { RECONCILE_DEFAULTS, reconcileGuild } from "../role-sync/reconciliation.ts";
import { createReconciliationStore } from "../role-sync/reconciliation_store.ts";
import type { TaskOutput } from "./close.ts";
import { runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task drift`. */
export const DRIFT_TASK: TaskDefinition = {
  name: "drift",
  help: `Usage: deno task drift [-- --guild <guild id>]

Prints what reconciliation would change in each guild (or one): paying members missing their
role, and paid roles held without paying, with the guild's policy for them. Changes nothing.

Reads DISCORD_BOT_TOKEN, DISCORD_API_BASE_URL, DATABASE_URL (or SUPABASE_DB_URL) from the
environment or .env.`,
  flags: { guild: { type: "string" } },
};

const shape = {
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN,
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL),
};

/** Prints the drift of `flags.guild`, or of every guild; returns the exit code. */
export async function runDrift(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const guild = flags.guild === undefined ? undefined : discordIdSchema.safeParse(flags.guild);
  if (guild && !guild.success) {
    output.error("drift: --guild must be a Discord server id (17 to 20 digits)");
    return USAGE_EXIT_CODE;
  }
  const config = parseEnv(shape, env);
  const sql = createSql(requireDatabaseUrl(env), { max: 2 });
  try {
    const guildIds = guild?.data
      ? [guild.data]
      : (await sql<{ id: string }[]>`select id from rolepass.guilds order by id`).map((g) => g.id);
    const api = createDiscordApi(config.DISCORD_API_BASE_URL, config.DISCORD_BOT_TOKEN);
    const deps = {
      ...RECONCILE_DEFAULTS,
      store: createReconciliationStore(sql),
      discord: createRateLimitedDiscord({ api, sql, maxWaitMs: 30_000 }),
      logger: createLogger("drift"),
      now: () => new Date(),
      discordTimeoutMs: 10_000,
    };
    for (const guildId of guildIds) {
      const result = await reconcileGuild(deps, guildId, Date.now() + 3_600_000, {
        dryRun: true,
      });
      if (result.status === "unknown_guild") {
        output.error(`drift: guild ${guildId} is not configured in rolepass`);
        return 1;
      }
      const { counts } = result;
      output.out(
        `guild ${guildId} (${result.mode === "list" ? "every member" : "members rolepass knows"}` +
          `${result.status === "completed" ? "" : `; stopped: ${result.detail}`}): ` +
          `${counts.membersChecked} checked, ${counts.missingRoles} missing role(s), ` +
          `${counts.unpaidRoles} unpaid role(s), ${counts.comped} comp(s)`,
      );
      for (const drift of result.findings) {
        output.out(
          drift.kind === "missing_role"
            ? `  grant   ${drift.roleId} to ${drift.userId} (pays, role missing)`
            : `  ${
              drift.rolepassGranted ? "revoked" : "unpaid "
            } ${drift.roleId} held by ${drift.userId}`,
        );
      }
    }
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(DRIFT_TASK, ({ args, env }) =>
    runDrift(args.flags, env.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}
