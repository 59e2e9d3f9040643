/**
 * Discord REST API test double: Discord's paths under `/api/v10` on 127.0.0.1, checked against
 * Discord's own OpenAPI description, with Discord's errors, rate limits and faults on demand.
 *
 * @example
 * ```ts
 * import { startDiscordDouble } from "./tests/doubles/discord/index.ts";
 * const discord = await startDiscordDouble();
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
