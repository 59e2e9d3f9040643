/**
 * Discord REST API double, for the tests and the dev runner's sandbox: Discord's paths under
 * `/api/v10` on 127.0.0.1, with Discord's errors, rate limits and faults on demand. Requests are
 * checked against whatever OpenAPI description is injected (`requestValidator`); the tests inject
 * Discord's own.
 *
 * @example
 * ```ts
 * import { startDiscordDouble } from "./functions/_doubles/discord/index.ts";
 * const discord = startDiscordDouble();
 * Deno.env.set("DISCORD_API_BASE_URL", discord.apiBaseUrl);
 * Deno.env.set("DISCORD_BOT_TOKEN", discord.botToken);
 * ```
 *
 * @module
 */

export {
  type DiscordDouble,
  type DiscordDoubleOptions,
  type MessageFilter,
  startDiscordDouble,
} from "./server.ts";
export { OpenApiSpec } from "./openapi.ts";
export type { SchemaValidatorOptions } from "./json_schema.ts";
export type {
  AuditEntry,
  ChannelRecord,
  GuildSetup,
  InteractionRecord,
  InteractionSetup,
  MemberSetup,
  MessageKind,
  PermissionBits,
  RoleSetup,
  SentMessage,
  StateSnapshot,
} from "./state.ts";
export { INTERACTION_TOKEN_TTL_MS } from "./state.ts";
export type { FaultRule, RandomFaultKind, RandomFaultOptions } from "./faults.ts";
export {
  type BucketKind,
  type BucketLimit,
  DEFAULT_BUCKETS,
  DEFAULT_GLOBAL,
  type RateLimitOptions,
} from "./rate_limits.ts";
export type {
  DoubleStats,
  LoggedRequest,
  RouteStats,
  SecondStats,
  SpecViolation,
} from "./request_log.ts";
export type { DiscordErrorBody, FieldError, FormErrorTree } from "./discord_errors.ts";
