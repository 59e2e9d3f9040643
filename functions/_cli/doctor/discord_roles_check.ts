/**
 * Check: each paid role exists in its guild and is one a bot may assign (not the bot role of an
 * integration, which Discord manages itself).
 */
import { judgePlanRoles } from "../../_core/health.ts";
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { GuildFacts } from "./discord_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";

/** Judges the paid roles of `guild`. */
export function checkPaidRolesExist(guild: ConfiguredGuild, facts: GuildFacts): Finding[] {
  const label = `"${guild.name}" (${guild.id})`;
  if (!facts.roles.ok) {
    return [skip("discord.roles", `Paid roles of guild ${label}`, "the guild's roles")];
  }
  const verdicts = judgePlanRoles(
    facts.roles.value,
    guild.plans.map((plan) => ({ roleId: plan.discordRoleId, planName: plan.name })),
  );
  const findings = verdicts.map((verdict): Finding => {
    const { planName, roleId } = verdict.plan;
    if (verdict.kind === "missing") {
      return fail(
        "discord.roles",
        `The role ${roleId} of plan "${planName}" does not exist in guild ${label}`,
        "create the role (Server Settings → Roles) or copy the right id into " +
          "supabase/plans.json, then run `deno task plans:apply`",
      );
    }
    const { role } = verdict;
    if (verdict.kind === "managed") {
      return fail(
        "discord.roles",
        `The role "${role.name}" (${role.id}) of plan "${planName}" is managed by an ` +
          "integration: no bot can assign it",
        "create an ordinary role for the plan and put its id in supabase/plans.json",
      );
    }
    return pass(
      "discord.roles",
      `Plan "${planName}" grants the role "${role.name}" (${role.id}) in guild ${label}`,
    );
  });
  return findings;
}
