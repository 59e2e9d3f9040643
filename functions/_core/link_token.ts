/**
 * One-time link tokens: what goes in the member's private link, and what the database keeps.
 *
 * A token is 32 bytes from the platform CSPRNG (256 bits, well above the 128 needed to make
 * guessing hopeless), written base64url in the link. Only its SHA-256 is stored, so a database
 * leak does not leak usable links.
 */

/** How long a link works unless the operator configures otherwise. */
export const DEFAULT_LINK_TOKEN_TTL_SECONDS = 15 * 60;

/**
 * How long the return URL of a platform-mode onboarding link answers (same token rules as a
 * member's link). Stripe's Account Link itself expires in minutes, but the community may take a
 * while to fill in its details before Stripe sends it back.
 */
export const CONNECT_RETURN_TOKEN_TTL_SECONDS = 2 * 60 * 60;

/** What a link is for: the plan page (join) or the Customer Portal (manage). */
export type LinkPurpose = "join" | "manage";

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, no padding: exactly 43 characters. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Creates a new random token for a link. */
export function newLinkToken(
  random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  return toBase64Url(random(new Uint8Array(TOKEN_BYTES)));
}

/** Whether `value` has the shape of a link token (checked before any database lookup). */
export function isWellFormedLinkToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** The SHA-256 of a token: the only form in which it is stored or looked up. */
export async function hashLinkToken(token: string): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return new Uint8Array(digest);
}

/** The expiry of a token issued at `now` with a time to live of `ttlSeconds`. */
export function linkTokenExpiry(now: Date, ttlSeconds = DEFAULT_LINK_TOKEN_TTL_SECONDS): Date {
  return new Date(now.getTime() + ttlSeconds * 1000);
}

/** Why a token cannot be used; the page shows a message for each. */
export type LinkTokenProblem = "malformed" | "unknown" | "expired" | "used" | "wrong_purpose";

/** A stored token as the rules need it. */
export interface StoredLinkToken {
  purpose: LinkPurpose;
  expiresAt: Date;
  usedAt: Date | null;
}

/**
 * Decides whether a stored token may be used now for `purpose`.
 * Used tokens stay unusable even before they expire: each link opens one session.
 */
export function checkLinkToken(
  stored: StoredLinkToken | null,
  purpose: LinkPurpose,
  now: Date,
): { ok: true } | { ok: false; problem: LinkTokenProblem } {
  if (!stored) return { ok: false, problem: "unknown" };
  if (stored.purpose !== purpose) return { ok: false, problem: "wrong_purpose" };
  if (stored.usedAt) return { ok: false, problem: "used" };
  if (stored.expiresAt.getTime() <= now.getTime()) return { ok: false, problem: "expired" };
  return { ok: true };
}
