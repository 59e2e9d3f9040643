/**
 * Thin fetchers of what Discord says about the bot and each configured guild. They never throw:
 * every answer, error or network failure becomes a Probe for the pure checks.
 */
import type { APIApplication, APIGuildMember, APIRole, APIUser } from "discord-api-types/v10";
import { type DiscordApi, type DiscordRoute, discordRoutes } from "../../_shared/discord_api.ts";
import { answered, type Probe, refused } from "./probe.ts";

async function ask<T>(api: DiscordApi, route: DiscordRoute): Promise<Probe<T>> {
  try {
    const response = await api.send<T>(route, { timeoutMs: 10_000 });
    if (response.status === 200 && response.body !== null) return answered(response.body);
    const message = (response.body as { message?: string } | null)?.message ?? "";
    return refused(response.status, response.code, message);
  } catch (error) {
    return refused(null, null, error instanceof Error ? error.message : String(error));
  }
}

/** Who the bot token belongs to. */
export interface BotFacts {
  user: Probe<Pick<APIUser, "id" | "username">>;
  application: Probe<Pick<APIApplication, "id" | "name" | "verify_key">>;
}

/** GET /users/@me and /applications/@me. */
export async function fetchBotFacts(api: DiscordApi): Promise<BotFacts> {
  const user = await ask<APIUser>(api, discordRoutes.currentUser());
  const application = user.ok
    ? await ask<APIApplication>(api, discordRoutes.currentApplication())
    : refused<APIApplication>(null, null, "not asked: the bot token was refused");
  return { user, application };
}

/** What the bot sees of one guild. */
export interface GuildFacts {
  guildId: string;
  /** The bot's own membership: its role ids. */
  botMember: Probe<Pick<APIGuildMember, "roles">>;
  /** Every role of the guild, with positions and permissions. */
  roles: Probe<APIRole[]>;
}

/** GET /guilds/{id}/members/{bot id} and, when the bot is there, /guilds/{id}/roles. */
export async function fetchGuildFacts(
  api: DiscordApi,
  guildId: string,
  botUserId: string,
): Promise<GuildFacts> {
  const botMember = await ask<APIGuildMember>(api, discordRoutes.guildMember(guildId, botUserId));
  const roles = botMember.ok
    ? await ask<APIRole[]>(api, discordRoutes.guildRoles(guildId))
    : refused<APIRole[]>(null, null, "not asked: the bot is not in the guild");
  return { guildId, botMember, roles };
}
