/**
 * A Discord id (a snowflake): 17 to 20 decimal digits. The database spells the same rule once, as
 * the domain `rolepass.discord_snowflake`.
 * https://discord.com/developers/docs/reference#snowflakes
 */
import { z } from "zod";

/** Matches a whole string that is a Discord id. */
export const DISCORD_ID_PATTERN = /^[0-9]{17,20}$/;

/** Finds every Discord id inside a longer string (a route path, for instance). */
export const DISCORD_IDS_IN_TEXT = /[0-9]{17,20}/g;

/** A Discord id (guild, user, role, channel, application, interaction) as it arrives. */
export const discordIdSchema = z.string().regex(DISCORD_ID_PATTERN, {
  message: "expected a Discord id (17-20 digits; Developer Mode → right click → Copy ID)",
});

/** A Discord id, already checked against {@link DISCORD_ID_PATTERN}. */
export type DiscordId = z.infer<typeof discordIdSchema>;
