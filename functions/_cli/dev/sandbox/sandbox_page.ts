/**
 * The sandbox home page: run /subscribe as the demo member (in Japanese or English, as their
 * Discord client is set), follow the link, and watch the role and the messages appear, shown as
 * Discord shows them. Server-rendered with hono/html (values are escaped; the rendered Discord
 * markup escapes its own text).
 */
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { SentMessage } from "../../../_doubles/discord/index.ts";
import { localeFromDiscord } from "../../../_core/locale.ts";
import type { DemoCommunity } from "./demo_community.ts";
import { discordMarkupToHtml } from "./discord_markup.ts";
import type { SubscribeReply } from "./subscribe_as_member.ts";

/** The label on every sandbox page. */
export const SANDBOX_LABEL = "Local sandbox — no real Stripe or Discord";

/** The Discord client languages the demo member can have, as Discord names them. */
export const MEMBER_LOCALES = { ja: "日本語 (ja)", "en-US": "English (en-US)" } as const;
/** A Discord locale the demo member can have. */
export type MemberLocale = keyof typeof MEMBER_LOCALES;

/** Narrows a form value to a member locale, or null. */
export function parseMemberLocale(value: unknown): MemberLocale | null {
  return value === "ja" || value === "en-US" ? value : null;
}

/** Where the member stands with the paid role: has it, had it and lost it, or never had it. */
export type RoleState = "granted" | "removed" | "never";

/** What the page shows. */
export interface SandboxView {
  community: DemoCommunity;
  memberLocale: MemberLocale;
  roleState: RoleState;
  messages: SentMessage[];
  stripeDashboardUrl: string;
  now: Date;
  reply?: SubscribeReply;
}

const ROLE_STATE_TEXT: Record<RoleState, (role: string) => string> = {
  granted: (role) => `You have the ${role} role.`,
  removed: (role) => `The ${role} role was removed from you.`,
  never: (role) => `You do not have the ${role} role yet.`,
};

/** Renders the page. */
export function sandboxPage(view: SandboxView): HtmlEscapedString | Promise<HtmlEscapedString> {
  const { community, reply } = view;
  const locale = localeFromDiscord(view.memberLocale);
  const asDiscordShowsIt = (text: string) =>
    raw(discordMarkupToHtml(text, {
      locale,
      now: view.now,
      roleNames: new Map([[community.roleId, community.roleName]]),
      userNames: new Map([[community.memberId, "you"]]),
    }));
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>rolepass · ${SANDBOX_LABEL}</title>
        <style>
      body { font: 16px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; }
      h1, h2, h3 { word-break: keep-all; overflow-wrap: anywhere; line-break: strict; }
      :lang(ja) { line-break: strict; }
      .label { background: #fff4ce; border: 1px solid #e0b400; padding: .5rem .75rem; border-radius: 6px; font-weight: 600; }
      .card { border: 1px solid #ddd; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
      button, .button { font: inherit; padding: .5rem 1rem; border-radius: 6px; border: 1px solid #5865f2; background: #5865f2; color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
      select { font: inherit; padding: .4rem; }
      .granted { color: #1a7f37; font-weight: 600; } .missing, .removed { color: #8a6d00; font-weight: 600; }
      .mention { background: #e3e6fd; color: #3c45a5; border-radius: 3px; padding: 0 2px; font-weight: 500; }
      time { background: #eef0f3; border-radius: 3px; padding: 0 2px; }
      li { margin: .25rem 0; }
    </style>
      </head>
      <body>
        <p class="label" role="note">${SANDBOX_LABEL}</p>
        <h1>rolepass sandbox</h1>
        <p>The Stripe and Discord doubles stand in for the real services. You are the member
    <code>${community.memberId}</code> of <strong>${community.guildName}</strong>.</p>

        <div class="card">
      <h2>1. Run /subscribe</h2>
      <form method="post" action="/sandbox/subscribe">
        <label for="member-locale">Your Discord language</label>
        <select id="member-locale" name="locale">${Object.entries(MEMBER_LOCALES).map((
          [value, name],
        ) =>
          html`
            <option value="${value}" ${value === view.memberLocale
              ? raw(" selected")
              : ""}>${name}</option>
          `
        )}</select>
        <button type="submit" id="run-subscribe">Run /subscribe</button>
      </form>
      ${reply
        ? html`<p>The bot answered (only you can see this):</p>
  <blockquote id="bot-reply" lang="${locale}">${asDiscordShowsIt(reply.content)}</blockquote>
  ${
          reply.linkUrl
            ? html`<p><a class="button" id="subscribe-link" href="${reply.linkUrl}">Open the link</a></p>`
            : html`<p>(no link in the answer; HTTP ${reply.status})</p>`
        }`
        : ""}
        </div>

        <div class="card">
          <h2>2. Your role in Discord</h2>
          <p id="role-status" class="${view.roleState === "never"
            ? "missing"
            : view.roleState}">${ROLE_STATE_TEXT[view.roleState](community.roleName)}</p>
          <h3>Messages the bot sent you</h3>
          <ul id="messages">${view.messages.length
            ? view.messages.map((message) =>
              html`<li lang="${locale}">[${message.kind}] ${asDiscordShowsIt(message.content)}</li>`
            )
            : html`<li>None yet.</li>`}</ul>
          <p><a href="/sandbox">Refresh</a> · <a href="${view
            .stripeDashboardUrl}">Stripe double: account overview</a></p>
        </div>
      </body>
    </html>
  `;
}

const LABEL_BANNER = `<p role="note" style="margin:0;padding:.5rem .75rem;background:#fff4ce;` +
  `border-bottom:1px solid #e0b400;font:600 15px/1.4 system-ui,sans-serif">${SANDBOX_LABEL}</p>`;

/**
 * Puts the sandbox label at the top of every HTML page `handler` serves (the plan page knows
 * nothing of the sandbox; in the sandbox it must still say that nothing is real).
 */
export function withSandboxLabel(
  handler: (request: Request) => Response | Promise<Response>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const response = await handler(request);
    if (!(response.headers.get("content-type") ?? "").includes("text/html")) return response;
    const page = await response.text();
    const labelled = page.replace(/<body([^>]*)>/i, (body) => `${body}${LABEL_BANNER}`);
    const headers = new Headers(response.headers);
    headers.delete("content-length");
    return new Response(labelled, { status: response.status, headers });
  };
}
