/**
 * The languages rolepass speaks, and how a Discord locale maps onto them. The database spells the
 * same list once, as the domain `rolepass.locale`.
 */
import { z } from "zod";

/** Every supported locale, default first. */
export const LOCALES = ["ja", "en"] as const;

/** A language rolepass has messages for, as it arrives in a body, a row or a file. */
export const localeSchema = z.enum(LOCALES);

/** A language rolepass has messages for. */
export type Locale = z.infer<typeof localeSchema>;

/**
 * Maps a Discord locale (`ja`, `en-US`, `en-GB`, `fr`, ...) to a supported language.
 * Anything that is not Japanese gets English, the lingua franca of Discord servers.
 */
export function localeFromDiscord(discordLocale: string | null | undefined): Locale {
  return discordLocale?.toLowerCase().startsWith("ja") ? "ja" : "en";
}

/** Narrows an arbitrary string to a supported locale, or null. */
export function parseLocale(value: string | null | undefined): Locale | null {
  const parsed = localeSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
