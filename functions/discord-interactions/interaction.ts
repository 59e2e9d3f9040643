/**
 * The parts of a Discord interaction this function reads, parsed once at the edge. Everything else
 * Discord sends is dropped here, so the handlers only see typed fields.
 */
import { InteractionType } from "discord-api-types/v10";
import { z } from "zod";
import { discordIdSchema as snowflake } from "../_core/discord_id.ts";

const optionValue = z.union([z.string().max(6000), z.number(), z.boolean()]);
const leafOptionSchema = z.object({
  name: z.string().max(32),
  type: z.number().int(),
  value: optionValue.optional(),
});
const commandOptionSchema = leafOptionSchema.extend({
  options: z.array(leafOptionSchema.extend({
    options: z.array(leafOptionSchema).max(25).optional(),
  })).max(25).optional(),
});

/** An interaction as Discord posts it (the fields rolepass uses). */
export const interactionSchema = z.object({
  id: snowflake,
  /** Discord always sends it; the JS library's synthetic PING bodies do not. */
  application_id: snowflake.optional(),
  type: z.number().int(),
  token: z.string().min(1).max(1000),
  /** The invoking member's language; absent on PING. */
  locale: z.string().max(16).optional(),
  guild_locale: z.string().max(16).optional(),
  /** Absent when the command runs in a DM. */
  guild_id: snowflake.optional(),
  /**
   * Present in a guild. `roles` are the role ids the member holds right now: an HTTP-only bot
   * hears of role edits and rejoins nowhere else.
   */
  member: z.object({
    user: z.object({ id: snowflake }),
    roles: z.array(snowflake).max(1000).optional(),
    /**
     * The member's permissions in the channel, overwrites folded in; `/rolepass` checks them on
     * every request, because server admins can let anyone run a command whatever it registered.
     */
    permissions: z.string().max(40).optional(),
  }).optional(),
  /** Present in a DM. */
  user: z.object({ id: snowflake }).optional(),
  data: z.object({
    id: snowflake.optional(),
    name: z.string().max(100).optional(),
    /** Subcommands and their options, nested as Discord sends them (two levels at most). */
    options: z.array(commandOptionSchema).max(25).optional(),
    /**
     * The members a user option names, with the roles they hold right now: `/rolepass resync`
     * gives back a role the member should hold but lacks.
     */
    resolved: z.object({
      members: z.record(snowflake, z.object({ roles: z.array(snowflake).max(1000) })).optional(),
    }).optional(),
  }).optional(),
}).superRefine((interaction, context) => {
  // Discord names who acted: `member` in a server, `user` in a DM. A signed body without them is
  // not from Discord, and must not be answered as if it came from a DM.
  if (interaction.guild_id && !interaction.member) {
    context.addIssue({ code: "custom", path: ["member"], message: "missing in a server" });
  }
  const isCommand = interaction.type === InteractionType.ApplicationCommand;
  if (isCommand && !interaction.guild_id && !interaction.user) {
    context.addIssue({ code: "custom", path: ["user"], message: "missing outside a server" });
  }
});

/** A parsed interaction. */
export type Interaction = z.infer<typeof interactionSchema>;
