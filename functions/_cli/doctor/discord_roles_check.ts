/**
 * Check: each paid role exists in its guild and is one a bot may assign (not the bot role of an
 * integration, which Discord manages itself).
 */
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { GuildFacts } from "./discord_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";

/** Judges the paid roles of `guild`. */
export function checkPaidRolesExist(guild: ConfiguredGuild, facts: GuildFacts): Finding[] {
  const label = `"${guild.name}" (${guild.id})`;
  if (!facts.roles.ok) {
    return [skip("discord.roles", `Paid roles of guild ${label}`, "the guild's roles")];
  }
  const roles = facts.roles.value;
  const findings: Finding[] = [];
  for (const plan of guild.plans) {
    const role = roles.find((candidate) => candidate.id === plan.discordRoleId);
    if (!role) {
      findings.push(fail(
        "discord.roles",
        `The role ${plan.discordRoleId} of plan "${plan.name}" does not exist in guild ${label}`,
        "create the role (Server Settings → Roles) or copy the right id into " +
          "supabase/plans.json, then run `deno task plans:apply`",
      ));
    } else if (role.managed) {
      findings.push(fail(
        "discord.roles",
        `The role "${role.name}" (${role.id}) of plan "${plan.name}" is managed by an ` +
          "integration: no bot can assign it",
        "create an ordinary role for the plan and put its id in supabase/plans.json",
      ));
    } else {
      findings.push(pass(
        "discord.roles",
        `Plan "${plan.name}" grants the role "${role.name}" (${role.id}) in guild ${label}`,
      ));
    }
  }
  return findings;
}
