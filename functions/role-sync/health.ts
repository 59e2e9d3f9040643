/**
 * The health checks as role-sync runs them: the facts read from Discord (through the shared rate
 * limits), Stripe and the database, judged by `_core/health.ts`. Used by `/rolepass health`
 * (answered by editing the deferred reply) and by the periodic check (pg_cron every 30 minutes ->
 * `POST /role-sync/health-checks`), which records open problems and tells the operator log
 * channel once when one appears and once when it is fixed.
 */
import { z } from "zod";
import {
  type Answer,
  type GuildHealthFacts,
  type HealthReport,
  judgeGuildHealth,
  type LogChannelFact,
  type RoleFact,
  type StripeHealthFacts,
} from "../_core/health.ts";
import { type Locale, localeSchema } from "../_core/locale.ts";
import { healthProblemText } from "../_core/messages/health.ts";
import type { Sql } from "../_shared/db.ts";
import { type DiscordRoute, discordRoutes } from "../_shared/discord_api.ts";
import type { RateLimitedDiscord, RateLimitedResult } from "../_shared/discord_rate_limits.ts";
import type { Logger } from "../_shared/log.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";

/** What a health run needs. */
export interface HealthDeps {
  sql: Sql;
  discord: RateLimitedDiscord;
  discordTimeoutMs: number;
  /** Null when role-sync has no STRIPE_SECRET_KEY: the Stripe checks are then not run. */
  stripe: StripeGateway | null;
  /** The stripe-webhook URL under SUPABASE_URL, when role-sync knows it. */
  expectedWebhookUrl: string | null;
  logger: Logger;
  now: () => Date;
}

const guildRow = z.object({
  id: z.string(),
  default_locale: localeSchema,
  operator_log_channel_id: z.string().nullable(),
  mode: z.enum(["list", "known_members"]).nullable(),
  plans: z.array(z.object({ roleId: z.string(), planName: z.string() })),
});

type GuildRow = z.infer<typeof guildRow>;

async function readGuilds(sql: Sql, guildId: string | null): Promise<GuildRow[]> {
  const rows = await sql`
    select g.id, g.default_locale, g.operator_log_channel_id, r.mode,
      coalesce((select jsonb_agg(jsonb_build_object('roleId', p.discord_role_id,
          'planName', p.display -> 'en' ->> 'name') order by p.sort_order, p.id)
        from rolepass.plans p where p.guild_id = g.id and p.active), '[]'::jsonb) as plans
    from rolepass.guilds g
    left join rolepass.guild_reconciliations r on r.guild_id = g.id
    where ${guildId}::text is null or g.id = ${guildId}
    order by g.id`;
  return rows.map((row) => guildRow.parse(row));
}

function describe(result: RateLimitedResult): string {
  switch (result.kind) {
    case "response":
      return `Discord answered ${result.response.status}${
        result.response.code === null ? "" : ` (code ${result.response.code})`
      }`;
    case "timeout":
      return "Discord timed out";
    case "network":
      return `Cannot reach Discord: ${result.message}`;
    case "deferred":
      return "Discord's rate limit did not leave time";
  }
}

const roleSchema = z.object({
  id: z.string(),
  name: z.string(),
  position: z.number(),
  permissions: z.string(),
  managed: z.boolean().optional(),
});

/** Reads Discord's side of one guild; every question that gets no answer becomes a detail. */
async function readDiscordFacts(
  deps: HealthDeps,
  guild: GuildRow,
  botUserId: Answer<string>,
  deadline: number,
): Promise<Pick<GuildHealthFacts, "botMember" | "roles" | "logChannel">> {
  const ask = (route: DiscordRoute) =>
    deps.discord.send(route, { timeoutMs: deps.discordTimeoutMs }, deadline);
  const notAsked = (detail: string) => ({ ok: false as const, detail });

  let botMember: GuildHealthFacts["botMember"];
  let roles: GuildHealthFacts["roles"] = notAsked("not asked: the bot's membership is unknown");
  if (!botUserId.ok) {
    botMember = botUserId;
  } else {
    const member = await ask(discordRoutes.guildMember(guild.id, botUserId.value));
    const code = member.kind === "response" ? member.response.code : null;
    if (member.kind === "response" && member.response.status === 200) {
      const parsed = z.object({ roles: z.array(z.string()) }).safeParse(member.response.body);
      botMember = parsed.success
        ? { ok: true, value: { roleIds: parsed.data.roles } }
        : notAsked("Discord's member object was not understood");
    } else if (code === 10004 || code === 10007 || code === 50001) {
      botMember = { ok: true, value: "not_in_guild" };
    } else {
      botMember = notAsked(describe(member));
    }
    if (botMember.ok && botMember.value !== "not_in_guild") {
      const listed = await ask(discordRoutes.guildRoles(guild.id));
      const parsed = listed.kind === "response" && listed.response.status === 200
        ? z.array(roleSchema).safeParse(listed.response.body)
        : null;
      roles = parsed?.success
        ? { ok: true, value: parsed.data satisfies RoleFact[] }
        : notAsked(describe(listed));
    }
  }

  let logChannel: GuildHealthFacts["logChannel"] = null;
  const channelId = guild.operator_log_channel_id;
  if (channelId) {
    const channel = await ask(discordRoutes.channel(channelId));
    const status = channel.kind === "response" ? channel.response.status : null;
    const code = channel.kind === "response" ? channel.response.code : null;
    const found: Answer<LogChannelFact> = status === 200
      ? { ok: true, value: "reachable" }
      : code === 10003 || status === 404
      ? { ok: true, value: "unknown" }
      : code === 50001 || code === 50013 || status === 403
      ? { ok: true, value: "no_access" }
      : notAsked(describe(channel));
    logChannel = { channelId, found };
  }
  return { botMember, roles, logChannel };
}

async function readBotUserId(deps: HealthDeps, deadline: number): Promise<Answer<string>> {
  const me = await deps.discord.send(
    discordRoutes.currentUser(),
    { timeoutMs: deps.discordTimeoutMs },
    deadline,
  );
  if (me.kind === "response" && me.response.status === 200) {
    const parsed = z.object({ id: z.string() }).safeParse(me.response.body);
    if (parsed.success) return { ok: true, value: parsed.data.id };
  }
  return { ok: false, detail: describe(me) };
}

async function ask<T>(question: () => Promise<T>): Promise<Answer<T>> {
  try {
    return { ok: true, value: await question() };
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) };
  }
}

/** The account's Stripe settings, read once per run; null without a Stripe key. */
export async function readStripeHealthFacts(
  deps: Pick<HealthDeps, "stripe" | "expectedWebhookUrl">,
): Promise<StripeHealthFacts | null> {
  const { stripe } = deps;
  if (!stripe) return null;
  return {
    webhookEndpoints: await ask(() => stripe.listWebhookEndpoints()),
    portalConfigurations: await ask(() => stripe.listPortalConfigurations()),
    expectedWebhookUrl: deps.expectedWebhookUrl,
  };
}

/** One guild's health report, with the guild's language for its log lines. */
export interface GuildHealth {
  guildId: string;
  locale: Locale;
  report: HealthReport;
}

/**
 * Runs the checks for `guildId` (every guild when null) until `deadline` (epoch ms); a guild
 * reached after it is skipped, not judged. Null for a guild rolepass does not know.
 */
export async function checkGuildHealth(
  deps: HealthDeps,
  guildId: string | null,
  deadline: number,
): Promise<GuildHealth[]> {
  const guilds = await readGuilds(deps.sql, guildId);
  if (guilds.length === 0) return [];
  const [botUserId, stripe] = await Promise.all([
    readBotUserId(deps, deadline),
    readStripeHealthFacts(deps),
  ]);
  const reports: GuildHealth[] = [];
  for (const guild of guilds) {
    if (deps.now().getTime() >= deadline) break;
    const discord = await readDiscordFacts(deps, guild, botUserId, deadline);
    const report = judgeGuildHealth({
      guildId: guild.id,
      plans: guild.plans,
      ...discord,
      reconciliationMode: guild.mode,
    }, stripe);
    reports.push({ guildId: guild.id, locale: guild.default_locale, report });
  }
  return reports;
}

/** What a periodic run did. */
export interface HealthRunSummary {
  guilds: number;
  found: number;
  fixed: number;
}

/** The longest reason a log line carries (the notice payload's limit). */
const MAX_REASON = 300;

/**
 * The periodic check: judges every guild and records the result, so each problem is told once
 * when it appears and once when it is fixed. A check that got no answer leaves its problems as
 * they were.
 */
export async function runPeriodicHealthChecks(
  deps: HealthDeps,
  deadline: number,
): Promise<HealthRunSummary> {
  const summary: HealthRunSummary = { guilds: 0, found: 0, fixed: 0 };
  for (const { guildId, locale, report } of await checkGuildHealth(deps, null, deadline)) {
    const problems = report.problems.map(({ check, key, problem }) => ({
      check,
      key,
      reason: healthProblemText(problem, locale).slice(0, MAX_REASON),
    }));
    const [row] = await deps.sql`
      select rolepass.record_health_findings(${guildId}, ${report.checked}::text[],
        ${deps.sql.json(problems)}) as recorded`;
    const recorded = z.object({ recorded: z.object({ found: z.number(), fixed: z.number() }) })
      .parse(row).recorded;
    summary.guilds++;
    summary.found += recorded.found;
    summary.fixed += recorded.fixed;
    if (report.unanswered.length) {
      deps.logger.warn("health checks got no answer; their earlier findings stand", {
        guildId,
        unanswered: report.unanswered,
      });
    }
  }
  deps.logger.info("health checks ran", { ...summary });
  return summary;
}
