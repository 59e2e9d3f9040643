/**
 * `deno task admin -- <subcommand> --guild <id> [--member <id>] [--lang ja|en]`: the operators'
 * console of `/rolepass` for operators who script. The same request parsing, reads, writes and
 * replies as the Discord command (functions/discord-interactions/admin.ts); whoever can run this
 * holds the database URL, so there is no Discord permission to check.
 *
 * Reads DATABASE_URL (or SUPABASE_DB_URL) and, for the Dashboard links' mode only,
 * STRIPE_SECRET_KEY, from the environment or the project's `.env`.
 */
import { z } from "zod";
import { ADMIN_SUBCOMMANDS, parseAdminRequest } from "../_core/admin.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import { localeSchema } from "../_core/locale.ts";
import { createDiscordApi, DISCORD_DEFAULT_BASE_URL } from "../_shared/discord_api.ts";
import { fields, parseEnv, requireDatabaseUrl, variableSchemas } from "../_shared/env.ts";
import { createLogger } from "../_shared/log.ts";
import { stripeWebhookUrl } from "../_core/health.ts";
import { healthReply } from "../_core/messages/health.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { createRateLimitedDiscord } from "../_shared/discord_rate_limits.ts";
import type { Logger } from "../_shared/log.ts";
import { connectStripe, STRIPE_DEFAULT_BASE_URL } from "../_shared/stripe_gateway.ts";
import { type AdminCommandDeps, runAdminRequest } from "../discord-interactions/admin.ts";
import { resyncMember } from "../role-sync/admin_requests.ts";
import { checkGuildHealth } from "../role-sync/health.ts";
import { createDriftReader } from "../discord-interactions/admin_drift.ts";
import { createAdminStore } from "../discord-interactions/admin_store.ts";
import type { TaskOutput } from "./close.ts";
import { runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

const SUBCOMMAND_LINES = ADMIN_SUBCOMMANDS.map((subcommand) =>
  `  ${subcommand.name.padEnd(10)}${subcommand.description.en}${
    subcommand.options.length > 0
      ? ` (${subcommand.options.map((option) => `--${option}`).join(" ")})`
      : ""
  }`
).join("\n");

/** The command line of `deno task admin`. */
export const ADMIN_TASK: TaskDefinition = {
  name: "admin",
  help: `Usage: deno task admin -- <subcommand> --guild <guild id> [--member <member id>]
         [--plan <plan's role id>] [--until <last day, 2027-01-31>] [--lang ja|en]

What /rolepass does in Discord, from the command line, for one server:
${SUBCOMMAND_LINES}

Reads DATABASE_URL (or SUPABASE_DB_URL), STRIPE_SECRET_KEY (with STRIPE_API_BASE_URL) for the
Dashboard links' mode and for resync and health, DISCORD_BOT_TOKEN (with DISCORD_API_BASE_URL)
for drift and health, and SUPABASE_URL for health's webhook endpoint, from the environment or
.env.`,
  flags: {
    guild: { type: "string" },
    member: { type: "string" },
    plan: { type: "string" },
    until: { type: "string" },
    lang: { type: "string" },
  },
  maxPositionals: 1,
};

const shape = {
  STRIPE_SECRET_KEY: z.string().optional(),
  STRIPE_API_BASE_URL: fields.url.default(STRIPE_DEFAULT_BASE_URL),
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN.optional(),
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL),
  SUPABASE_URL: fields.url.optional(),
};

type AdminEnv = ReturnType<typeof parseEnv<typeof shape>>;

/** How long `health` waits for Discord and Stripe before reporting what it has. */
const HEALTH_BUDGET_MS = 60_000;

/**
 * `resync` and `health` run here with role-sync's own code (`resyncMember`, `checkGuildHealth`):
 * the command line holds the Stripe key and the bot token itself.
 */
function inProcessWork(
  config: AdminEnv,
  sql: Sql,
  logger: Logger,
): AdminCommandDeps["inProcess"] {
  const stripe = config.STRIPE_SECRET_KEY
    ? connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL, { timeoutMs: 8_000 })
    : null;
  const sync = stripe ? { sql, stripe, now: () => new Date(), logger } : null;
  return {
    resync: (guildId, memberId) =>
      resyncMember({ sql, sync }, { guildId, memberId, heldRoleIds: null }, logger),
    async health(guildId, locale) {
      if (!config.DISCORD_BOT_TOKEN) throw new Error("health needs DISCORD_BOT_TOKEN");
      const api = createDiscordApi(config.DISCORD_API_BASE_URL, config.DISCORD_BOT_TOKEN);
      const deps = {
        sql,
        discord: createRateLimitedDiscord({ api, sql, maxWaitMs: 5_000 }),
        discordTimeoutMs: 10_000,
        stripe,
        expectedWebhookUrl: config.SUPABASE_URL ? stripeWebhookUrl(config.SUPABASE_URL) : null,
        logger,
        now: () => new Date(),
      };
      const [health] = await checkGuildHealth(deps, guildId, Date.now() + HEALTH_BUDGET_MS);
      return health ? healthReply(health.report, locale, { stripeChecked: stripe !== null }) : null;
    },
  };
}

/** Runs one subcommand; returns the exit code. */
export async function runAdmin(
  positionals: string[],
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const usage = (problem: string) => {
    output.error(`admin: ${problem}. Run \`deno task admin --help\` for the usage.`);
    return USAGE_EXIT_CODE;
  };
  const guild = discordIdSchema.safeParse(flags.guild);
  if (!guild.success) return usage("--guild must be a Discord server id (17 to 20 digits)");
  const locale = localeSchema.safeParse(flags.lang ?? "en");
  if (!locale.success) return usage("--lang must be ja or en");
  const [subcommand] = positionals;
  if (!subcommand) return usage("name a subcommand");
  const options = (["member", "plan", "until"] as const).flatMap((name) => {
    const value = flags[name];
    return typeof value === "string" ? [{ name, type: 3, value }] : [];
  });
  const request = parseAdminRequest([{ name: subcommand, type: 1, options }]);
  if (!request) {
    const known = ADMIN_SUBCOMMANDS.find((candidate) => candidate.name === subcommand);
    return usage(
      known
        ? `${subcommand} needs ${
          known.options.filter((option) => option !== "until").map((option) =>
            `--${option} <${option === "plan" ? "the plan's role id" : "member id"}>`
          ).join(" ")
        } (17 to 20 digits)`
        : `unknown subcommand "${subcommand}"`,
    );
  }
  const config = parseEnv(shape, env);
  if (request.subcommand === "resync" && !config.STRIPE_SECRET_KEY) {
    return usage("resync re-reads Stripe: set STRIPE_SECRET_KEY");
  }
  if (request.subcommand === "health" && !config.DISCORD_BOT_TOKEN) {
    return usage("health asks Discord: set DISCORD_BOT_TOKEN (and STRIPE_SECRET_KEY for Stripe's)");
  }
  const sql = createSql(requireDatabaseUrl(env), { max: 2 });
  const logger = createLogger("admin");
  try {
    const { reply, unavailable } = await runAdminRequest(
      {
        adminStore: createAdminStore(sql),
        stripeTestMode: /^(sk|rk)_test_/.test(config.STRIPE_SECRET_KEY ?? ""),
        now: () => new Date(),
        readDrift: config.DISCORD_BOT_TOKEN
          ? createDriftReader(
            sql,
            createDiscordApi(config.DISCORD_API_BASE_URL, config.DISCORD_BOT_TOKEN),
            logger,
          )
          : null,
        inProcess: inProcessWork(config, sql, logger),
      },
      { guildId: guild.data, operatorId: "command-line" },
      request,
      locale.data,
      logger,
    );
    const text = reply.data?.content ?? "";
    if (unavailable) {
      output.error(`admin: ${text} Check DATABASE_URL.`);
      return 1;
    }
    output.out(text);
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(ADMIN_TASK, ({ args, env }) =>
    runAdmin(args.positionals, args.flags, env.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}
