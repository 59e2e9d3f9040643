/**
 * Check: the bot is a member of each configured guild; without that it can neither see the
 * guild's roles nor grant them.
 */
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { GuildFacts } from "./discord_facts.ts";
import { inviteUrl } from "./discord_token_check.ts";
import { fail, type Finding, pass } from "./finding.ts";
import { describeFailure } from "./probe.ts";

/** Discord's answers that mean "the bot is not there": Unknown Guild, Unknown Member, Missing Access. */
const NOT_A_MEMBER = new Set<string | number | null>([10004, 10007, 50001]);

/** Judges the bot's membership of `guild`. */
export function checkBotInGuild(
  guild: ConfiguredGuild,
  facts: GuildFacts,
  applicationId: string,
): Finding[] {
  const label = `"${guild.name}" (${guild.id})`;
  if (facts.botMember.ok) return [pass("discord.guild", `The bot is in guild ${label}`)];
  if (NOT_A_MEMBER.has(facts.botMember.code) || facts.botMember.status === 404) {
    return [fail(
      "discord.guild",
      `The bot is not in guild ${label}`,
      `invite it (the server's owner or an admin opens ${inviteUrl(applicationId, guild.id)}); ` +
        "if the id is wrong, correct it in supabase/plans.json and run `deno task plans:apply`",
    )];
  }
  return [fail(
    "discord.guild",
    `Cannot check guild ${label}: Discord answered ${describeFailure(facts.botMember)}`,
    "run the doctor again; if it persists, check Discord's status page",
  )];
}
