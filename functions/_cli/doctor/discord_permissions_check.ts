/**
 * Check: the bot may grant every paid role of a guild. Discord requires Manage Roles (or
 * Administrator) and, for each role, that the bot's highest role sits above it: "A bot can grant
 * roles to other users that are of a lower position than its own highest role"
 * (https://discord.com/developers/docs/topics/permissions#permission-hierarchy).
 */
import { judgeRoleManagement } from "../../_core/health.ts";
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { GuildFacts } from "./discord_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";
import { describeFailure } from "./probe.ts";

export { ADMINISTRATOR, botPermissions, MANAGE_ROLES, ranksAbove } from "../../_core/health.ts";

/** Judges Manage Roles and the role hierarchy for `guild`'s paid roles. */
export function checkBotCanManageRoles(guild: ConfiguredGuild, facts: GuildFacts): Finding[] {
  const label = `"${guild.name}" (${guild.id})`;
  if (!facts.botMember.ok) {
    return [skip("discord.permissions", `Bot permissions in guild ${label}`, "the bot in it")];
  }
  if (!facts.roles.ok) {
    return [fail(
      "discord.permissions",
      `Cannot read the roles of guild ${label}: Discord answered ${describeFailure(facts.roles)}`,
      "run the doctor again",
    )];
  }
  const management = judgeRoleManagement(
    guild.id,
    facts.roles.value,
    facts.botMember.value.roles,
    guild.plans.map((plan) => plan.discordRoleId),
  );
  if (!management.canManageRoles) {
    return [fail(
      "discord.permissions",
      `The bot lacks Manage Roles in guild ${label}: every grant would fail with 50013`,
      "Server Settings → Roles → the bot's role → Permissions → turn on Manage Roles",
    )];
  }
  const { highest } = management;
  const findings: Finding[] = management.outranked.map((role) =>
    fail(
      "discord.permissions",
      `The bot's highest role${highest ? ` "${highest.name}"` : ""} is not above the paid ` +
        `role "${role.name}" (${role.id}) in guild ${label}: Discord refuses the grant (50013)`,
      "Server Settings → Roles → drag the bot's role above every paid role",
    )
  );
  if (findings.length === 0) {
    findings.push(pass(
      "discord.permissions",
      `The bot has Manage Roles in guild ${label} and ranks above every paid role`,
    ));
  }
  return findings;
}
