/**
 * What the fake Discord knows: the application and its bot user, guilds with roles and
 * members, channels, messages sent, application commands, interaction tokens and the audit log.
 *
 * It speaks in Discord's own objects (discord-api-types) and answers rule violations with the
 * error Discord would send, as values.
 *
 * @module
 */

import {
  type APIApplicationCommand,
  type APIEmbed,
  type APIGuild,
  type APIGuildMember,
  type APIMessage,
  type APIRole,
  type APIUser,
  ApplicationCommandType,
  GuildDefaultMessageNotifications,
  GuildExplicitContentFilter,
  type GuildMemberFlags,
  GuildMFALevel,
  GuildNSFWLevel,
  GuildPremiumTier,
  GuildSystemChannelFlags,
  GuildVerificationLevel,
  Locale,
  MessageType,
  PermissionFlagsBits,
  type RoleFlags,
  type UserFlags,
} from "discord-api-types/v10";
import type { DoubleClock } from "./clock.ts";
import { DISCORD_ERRORS, type DiscordErrorReply } from "./discord_errors.ts";
import { SnowflakeFactory } from "./snowflake.ts";

/** How long Discord remembers an enforced nonce ("a few minutes"; the double keeps five). */
const NONCE_WINDOW_MS = 5 * 60_000;

/** Interaction tokens live 15 minutes (docs: "Receiving and Responding", followup messages). */
export const INTERACTION_TOKEN_TTL_MS = 15 * 60 * 1000;

/** A permission bitfield as a bigint, a decimal string or a safe integer. */
export type PermissionBits = bigint | string | number;

/** What a test says about a guild it adds. */
export interface GuildSetup {
  /** Guild id; generated when absent. */
  id?: string;
  name?: string;
  /** Permissions of the bot's own role. Default `MANAGE_ROLES`. */
  botPermissions?: PermissionBits;
  /** Position of the bot's own role; it can manage roles strictly below. Default 10. */
  botRolePosition?: number;
  /** Permissions of `@everyone` (role id = guild id). Default none. */
  everyonePermissions?: PermissionBits;
}

/** What a test says about a role it adds. */
export interface RoleSetup {
  /** Role id; generated when absent. */
  id?: string;
  name?: string;
  position: number;
  permissions?: PermissionBits;
  /** Managed roles (bots, integrations) cannot be granted by anyone. */
  managed?: boolean;
}

/** What a test says about a member it adds. */
export interface MemberSetup {
  roles?: string[];
  /** The user does not accept DMs from the bot: sending one fails with 50007. */
  dmsClosed?: boolean;
  username?: string;
}

/** What a test says about an interaction whose token production code will use. */
export interface InteractionSetup {
  /** Defaults to the double's application id. */
  applicationId?: string;
  /** Used by `POST /interactions/{id}/{token}/callback`; generated when absent. */
  interactionId?: string;
  guildId?: string;
  userId?: string;
  channelId?: string;
  /**
   * Whether the initial response was already given (inline in the HTTP reply to Discord).
   * Default `true`; with `false`, editing `@original` fails until a callback is posted.
   */
  responded?: boolean;
}

/** A registered interaction token. */
export interface InteractionRecord
  extends Required<Omit<InteractionSetup, "guildId" | "userId" | "channelId">> {
  token: string;
  guildId?: string;
  userId?: string;
  channelId: string;
  registeredAt: number;
  expiresAt: number;
}

/** Where a message went. */
export type MessageKind = "dm" | "channel" | "followup" | "original";

/** A message production code made Discord show. */
export interface SentMessage {
  id: string;
  kind: MessageKind;
  channelId: string;
  guildId?: string;
  /** The member who sees it: the DM recipient, or the user of the interaction. */
  targetUserId?: string;
  content: string;
  embeds: APIEmbed[];
  components: unknown[];
  flags: number;
  ephemeral: boolean;
  /** Epoch ms of creation, and of the last edit. */
  createdAt: number;
  editedAt?: number;
}

/** One role change, as Discord's audit log would show it. */
export interface AuditEntry {
  at: number;
  guildId: string;
  action: "member_role_add" | "member_role_remove";
  userId: string;
  roleId: string;
  /** The decoded `X-Audit-Log-Reason`, or null when none was sent. */
  reason: string | null;
}

/** A text channel or a DM channel. */
export interface ChannelRecord {
  id: string;
  type: 0 | 1;
  guildId?: string;
  name?: string;
  recipientId?: string;
}

interface UserRecord {
  user: APIUser;
  dmsClosed: boolean;
}

interface MemberRecord {
  roles: Set<string>;
  joinedAt: string;
}

interface GuildRecord {
  id: string;
  name: string;
  ownerId: string;
  botRoleId: string;
  roles: Map<string, APIRole>;
  members: Map<string, MemberRecord>;
}

/** Guilds with their roles and members, and the users the double knows. */
export interface StateSnapshot {
  application: { id: string; bot: APIUser };
  guilds: {
    id: string;
    name: string;
    botRoleId: string;
    roles: APIRole[];
    members: { userId: string; roles: string[] }[];
  }[];
  users: { id: string; username: string; dmsClosed: boolean }[];
}

/** Every locale Discord accepts as a key of `name_localizations`. */
export const DISCORD_LOCALES: ReadonlySet<string> = new Set(Object.values(Locale));

/** The fake Discord's data. */
export class DiscordState {
  readonly applicationId: string;
  readonly botUser: APIUser;
  readonly ids: SnowflakeFactory;
  #clock: DoubleClock;
  #users = new Map<string, UserRecord>();
  #guilds = new Map<string, GuildRecord>();
  #channels = new Map<string, ChannelRecord>();
  #dmChannelByUser = new Map<string, string>();
  #messages: SentMessage[] = [];
  #messagesByNonce = new Map<string, SentMessage>();
  #originals = new Map<string, SentMessage>();
  #commands = new Map<string, APIApplicationCommand[]>();
  #interactions = new Map<string, InteractionRecord>();
  #interactionsById = new Map<string, InteractionRecord>();
  #audit: AuditEntry[] = [];
  #membersIntent = true;

  /**
   * @param clock the double's clock.
   * @param applicationId the application (and bot user) id; generated when absent.
   */
  constructor(clock: DoubleClock, applicationId?: string) {
    this.#clock = clock;
    this.ids = new SnowflakeFactory(() => clock.now());
    this.applicationId = applicationId ?? this.ids.next();
    this.botUser = {
      ...userObject(this.applicationId, "rolepass-double"),
      bot: true,
    };
  }

  /** Current time on the double's clock. */
  now(): number {
    return this.#clock.now();
  }

  // ---- setup (control API) ----

  /** Adds a guild with `@everyone`, the bot as a member and the bot's own managed role. */
  addGuild(setup: GuildSetup = {}): { id: string; botRoleId: string } {
    const id = setup.id ?? this.ids.next();
    const botRoleId = this.ids.next();
    const guild: GuildRecord = {
      id,
      name: setup.name ?? `Guild ${id}`,
      ownerId: this.ids.next(),
      botRoleId,
      roles: new Map(),
      members: new Map(),
    };
    guild.roles.set(
      id,
      roleObject(id, "@everyone", 0, bits(setup.everyonePermissions ?? 0n), false),
    );
    guild.roles.set(
      botRoleId,
      roleObject(
        botRoleId,
        this.botUser.username,
        setup.botRolePosition ?? 10,
        bits(setup.botPermissions ?? PermissionFlagsBits.ManageRoles),
        true,
      ),
    );
    guild.members.set(this.applicationId, { roles: new Set([botRoleId]), joinedAt: this.#iso() });
    this.#guilds.set(id, guild);
    return { id, botRoleId };
  }

  /** Adds (or replaces) a role in a guild. */
  addRole(guildId: string, setup: RoleSetup): APIRole {
    const guild = this.#guild(guildId);
    const id = setup.id ?? this.ids.next();
    const role = roleObject(
      id,
      setup.name ?? `role-${id}`,
      setup.position,
      bits(setup.permissions ?? 0n),
      setup.managed ?? false,
    );
    guild.roles.set(id, role);
    return role;
  }

  /** Changes the bot's own role: its permissions and/or position. */
  setBotRole(guildId: string, change: { permissions?: PermissionBits; position?: number }): void {
    const guild = this.#guild(guildId);
    const role = guild.roles.get(guild.botRoleId)!;
    if (change.permissions !== undefined) role.permissions = bits(change.permissions).toString();
    if (change.position !== undefined) role.position = change.position;
  }

  /** Adds a user to a guild (creating the user if new). */
  addMember(guildId: string, userId: string, setup: MemberSetup = {}): void {
    const guild = this.#guild(guildId);
    this.addUser(userId, { username: setup.username, dmsClosed: setup.dmsClosed });
    for (const roleId of setup.roles ?? []) {
      if (!guild.roles.has(roleId)) {
        throw new Error(`Cannot add member: role ${roleId} is not in guild ${guildId}`);
      }
    }
    guild.members.set(userId, { roles: new Set(setup.roles ?? []), joinedAt: this.#iso() });
  }

  /** Creates or updates a user; `dmsClosed` makes DMs to them fail with 50007. */
  addUser(userId: string, setup: { username?: string; dmsClosed?: boolean } = {}): APIUser {
    const existing = this.#users.get(userId);
    if (existing) {
      if (setup.dmsClosed !== undefined) existing.dmsClosed = setup.dmsClosed;
      if (setup.username !== undefined) existing.user.username = setup.username;
      return existing.user;
    }
    const user = userObject(userId, setup.username ?? `member-${userId.slice(-6)}`);
    this.#users.set(userId, { user, dmsClosed: setup.dmsClosed ?? false });
    return user;
  }

  /** Opens or closes a user's DMs. */
  setDmsClosed(userId: string, closed: boolean): void {
    this.addUser(userId, { dmsClosed: closed });
  }

  /** Removes a member from a guild: later role changes for them fail with 10007. */
  removeMember(guildId: string, userId: string): void {
    this.#guild(guildId).members.delete(userId);
  }

  /** A member leaves and joins again: Discord keeps none of their roles. */
  rejoinMember(guildId: string, userId: string): void {
    const guild = this.#guild(guildId);
    guild.members.delete(userId);
    this.addUser(userId);
    guild.members.set(userId, { roles: new Set(), joinedAt: this.#iso() });
  }

  /** A moderator sets a member's roles in Discord's client: rolepass is not told. */
  setMemberRoles(guildId: string, userId: string, roles: string[]): void {
    const guild = this.#guild(guildId);
    const member = guild.members.get(userId);
    if (!member) throw new Error(`Cannot set roles: ${userId} is not in guild ${guildId}`);
    for (const roleId of roles) {
      if (!guild.roles.has(roleId)) {
        throw new Error(`Cannot set roles: role ${roleId} is not in guild ${guildId}`);
      }
    }
    member.roles = new Set(roles);
  }

  /**
   * The Server Members privileged intent of the application (Developer Portal > Bot). Without
   * it, List Guild Members answers 403 50001.
   */
  setMembersIntent(enabled: boolean): void {
    this.#membersIntent = enabled;
  }

  /** Adds a guild text channel. */
  addChannel(guildId: string, setup: { id?: string; name?: string } = {}): ChannelRecord {
    this.#guild(guildId);
    const channel: ChannelRecord = {
      id: setup.id ?? this.ids.next(),
      type: 0,
      guildId,
      name: setup.name ?? "general",
    };
    this.#channels.set(channel.id, channel);
    return channel;
  }

  /** Registers an interaction token, valid 15 minutes from now on the double's clock. */
  registerInteraction(token: string, setup: InteractionSetup = {}): InteractionRecord {
    const now = this.now();
    const record: InteractionRecord = {
      token,
      applicationId: setup.applicationId ?? this.applicationId,
      interactionId: setup.interactionId ?? this.ids.next(),
      guildId: setup.guildId,
      userId: setup.userId,
      channelId: setup.channelId ?? this.ids.next(),
      responded: setup.responded ?? true,
      registeredAt: now,
      expiresAt: now + INTERACTION_TOKEN_TTL_MS,
    };
    this.#interactions.set(token, record);
    this.#interactionsById.set(record.interactionId, record);
    return record;
  }

  // ---- reads (control API) ----

  /** A member's role ids, or `undefined` when they are not in the guild. */
  memberRoles(guildId: string, userId: string): string[] | undefined {
    const member = this.#guilds.get(guildId)?.members.get(userId);
    return member ? [...member.roles] : undefined;
  }

  /** All messages sent, oldest first. */
  messages(): SentMessage[] {
    return this.#messages.map((m) => structuredClone(m));
  }

  /** Role changes with their decoded reasons, oldest first. */
  auditLog(): AuditEntry[] {
    return this.#audit.map((e) => ({ ...e }));
  }

  /** Registered commands: global when `guildId` is absent. */
  commands(guildId?: string): APIApplicationCommand[] {
    return structuredClone(this.#commands.get(guildId ?? "global") ?? []);
  }

  /** A snapshot of guilds, roles and members, for the sandbox page and debugging. */
  snapshot(): StateSnapshot {
    return {
      application: { id: this.applicationId, bot: this.botUser },
      guilds: [...this.#guilds.values()].map((g) => ({
        id: g.id,
        name: g.name,
        botRoleId: g.botRoleId,
        roles: [...g.roles.values()].map((r) => ({ ...r })),
        members: [...g.members.entries()].map(([userId, m]) => ({ userId, roles: [...m.roles] })),
      })),
      users: [...this.#users.values()].map((u) => ({
        id: u.user.id,
        username: u.user.username,
        dmsClosed: u.dmsClosed,
      })),
    };
  }

  // ---- Discord behaviour (used by the routes) ----

  /** `GET /channels/{id}` of a guild text channel (shape of the docs' guild text channel). */
  guildChannelObject(channelId: string): Record<string, unknown> | DiscordErrorReply {
    const channel = this.#channels.get(channelId);
    if (!channel || channel.type !== 0) return DISCORD_ERRORS.unknownChannel();
    return {
      id: channel.id,
      type: 0,
      guild_id: channel.guildId,
      name: channel.name,
      position: 0,
      permission_overwrites: [],
      parent_id: null,
      nsfw: false,
      topic: null,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
    };
  }

  /** `GET /guilds/{id}` body. */
  guildObject(guildId: string): APIGuild | DiscordErrorReply {
    const g = this.#guilds.get(guildId);
    if (!g) return DISCORD_ERRORS.unknownGuild();
    return {
      id: g.id,
      name: g.name,
      icon: null,
      splash: null,
      discovery_splash: null,
      owner_id: g.ownerId,
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: GuildVerificationLevel.None,
      default_message_notifications: GuildDefaultMessageNotifications.OnlyMentions,
      explicit_content_filter: GuildExplicitContentFilter.Disabled,
      roles: this.guildRoles(g.id) as APIRole[],
      emojis: [],
      features: [],
      mfa_level: GuildMFALevel.None,
      application_id: null,
      system_channel_id: null,
      system_channel_flags: 0 as GuildSystemChannelFlags,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: GuildPremiumTier.None,
      preferred_locale: Locale.Japanese,
      public_updates_channel_id: null,
      nsfw_level: GuildNSFWLevel.Default,
      stickers: [],
      premium_progress_bar_enabled: false,
      hub_type: null,
      safety_alerts_channel_id: null,
      incidents_data: null,
      region: "japan",
    } as APIGuild;
  }

  /** `GET /guilds/{id}/roles` body. */
  guildRoles(guildId: string): APIRole[] | DiscordErrorReply {
    const g = this.#guilds.get(guildId);
    if (!g) return DISCORD_ERRORS.unknownGuild();
    return [...g.roles.values()].sort((a, b) => a.position - b.position).map((r) => ({ ...r }));
  }

  /** `GET /guilds/{id}/members/{user_id}` body. */
  memberObject(guildId: string, userId: string): APIGuildMember | DiscordErrorReply {
    const g = this.#guilds.get(guildId);
    if (!g) return DISCORD_ERRORS.unknownGuild();
    const m = g.members.get(userId);
    if (!m) return DISCORD_ERRORS.unknownMember();
    const user = userId === this.applicationId ? this.botUser : this.#users.get(userId)!.user;
    return {
      user,
      nick: null,
      avatar: null,
      banner: null,
      roles: [...m.roles],
      joined_at: m.joinedAt,
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      communication_disabled_until: null,
      flags: 0 as GuildMemberFlags,
    };
  }

  /**
   * `GET /guilds/{id}/members`: members in ascending user id after `after`, `limit` of them
   * (Discord: default 1, at most 1000). Needs the Server Members intent (403 50001 without).
   */
  listMembers(
    guildId: string,
    limit: number,
    after: bigint,
  ): APIGuildMember[] | DiscordErrorReply {
    const g = this.#guilds.get(guildId);
    if (!g) return DISCORD_ERRORS.unknownGuild();
    if (!this.#membersIntent) return DISCORD_ERRORS.missingAccess();
    const ids = [...g.members.keys()].map(BigInt).filter((id) => id > after)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).slice(0, limit);
    return ids.map((id) => this.memberObject(guildId, id.toString()) as APIGuildMember);
  }

  /**
   * Adds or removes a member's role, with Discord's checks in Discord's order: guild, member,
   * role, then the bot's `MANAGE_ROLES` and the role hierarchy ("a bot can grant roles to other
   * users that are of a lower position than its own highest role").
   */
  changeMemberRole(
    action: "add" | "remove",
    guildId: string,
    userId: string,
    roleId: string,
    reason: string | null,
  ): DiscordErrorReply | { changed: boolean } {
    const g = this.#guilds.get(guildId);
    if (!g) return DISCORD_ERRORS.unknownGuild();
    const member = g.members.get(userId);
    if (!member) return DISCORD_ERRORS.unknownMember();
    const role = g.roles.get(roleId);
    if (!role) return DISCORD_ERRORS.unknownRole();
    if (!this.#botCanManage(g, role)) return DISCORD_ERRORS.missingPermissions();
    const had = member.roles.has(roleId);
    if (action === "add") member.roles.add(roleId);
    else member.roles.delete(roleId);
    const changed = had !== (action === "add");
    if (changed) {
      this.#audit.push({
        at: this.now(),
        guildId,
        action: action === "add" ? "member_role_add" : "member_role_remove",
        userId,
        roleId,
        reason,
      });
    }
    return { changed };
  }

  /** `POST /users/@me/channels`: the DM channel with a user, created once and reused. */
  openDm(recipientId: string): ChannelRecord | DiscordErrorReply {
    if (!this.#users.has(recipientId)) return DISCORD_ERRORS.invalidRecipients();
    const existing = this.#dmChannelByUser.get(recipientId);
    if (existing) return this.#channels.get(existing)!;
    const channel: ChannelRecord = { id: this.ids.next(), type: 1, recipientId };
    this.#channels.set(channel.id, channel);
    this.#dmChannelByUser.set(recipientId, channel.id);
    return channel;
  }

  /** The DM channel object Discord returns (shape of the docs' DM channel example). */
  dmChannelObject(channel: ChannelRecord): Record<string, unknown> {
    const recipient = this.#users.get(channel.recipientId!)!.user;
    const last = this.#messages.findLast((m) => m.channelId === channel.id);
    return {
      id: channel.id,
      type: 1,
      last_message_id: last?.id ?? null,
      flags: 0,
      recipients: [recipient],
    };
  }

  /**
   * `POST /channels/{id}/messages`, with Discord's DM refusals (50007, 50278). With `nonce` and
   * `enforce_nonce`, a message already created in the channel with the same nonce within the
   * last few minutes is returned instead of a second one (docs: Create Message, `enforce_nonce`).
   */
  createChannelMessage(channelId: string, body: MessageBody): SentMessage | DiscordErrorReply {
    const channel = this.#channels.get(channelId);
    if (!channel) return DISCORD_ERRORS.unknownChannel();
    const nonceKey = body.enforce_nonce && body.nonce != null
      ? `${channelId}:${body.nonce}`
      : undefined;
    if (nonceKey) {
      const earlier = this.#messagesByNonce.get(nonceKey);
      if (earlier && this.now() - earlier.createdAt < NONCE_WINDOW_MS) return earlier;
    }
    if (isEmptyMessage(body)) return DISCORD_ERRORS.emptyMessage();
    if (channel.type === 1) {
      const recipient = this.#users.get(channel.recipientId!)!;
      if (recipient.dmsClosed) return DISCORD_ERRORS.cannotMessageUser();
      const mutual = [...this.#guilds.values()].some((g) => g.members.has(recipient.user.id));
      if (!mutual) return DISCORD_ERRORS.noMutualGuilds();
    }
    const message = this.#record(channel.type === 1 ? "dm" : "channel", channelId, body, {
      guildId: channel.guildId,
      targetUserId: channel.recipientId,
    });
    if (nonceKey) this.#messagesByNonce.set(nonceKey, message);
    return message;
  }

  /** Finds a live interaction token, or the error Discord gives for a dead or foreign one. */
  interaction(applicationId: string, token: string): InteractionRecord | DiscordErrorReply {
    if (applicationId !== this.applicationId) return DISCORD_ERRORS.unknownWebhook();
    const record = this.#interactions.get(token);
    // discord-api-docs#6851 and library reports: an expired token answers 401 50027.
    if (!record || record.applicationId !== applicationId || this.now() >= record.expiresAt) {
      return DISCORD_ERRORS.invalidWebhookToken();
    }
    return record;
  }

  /** Finds an interaction by id and token for `POST /interactions/{id}/{token}/callback`. */
  interactionById(interactionId: string, token: string): InteractionRecord | DiscordErrorReply {
    const record = this.#interactionsById.get(interactionId);
    if (!record || record.token !== token || this.now() >= record.expiresAt) {
      return DISCORD_ERRORS.unknownInteraction();
    }
    return record;
  }

  /** Records the initial response of an interaction given through the callback endpoint. */
  respondToInteraction(
    record: InteractionRecord,
    body: MessageBody | undefined,
  ): DiscordErrorReply | undefined {
    if (record.responded) return DISCORD_ERRORS.alreadyAcknowledged();
    record.responded = true;
    if (body && !isEmptyMessage(body)) {
      this.#originals.set(
        record.token,
        this.#record("original", record.channelId, body, {
          guildId: record.guildId,
          targetUserId: record.userId,
        }),
      );
    }
    return undefined;
  }

  /** `POST /webhooks/{application_id}/{token}`: a follow-up message. */
  createFollowup(record: InteractionRecord, body: MessageBody): SentMessage | DiscordErrorReply {
    if (isEmptyMessage(body)) return DISCORD_ERRORS.emptyMessage();
    return this.#record("followup", record.channelId, body, {
      guildId: record.guildId,
      targetUserId: record.userId,
    });
  }

  /** `PATCH /webhooks/{application_id}/{token}/messages/@original`. */
  editOriginal(record: InteractionRecord, body: MessageBody): SentMessage | DiscordErrorReply {
    if (!record.responded) return DISCORD_ERRORS.unknownMessage();
    let original = this.#originals.get(record.token);
    if (!original) {
      original = this.#record("original", record.channelId, {}, {
        guildId: record.guildId,
        targetUserId: record.userId,
      });
      this.#originals.set(record.token, original);
    }
    if (body.content !== undefined) original.content = body.content ?? "";
    if (body.embeds !== undefined) original.embeds = body.embeds ?? [];
    if (body.components !== undefined) original.components = body.components ?? [];
    if (typeof body.flags === "number") original.flags = body.flags;
    original.editedAt = this.now();
    return original;
  }

  /** The message object Discord returns for a created or edited message. */
  messageObject(message: SentMessage): APIMessage {
    return {
      id: message.id,
      channel_id: message.channelId,
      author: this.botUser,
      content: message.content,
      timestamp: new Date(message.createdAt).toISOString(),
      edited_timestamp: message.editedAt ? new Date(message.editedAt).toISOString() : null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: message.embeds,
      pinned: false,
      type: MessageType.Default,
      flags: message.flags,
      components: message.components as APIMessage["components"],
      ...(message.kind === "followup" || message.kind === "original"
        ? { webhook_id: this.applicationId, application_id: this.applicationId }
        : {}),
    };
  }

  /**
   * Replaces the command set of a scope (bulk overwrite). Commands whose name and type match an
   * existing one keep its id, as Discord does.
   */
  overwriteCommands(guildId: string | undefined, bodies: CommandBody[]): APIApplicationCommand[] {
    const scope = guildId ?? "global";
    const previous = this.#commands.get(scope) ?? [];
    const next = bodies.map((body): APIApplicationCommand => {
      const type = (body.type ?? ApplicationCommandType.ChatInput) as ApplicationCommandType;
      const kept = previous.find((c) => c.name === body.name && c.type === type);
      return {
        ...body,
        id: kept?.id ?? this.ids.next(),
        application_id: this.applicationId,
        version: this.ids.next(),
        type,
        name: body.name,
        name_localizations: body.name_localizations ?? null,
        description: body.description ?? "",
        description_localizations: body.description_localizations ?? null,
        default_member_permissions: body.default_member_permissions == null
          ? null
          : String(body.default_member_permissions),
        nsfw: body.nsfw ?? false,
        ...(guildId ? { guild_id: guildId } : {}),
      } as APIApplicationCommand;
    });
    this.#commands.set(scope, next);
    return structuredClone(next);
  }

  /** Whether a guild exists. */
  hasGuild(guildId: string): boolean {
    return this.#guilds.has(guildId);
  }

  #botCanManage(g: GuildRecord, role: APIRole): boolean {
    if (role.managed || role.id === g.id) return false;
    const bot = g.members.get(this.applicationId)!;
    const botRoles = [
      g.roles.get(g.id)!,
      ...[...bot.roles].map((id) => g.roles.get(id)!).filter(Boolean),
    ];
    const permissions = botRoles.reduce((acc, r) => acc | BigInt(r.permissions), 0n);
    const admin = (permissions & PermissionFlagsBits.Administrator) !== 0n;
    if (!admin && (permissions & PermissionFlagsBits.ManageRoles) === 0n) return false;
    const highest = Math.max(...botRoles.map((r) => r.position));
    return role.position < highest;
  }

  #record(
    kind: MessageKind,
    channelId: string,
    body: MessageBody,
    about: { guildId?: string; targetUserId?: string },
  ): SentMessage {
    const flags = typeof body.flags === "number" ? body.flags : 0;
    const message: SentMessage = {
      id: this.ids.next(),
      kind,
      channelId,
      ...(about.guildId ? { guildId: about.guildId } : {}),
      ...(about.targetUserId ? { targetUserId: about.targetUserId } : {}),
      content: body.content ?? "",
      embeds: body.embeds ?? [],
      components: body.components ?? [],
      flags,
      ephemeral: (flags & 64) !== 0,
      createdAt: this.now(),
    };
    this.#messages.push(message);
    return message;
  }

  #guild(guildId: string): GuildRecord {
    const g = this.#guilds.get(guildId);
    if (!g) throw new Error(`Unknown guild ${guildId}: add it with addGuild first`);
    return g;
  }

  #iso(): string {
    return new Date(this.now()).toISOString();
  }
}

/** The message fields the double keeps (already validated against the spec). */
export interface MessageBody {
  content?: string | null;
  embeds?: APIEmbed[] | null;
  components?: unknown[] | null;
  flags?: number | null;
  sticker_ids?: unknown[] | null;
  attachments?: unknown[] | null;
  poll?: unknown;
  nonce?: string | number | null;
  enforce_nonce?: boolean | null;
}

/** A command in a bulk overwrite (already validated against the spec). */
export interface CommandBody {
  name: string;
  type?: number | null;
  description?: string | null;
  name_localizations?: Record<string, string> | null;
  description_localizations?: Record<string, string> | null;
  default_member_permissions?: string | number | null;
  nsfw?: boolean | null;
  options?: unknown[] | null;
  [field: string]: unknown;
}

function isEmptyMessage(body: MessageBody): boolean {
  const none = (v: unknown[] | null | undefined) => !v || v.length === 0;
  return !body.content && none(body.embeds) && none(body.components) && none(body.sticker_ids) &&
    none(body.attachments) && !body.poll;
}

function bits(value: PermissionBits): bigint {
  return BigInt(value);
}

function userObject(id: string, username: string): APIUser {
  return {
    id,
    username,
    discriminator: "0",
    global_name: username,
    avatar: null,
    public_flags: 0 as UserFlags,
  };
}

function roleObject(
  id: string,
  name: string,
  position: number,
  permissions: bigint,
  managed: boolean,
): APIRole {
  return {
    id,
    name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    icon: null,
    unicode_emoji: null,
    position,
    permissions: permissions.toString(),
    managed,
    mentionable: false,
    flags: 0 as RoleFlags,
  };
}
