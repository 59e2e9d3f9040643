/**
 * The one module that knows Discord's REST API: the routes rolepass calls, each built by a typed
 * function from the ids it needs ({@linkcode discordRoutes}), their rate-limit buckets
 * ({@linkcode routeBucketOf}), and a thin client whose `send` adds the bot token, the audit-log
 * reason (percent-encoded, as Discord requires) and JSON, and returns status, headers and body
 * without throwing on HTTP errors, so callers decide what each Discord error code means.
 */
import type {
  RESTPatchAPIWebhookWithTokenMessageJSONBody,
  RESTPostAPIChannelMessageJSONBody,
  RESTPostAPIWebhookWithTokenJSONBody,
  RESTPutAPIApplicationCommandsJSONBody,
} from "discord-api-types/v10";
import { DISCORD_IDS_IN_TEXT } from "../_core/discord_id.ts";

/** Default for DISCORD_API_BASE_URL. */
export const DISCORD_DEFAULT_BASE_URL = "https://discord.com/api/v10";

/** What Discord answered. */
export interface DiscordResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null for 204 / non-JSON bodies. */
  body: T | null;
  /** Discord's JSON error code (e.g. 10007 Unknown Member), when the body has one. */
  code: number | null;
}

/** One request to Discord: the route, and what it sends. */
export interface DiscordRoute {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The path under DISCORD_API_BASE_URL, with its query. */
  path: string;
  body?: unknown;
  /** Shown in the guild's audit log; sent URL-encoded, 1-512 characters, as Discord needs. */
  auditLogReason?: string;
  /** Interaction webhooks are authenticated by their token in the path, not the bot token. */
  withoutBotToken?: boolean;
}

/**
 * Every Discord REST route rolepass calls. Ids are Discord snowflakes the callers have parsed;
 * an interaction token is a credential that only travels in the path.
 */
export const discordRoutes = {
  /** https://discord.com/developers/docs/resources/user#get-current-user */
  currentUser: (): DiscordRoute => ({ method: "GET", path: "/users/@me" }),
  /** https://discord.com/developers/docs/resources/application#get-current-application */
  currentApplication: (): DiscordRoute => ({ method: "GET", path: "/applications/@me" }),
  /** https://discord.com/developers/docs/resources/guild#get-guild-member */
  guildMember: (guildId: string, userId: string): DiscordRoute => ({
    method: "GET",
    path: `/guilds/${guildId}/members/${userId}`,
  }),
  /**
   * A page of up to `limit` (1-1000) members with ids above `after`, in id order; needs the
   * Server Members intent. https://discord.com/developers/docs/resources/guild#list-guild-members
   */
  guildMembersPage: (guildId: string, limit: number, after: string | null): DiscordRoute => ({
    method: "GET",
    path: `/guilds/${guildId}/members?limit=${limit}${after ? `&after=${after}` : ""}`,
  }),
  /** https://discord.com/developers/docs/resources/guild#get-guild-roles */
  guildRoles: (guildId: string): DiscordRoute => ({
    method: "GET",
    path: `/guilds/${guildId}/roles`,
  }),
  /** https://discord.com/developers/docs/resources/guild#add-guild-member-role */
  addMemberRole: (
    guildId: string,
    userId: string,
    roleId: string,
    auditLogReason: string,
  ): DiscordRoute => ({
    method: "PUT",
    path: `/guilds/${guildId}/members/${userId}/roles/${roleId}`,
    auditLogReason,
  }),
  /** https://discord.com/developers/docs/resources/guild#remove-guild-member-role */
  removeMemberRole: (
    guildId: string,
    userId: string,
    roleId: string,
    auditLogReason: string,
  ): DiscordRoute => ({
    method: "DELETE",
    path: `/guilds/${guildId}/members/${userId}/roles/${roleId}`,
    auditLogReason,
  }),
  /** https://discord.com/developers/docs/resources/channel#get-channel */
  channel: (channelId: string): DiscordRoute => ({
    method: "GET",
    path: `/channels/${channelId}`,
  }),
  /**
   * A message in a channel (a DM or the operator log). With `nonce` and `enforce_nonce` in the
   * body, a retry gets the first message back instead of posting a second one.
   * https://discord.com/developers/docs/resources/message#create-message
   */
  createMessage: (channelId: string, message: RESTPostAPIChannelMessageJSONBody): DiscordRoute => ({
    method: "POST",
    path: `/channels/${channelId}/messages`,
    body: message,
  }),
  /** https://discord.com/developers/docs/resources/user#create-dm */
  createDm: (recipientId: string): DiscordRoute => ({
    method: "POST",
    path: "/users/@me/channels",
    body: { recipient_id: recipientId },
  }),
  /**
   * A follow-up message on an interaction, while its token lives (15 minutes).
   * https://discord.com/developers/docs/interactions/receiving-and-responding#create-followup-message
   */
  createFollowup: (
    applicationId: string,
    interactionToken: string,
    message: RESTPostAPIWebhookWithTokenJSONBody,
  ): DiscordRoute => ({
    method: "POST",
    path: `/webhooks/${applicationId}/${interactionToken}`,
    body: message,
    withoutBotToken: true,
  }),
  /** https://discord.com/developers/docs/interactions/receiving-and-responding#edit-original-interaction-response */
  editOriginalResponse: (
    applicationId: string,
    interactionToken: string,
    message: RESTPatchAPIWebhookWithTokenMessageJSONBody,
  ): DiscordRoute => ({
    method: "PATCH",
    path: `/webhooks/${applicationId}/${interactionToken}/messages/@original`,
    body: message,
    withoutBotToken: true,
  }),
  /**
   * Replaces the application's commands: the guild's when `guildId` is given (at once), else the
   * global ones. https://discord.com/developers/docs/interactions/application-commands#bulk-overwrite-global-application-commands
   */
  overwriteCommands: (
    applicationId: string,
    guildId: string | null,
    commands: RESTPutAPIApplicationCommandsJSONBody,
  ): DiscordRoute => ({
    method: "PUT",
    path: guildId
      ? `/applications/${applicationId}/guilds/${guildId}/commands`
      : `/applications/${applicationId}/commands`,
    body: commands,
  }),
} as const;

/** The rate-limit bucket a call falls in. */
export interface RouteBucket {
  /** The route family and its major parameter; never contains a token. */
  key: string;
  /** Whether the global per-bot limit applies (interaction webhooks are exempt). */
  global: boolean;
}

async function shortHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * The bucket of `method path`. Buckets are per route and major parameter (guild, channel,
 * webhook); role add and remove share one per guild.
 */
export async function routeBucketOf(method: string, path: string): Promise<RouteBucket> {
  const [bare = ""] = path.split("?");
  let match = bare.match(/^\/guilds\/(\d+)\/members\/\d+\/roles\/\d+$/);
  if (match) return { key: `roles:${match[1]}`, global: true };
  if (bare === discordRoutes.createDm("").path) return { key: "dm_channels", global: true };
  match = bare.match(/^\/channels\/(\d+)\/messages$/);
  if (match) return { key: `messages:${match[1]}`, global: true };
  const [, webhookId, webhookToken] = bare.match(/^\/webhooks\/(\d+)\/([^/]+)/) ?? [];
  if (webhookId !== undefined && webhookToken !== undefined) {
    // The interaction token is a credential: the key carries only a hash of it.
    return { key: `webhooks:${webhookId}:${await shortHash(webhookToken)}`, global: false };
  }
  return {
    key: `${method.toUpperCase()} ${bare.replace(DISCORD_IDS_IN_TEXT, ":id")}`,
    global: true,
  };
}

/** A Discord REST client. */
export interface DiscordApi {
  /** Sends one route's request. */
  send<T = unknown>(
    route: DiscordRoute,
    options?: { timeoutMs?: number },
  ): Promise<DiscordResponse<T>>;
}

/** Encodes an audit-log reason as Discord requires (percent-encoded UTF-8, at most 512 chars). */
export function encodeAuditLogReason(reason: string): string {
  let encoded = encodeURIComponent(reason);
  while (encoded.length > 512) {
    reason = reason.slice(0, -1);
    encoded = encodeURIComponent(reason);
  }
  return encoded;
}

/** Creates a client for `baseUrl` (DISCORD_API_BASE_URL) authenticated as the bot. */
export function createDiscordApi(
  baseUrl: string,
  botToken: string,
  fetchImpl: typeof fetch = fetch,
): DiscordApi {
  const root = baseUrl.replace(/\/+$/, "");
  return {
    async send<T>(route: DiscordRoute, options: { timeoutMs?: number } = {}) {
      const headers = new Headers({
        "User-Agent": "DiscordBot (https://github.com/rolepass, 1.0)",
      });
      if (!route.withoutBotToken) headers.set("Authorization", `Bot ${botToken}`);
      if (route.body !== undefined) headers.set("Content-Type", "application/json");
      if (route.auditLogReason) {
        headers.set("X-Audit-Log-Reason", encodeAuditLogReason(route.auditLogReason));
      }
      const response = await fetchImpl(`${root}${route.path}`, {
        method: route.method,
        headers,
        body: route.body === undefined ? undefined : JSON.stringify(route.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const text = await response.text();
      let body: T | null = null;
      if (text && (response.headers.get("content-type") ?? "").includes("json")) {
        try {
          body = JSON.parse(text) as T;
        } catch {
          body = null;
        }
      }
      const code = body && typeof body === "object" && "code" in body &&
          typeof (body as { code: unknown }).code === "number"
        ? (body as { code: number }).code
        : null;
      return { status: response.status, headers: response.headers, body, code };
    },
  };
}
