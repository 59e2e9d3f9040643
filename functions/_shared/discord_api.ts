/**
 * A thin Discord REST adapter: one `request` that adds the bot token, the audit-log reason
 * (percent-encoded, as Discord requires) and JSON, and returns status, headers and body without
 * throwing on HTTP errors, so callers decide what each Discord error code means.
 */

/** Default for DISCORD_API_BASE_URL. */
export const DISCORD_DEFAULT_BASE_URL = "https://discord.com/api/v10";

/** What Discord answered. */
export interface DiscordResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or null for 204 / non-JSON bodies. */
  body: T | null;
  /** Discord's JSON error code (e.g. 10007 Unknown Member), when the body has one. */
  code: number | null;
}

/** Options for one request. */
export interface DiscordRequestOptions {
  body?: unknown;
  /** Shown in the guild's audit log; Discord needs it URL-encoded, 1-512 characters. */
  auditLogReason?: string;
  /** Aborts the request after this many milliseconds. */
  timeoutMs?: number;
  /** Interaction webhooks are authenticated by their token in the path, not the bot token. */
  withoutBotToken?: boolean;
}

/** A Discord REST client. */
export interface DiscordApi {
  request<T = unknown>(
    method: string,
    path: string,
    options?: DiscordRequestOptions,
  ): Promise<DiscordResponse<T>>;
}

/** Encodes an audit-log reason as Discord requires (percent-encoded UTF-8, at most 512 chars). */
export function encodeAuditLogReason(reason: string): string {
  let encoded = encodeURIComponent(reason);
  while (encoded.length > 512) {
    reason = reason.slice(0, -1);
    encoded = encodeURIComponent(reason);
  }
  return encoded;
}

/** Creates a client for `baseUrl` (DISCORD_API_BASE_URL) authenticated as the bot. */
export function createDiscordApi(
  baseUrl: string,
  botToken: string,
  fetchImpl: typeof fetch = fetch,
): DiscordApi {
  const root = baseUrl.replace(/\/+$/, "");
  return {
    async request<T>(method: string, path: string, options: DiscordRequestOptions = {}) {
      const headers = new Headers({
        "User-Agent": "DiscordBot (https://github.com/rolepass, 1.0)",
      });
      if (!options.withoutBotToken) headers.set("Authorization", `Bot ${botToken}`);
      if (options.body !== undefined) headers.set("Content-Type", "application/json");
      if (options.auditLogReason) {
        headers.set("X-Audit-Log-Reason", encodeAuditLogReason(options.auditLogReason));
      }
      const response = await fetchImpl(`${root}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      const text = await response.text();
      let body: T | null = null;
      if (text && (response.headers.get("content-type") ?? "").includes("json")) {
        try {
          body = JSON.parse(text) as T;
        } catch {
          body = null;
        }
      }
      const code = body && typeof body === "object" && "code" in body &&
          typeof (body as { code: unknown }).code === "number"
        ? (body as { code: number }).code
        : null;
      return { status: response.status, headers: response.headers, body, code };
    },
  };
}
