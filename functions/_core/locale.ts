/**
 * The languages rolepass speaks, and how a Discord locale maps onto them.
 */

/** A language rolepass has messages for. */
export type Locale = "ja" | "en";

/** Every supported locale, default first. */
export const LOCALES: readonly Locale[] = ["ja", "en"];

/**
 * Maps a Discord locale (`ja`, `en-US`, `en-GB`, `fr`, ...) to a supported language.
 * Anything that is not Japanese gets English, the lingua franca of Discord servers.
 */
export function localeFromDiscord(discordLocale: string | null | undefined): Locale {
  return discordLocale?.toLowerCase().startsWith("ja") ? "ja" : "en";
}

/** Narrows an arbitrary string to a supported locale, or null. */
export function parseLocale(value: string | null | undefined): Locale | null {
  return value === "ja" || value === "en" ? value : null;
}
