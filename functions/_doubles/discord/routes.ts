/**
 * The Discord endpoints the double implements, keyed by the OpenAPI `operationId`, each with
 * the rate-limit bucket it falls in. Requests reach a handler only after the server has matched
 * the route, checked auth, rate limits and the body against the spec.
 *
 * @module
 */

import type { BucketKind } from "./rate_limits.ts";
import { checkCommands } from "./command_rules.ts";
import { DISCORD_ERRORS, type DiscordErrorReply, invalidFormBody } from "./discord_errors.ts";
import type { CommandBody, DiscordState, MessageBody } from "./state.ts";

/** What a handler gets. */
export interface RouteContext {
  state: DiscordState;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (already valid against the spec), if any. */
  body: unknown;
  /** The decoded `X-Audit-Log-Reason`, or null. */
  auditLogReason: string | null;
}

/** What a handler answers: a status and, unless 204, a JSON body. */
export interface RouteReply {
  status: number;
  body?: unknown;
}

/** An implemented endpoint. */
export interface RouteDefinition {
  /** HTTP method and OpenAPI path template (used to route when the spec check is off). */
  method: string;
  template: string;
  /** Whether the route takes a JSON body. */
  body: boolean;
  /** Whether a bot token is required (webhook routes accept none). */
  auth: boolean;
  handle(ctx: RouteContext): RouteReply;
  /** The bucket family. */
  bucket: BucketKind;
  /** The major parameter value that separates buckets of the family. */
  major(params: Record<string, string>): string;
  /** Whether the global per-bot limit applies. */
  global: boolean;
}

const byGuild = (p: Record<string, string>) => p.guild_id ?? "";
const byChannel = (p: Record<string, string>) => p.channel_id ?? "";
const byWebhook = (p: Record<string, string>) => `${p.webhook_id}/${p.webhook_token}`;
const none = () => "";

/** The value of `{name}` in the route's template; a route reading one its template lacks is a bug. */
function param(params: Record<string, string>, name: string): string {
  const value = params[name];
  if (value === undefined) throw new Error(`Cannot read {${name}}: the route's template has none`);
  return value;
}

function reply(result: unknown, status = 200): RouteReply {
  if (isError(result)) return { status: result.status, body: result.body };
  return { status, body: result };
}

function isError(value: unknown): value is DiscordErrorReply {
  return typeof value === "object" && value !== null && "status" in value && "body" in value &&
    typeof (value as DiscordErrorReply).body?.code === "number";
}

function changeRole(action: "add" | "remove") {
  return ({ state, params, auditLogReason }: RouteContext): RouteReply => {
    const result = state.changeMemberRole(
      action,
      param(params, "guild_id"),
      param(params, "user_id"),
      param(params, "role_id"),
      auditLogReason,
    );
    return "changed" in result ? { status: 204 } : reply(result);
  };
}

function bulkOverwrite({ state, params, body }: RouteContext): RouteReply {
  if (params.application_id !== state.applicationId) {
    return reply(DISCORD_ERRORS.unknownApplication());
  }
  if (params.guild_id && !state.hasGuild(params.guild_id)) {
    return reply(DISCORD_ERRORS.unknownGuild());
  }
  const commands = (body ?? []) as CommandBody[];
  const errors = checkCommands(commands);
  if (errors.length > 0) return reply(invalidFormBody(errors));
  return reply(state.overwriteCommands(params.guild_id, commands));
}

function listCommands({ state, params }: RouteContext): RouteReply {
  if (params.application_id !== state.applicationId) {
    return reply(DISCORD_ERRORS.unknownApplication());
  }
  if (params.guild_id && !state.hasGuild(params.guild_id)) {
    return reply(DISCORD_ERRORS.unknownGuild());
  }
  return reply(state.commands(params.guild_id));
}

/** Implemented operations by `operationId`. */
export const ROUTES: Readonly<Record<string, RouteDefinition>> = {
  add_guild_member_role: {
    method: "PUT",
    template: "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    body: false,
    auth: true,
    handle: changeRole("add"),
    bucket: "roles",
    major: byGuild,
    global: true,
  },
  delete_guild_member_role: {
    method: "DELETE",
    template: "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
    body: false,
    auth: true,
    handle: changeRole("remove"),
    bucket: "roles",
    major: byGuild,
    global: true,
  },
  get_guild: {
    method: "GET",
    template: "/guilds/{guild_id}",
    body: false,
    auth: true,
    handle: ({ state, params }) => reply(state.guildObject(param(params, "guild_id"))),
    bucket: "default",
    major: byGuild,
    global: true,
  },
  list_guild_roles: {
    method: "GET",
    template: "/guilds/{guild_id}/roles",
    body: false,
    auth: true,
    handle: ({ state, params }) => reply(state.guildRoles(param(params, "guild_id"))),
    bucket: "default",
    major: byGuild,
    global: true,
  },
  list_guild_members: {
    method: "GET",
    template: "/guilds/{guild_id}/members",
    body: false,
    auth: true,
    handle: ({ state, params, query }) => {
      // The spec check holds limit to 1..1000 and after to an integer; without it, the same.
      const limit = Number(query.get("limit") ?? "1");
      const after = query.get("after") ?? "0";
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000 || !/^[0-9]{1,20}$/.test(after)) {
        return reply(
          invalidFormBody([{ path: ["limit"], code: "NUMBER_TYPE_MAX", message: "Invalid query" }]),
        );
      }
      return reply(state.listMembers(param(params, "guild_id"), limit, BigInt(after)));
    },
    bucket: "default",
    major: byGuild,
    global: true,
  },
  get_guild_member: {
    method: "GET",
    template: "/guilds/{guild_id}/members/{user_id}",
    body: false,
    auth: true,
    handle: ({ state, params }) =>
      reply(state.memberObject(param(params, "guild_id"), param(params, "user_id"))),
    bucket: "default",
    major: byGuild,
    global: true,
  },
  get_channel: {
    method: "GET",
    template: "/channels/{channel_id}",
    body: false,
    auth: true,
    handle: ({ state, params }) => reply(state.guildChannelObject(param(params, "channel_id"))),
    bucket: "default",
    major: byChannel,
    global: true,
  },
  get_my_user: {
    method: "GET",
    template: "/users/@me",
    body: false,
    auth: true,
    handle: ({ state }) => reply(state.botUser),
    bucket: "default",
    major: none,
    global: true,
  },
  get_my_application: {
    method: "GET",
    template: "/applications/@me",
    body: false,
    auth: true,
    handle: ({ state }) =>
      reply({
        id: state.applicationId,
        name: state.botUser.username,
        icon: null,
        description: "",
        type: null,
        bot: state.botUser,
        bot_public: false,
        bot_require_code_grant: false,
        verify_key: "0".repeat(64),
        flags: 0,
        summary: "",
      }),
    bucket: "default",
    major: none,
    global: true,
  },
  create_dm: {
    method: "POST",
    template: "/users/@me/channels",
    body: true,
    auth: true,
    handle: ({ state, body }) => {
      const recipientId = (body as { recipient_id?: string | null }).recipient_id;
      if (!recipientId) return reply(DISCORD_ERRORS.invalidRecipients());
      const channel = state.openDm(recipientId);
      return "type" in channel ? reply(state.dmChannelObject(channel)) : reply(channel);
    },
    bucket: "dm_channels",
    major: none,
    global: true,
  },
  create_message: {
    method: "POST",
    template: "/channels/{channel_id}/messages",
    body: true,
    auth: true,
    handle: ({ state, params, body }) => {
      const sent = state.createChannelMessage(param(params, "channel_id"), body as MessageBody);
      return "kind" in sent ? reply(state.messageObject(sent)) : reply(sent);
    },
    bucket: "messages",
    major: byChannel,
    global: true,
  },
  execute_webhook: {
    method: "POST",
    template: "/webhooks/{webhook_id}/{webhook_token}",
    body: true,
    auth: false,
    handle: ({ state, params, body }) => {
      const interaction = state.interaction(
        param(params, "webhook_id"),
        param(params, "webhook_token"),
      );
      if ("status" in interaction) return reply(interaction);
      const sent = state.createFollowup(interaction, body as MessageBody);
      return "kind" in sent ? reply(state.messageObject(sent)) : reply(sent);
    },
    bucket: "webhooks",
    major: byWebhook,
    global: false,
  },
  update_original_webhook_message: {
    method: "PATCH",
    template: "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
    body: true,
    auth: false,
    handle: ({ state, params, body }) => {
      const interaction = state.interaction(
        param(params, "webhook_id"),
        param(params, "webhook_token"),
      );
      if ("status" in interaction) return reply(interaction);
      const edited = state.editOriginal(interaction, (body ?? {}) as MessageBody);
      return "kind" in edited ? reply(state.messageObject(edited)) : reply(edited);
    },
    bucket: "webhooks",
    major: byWebhook,
    global: false,
  },
  create_interaction_response: {
    method: "POST",
    template: "/interactions/{interaction_id}/{interaction_token}/callback",
    body: true,
    auth: false,
    handle: ({ state, params, body }) => {
      const interaction = state.interactionById(
        param(params, "interaction_id"),
        param(params, "interaction_token"),
      );
      if ("status" in interaction) return reply(interaction);
      const { data } = body as { type: number; data?: MessageBody | null };
      const refused = state.respondToInteraction(interaction, data ?? undefined);
      return refused ? reply(refused) : { status: 204 };
    },
    bucket: "interaction_callbacks",
    major: (p) => p.interaction_id ?? "",
    global: false,
  },
  bulk_set_application_commands: {
    method: "PUT",
    template: "/applications/{application_id}/commands",
    body: true,
    auth: true,
    handle: bulkOverwrite,
    bucket: "commands",
    major: none,
    global: true,
  },
  bulk_set_guild_application_commands: {
    method: "PUT",
    template: "/applications/{application_id}/guilds/{guild_id}/commands",
    body: true,
    auth: true,
    handle: bulkOverwrite,
    bucket: "commands",
    major: byGuild,
    global: true,
  },
  list_application_commands: {
    method: "GET",
    template: "/applications/{application_id}/commands",
    body: false,
    auth: true,
    handle: listCommands,
    bucket: "commands",
    major: none,
    global: true,
  },
  list_guild_application_commands: {
    method: "GET",
    template: "/applications/{application_id}/guilds/{guild_id}/commands",
    body: false,
    auth: true,
    handle: listCommands,
    bucket: "commands",
    major: byGuild,
    global: true,
  },
};

/**
 * A minimal OpenAPI document with only the implemented routes and no schemas, for running
 * without Discord's description (no `requestValidator` given).
 */
export function implementedRoutesDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [operationId, route] of Object.entries(ROUTES)) {
    const operations = paths[route.template] ??= {};
    operations[route.method.toLowerCase()] = {
      operationId,
      security: route.auth ? [{ BotToken: [] }] : [{}, { BotToken: [] }],
      ...(route.body
        ? { requestBody: { required: true, content: { "application/json": { schema: {} } } } }
        : {}),
    };
  }
  return { openapi: "3.1.0", paths };
}
