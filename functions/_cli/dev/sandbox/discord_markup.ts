/**
 * Discord message markup as HTML, the way a Discord client shows it, for the sandbox page: bold,
 * italics, underline, strike-through, inline code, timestamps (`<t:unix:R>` in the reader's
 * language), role, user and channel mentions and command mentions. Everything else is text, and
 * all text is HTML-escaped (https://discord.com/developers/docs/reference#message-formatting).
 */
import type { Locale } from "../../../_core/locale.ts";

/** What the reader's client knows when it shows a message. */
export interface MarkupContext {
  locale: Locale;
  /** "Now", for relative timestamps. */
  now: Date;
  /** Role names by id; unknown roles show as Discord shows them, `@deleted-role`. */
  roleNames: ReadonlyMap<string, string>;
  /** User names by id; unknown users show as `@unknown-user`. */
  userNames?: ReadonlyMap<string, string>;
  /** The reader's time zone; the runner's own when omitted. */
  timeZone?: string;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch);
}

const INTL_LOCALE: Record<Locale, string> = { ja: "ja-JP", en: "en-US" };

const FULL_DATE_TIME: Intl.DateTimeFormatOptions = { dateStyle: "full", timeStyle: "short" };

// Discord's timestamp styles (https://discord.com/developers/docs/reference#message-formatting-timestamp-styles).
const TIMESTAMP_STYLES: Record<string, Intl.DateTimeFormatOptions> = {
  t: { timeStyle: "short" },
  T: { timeStyle: "medium" },
  d: { dateStyle: "short" },
  D: { dateStyle: "long" },
  f: { dateStyle: "long", timeStyle: "short" },
  F: FULL_DATE_TIME,
};

const RELATIVE_UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 86400],
  ["month", 30 * 86400],
  ["day", 86400],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

function relativeTime(seconds: number, locale: Locale): string {
  const [unit, size] = RELATIVE_UNITS.find(([, size]) => Math.abs(seconds) >= size) ??
    ["second", 1];
  const text = new Intl.RelativeTimeFormat(INTL_LOCALE[locale], { numeric: "always" })
    .format(Math.round(seconds / size), unit);
  // ICU writes "15 分後"; Discord, like Japanese typesetting, writes "15分後".
  return locale === "ja" ? text.replace(/(\d) (?=\S)/gu, "$1") : text;
}

function timestamp(unix: number, style: string, context: MarkupContext): string {
  const date = new Date(unix * 1000);
  const format = (options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(INTL_LOCALE[context.locale], { ...options, timeZone: context.timeZone })
      .format(date);
  const shown = style === "R"
    ? relativeTime(unix - context.now.getTime() / 1000, context.locale)
    : format(TIMESTAMP_STYLES[style] ?? FULL_DATE_TIME);
  const full = format(FULL_DATE_TIME);
  return `<time datetime="${date.toISOString()}" title="${escapeHtml(full)}">` +
    `${escapeHtml(shown)}</time>`;
}

// One alternative per construct; an escaped character (`\*`) is text. Emphasis content is
// rendered again, so `**a <t:1:R>**` shows a bold time.
const MARKUP = new RegExp(
  [
    String.raw`\\([^\sA-Za-z0-9])`,
    String.raw`\*\*((?:\\.|[^\\])+?)\*\*`,
    String.raw`__((?:\\.|[^\\])+?)__`,
    String.raw`~~((?:\\.|[^\\])+?)~~`,
    String.raw`\*((?:\\.|[^\\*\s])(?:(?:\\.|[^\\*])*?(?:\\.|[^\\*\s]))?)\*`,
    String.raw`\b_((?:\\.|[^\\_\s])(?:(?:\\.|[^\\_])*?(?:\\.|[^\\_\s]))?)_\b`,
    "`([^`]+)`",
    String.raw`<t:(-?\d{1,13})(?::([tTdDfFR]))?>`,
    String.raw`<@&(\d{1,20})>`,
    String.raw`<@!?(\d{1,20})>`,
    String.raw`<#(\d{1,20})>`,
    String.raw`</([\p{L}\p{N}_-]{1,32}(?: [\p{L}\p{N}_-]{1,32}){0,2}):\d{1,20}>`,
    "\n",
  ].join("|"),
  "gu",
);

/** Renders Discord message `text` as HTML for `context`'s reader. */
export function discordMarkupToHtml(text: string, context: MarkupContext): string {
  let html = "";
  let last = 0;
  for (const match of text.matchAll(MARKUP)) {
    html += escapeHtml(text.slice(last, match.index));
    last = match.index + match[0].length;
    const [
      whole,
      escaped,
      bold,
      underline,
      strike,
      italicStar,
      italicUnderscore,
      code,
      unix,
      style,
      roleId,
      userId,
      channelId,
      command,
    ] = match;
    const inner = (part: string) => discordMarkupToHtml(part, context);
    if (escaped !== undefined) html += escapeHtml(escaped);
    else if (bold !== undefined) html += `<strong>${inner(bold)}</strong>`;
    else if (underline !== undefined) html += `<u>${inner(underline)}</u>`;
    else if (strike !== undefined) html += `<s>${inner(strike)}</s>`;
    else if (italicStar !== undefined) html += `<em>${inner(italicStar)}</em>`;
    else if (italicUnderscore !== undefined) html += `<em>${inner(italicUnderscore)}</em>`;
    else if (code !== undefined) html += `<code>${escapeHtml(code)}</code>`;
    else if (unix !== undefined) html += timestamp(Number(unix), style ?? "f", context);
    else if (roleId !== undefined) {
      const name = context.roleNames.get(roleId) ?? "deleted-role";
      html += `<span class="mention">@${escapeHtml(name)}</span>`;
    } else if (userId !== undefined) {
      const name = context.userNames?.get(userId) ?? "unknown-user";
      html += `<span class="mention">@${escapeHtml(name)}</span>`;
    } else if (channelId !== undefined) html += `<span class="mention">#unknown</span>`;
    else if (command !== undefined) html += `<span class="mention">/${escapeHtml(command)}</span>`;
    else if (whole === "\n") html += "<br>";
  }
  return html + escapeHtml(text.slice(last));
}
