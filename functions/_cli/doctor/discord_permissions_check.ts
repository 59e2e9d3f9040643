/**
 * Check: the bot may grant every paid role of a guild. Discord requires Manage Roles (or
 * Administrator) and, for each role, that the bot's highest role sits above it: "A bot can grant
 * roles to other users that are of a lower position than its own highest role"
 * (https://discord.com/developers/docs/topics/permissions#permission-hierarchy).
 */
import type { APIRole } from "discord-api-types/v10";
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { GuildFacts } from "./discord_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";
import { describeFailure } from "./probe.ts";

/** Discord permission bits this check needs. */
export const ADMINISTRATOR = 1n << 3n;
/** Manage Roles. */
export const MANAGE_ROLES = 1n << 28n;

/**
 * Whether `a` ranks above `b`. Equal positions happen (Discord does not renumber at once); then
 * the older role, with the smaller id, ranks higher, as discord.js's `Role.comparePositions` does.
 */
export function ranksAbove(a: Pick<APIRole, "id" | "position">, b: typeof a): boolean {
  if (a.position !== b.position) return a.position > b.position;
  return BigInt(a.id) < BigInt(b.id);
}

/** The bot's effective guild permissions: @everyone (id = guild id) plus each of its roles. */
export function botPermissions(guildId: string, roles: APIRole[], botRoleIds: string[]): bigint {
  const held = new Set([guildId, ...botRoleIds]);
  return roles.filter((role) => held.has(role.id))
    .reduce((bits, role) => bits | BigInt(role.permissions), 0n);
}

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
  const roles = facts.roles.value;
  const botRoleIds = facts.botMember.value.roles;
  const permissions = botPermissions(guild.id, roles, botRoleIds);
  if ((permissions & (MANAGE_ROLES | ADMINISTRATOR)) === 0n) {
    return [fail(
      "discord.permissions",
      `The bot lacks Manage Roles in guild ${label}: every grant would fail with 50013`,
      "Server Settings → Roles → the bot's role → Permissions → turn on Manage Roles",
    )];
  }
  const botRoles = roles.filter((role) => botRoleIds.includes(role.id));
  const highest = botRoles.reduce<APIRole | undefined>(
    (top, role) => !top || ranksAbove(role, top) ? role : top,
    undefined,
  );
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const plan of guild.plans) {
    if (seen.has(plan.discordRoleId)) continue;
    seen.add(plan.discordRoleId);
    const role = roles.find((candidate) => candidate.id === plan.discordRoleId);
    if (!role) continue;
    if (!highest || !ranksAbove(highest, role)) {
      findings.push(fail(
        "discord.permissions",
        `The bot's highest role${highest ? ` "${highest.name}"` : ""} is not above the paid ` +
          `role "${role.name}" (${role.id}) in guild ${label}: Discord refuses the grant (50013)`,
        "Server Settings → Roles → drag the bot's role above every paid role",
      ));
    }
  }
  if (findings.length === 0) {
    findings.push(pass(
      "discord.permissions",
      `The bot has Manage Roles in guild ${label} and ranks above every paid role`,
    ));
  }
  return findings;
}
