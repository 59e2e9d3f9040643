/**
 * What a link may still do: the rules that make a link "one-time" without breaking the member's
 * real path. Pure: no I/O.
 *
 * - Looking at the plan page never uses the link up: the member may reload it, or come back from a
 *   cancelled Checkout and look again.
 * - The first Checkout or Portal session opened with the link uses it (`used_at`).
 * - Asking again for the very same session while the link lives (a double click, a resubmitted
 *   form, the back button, a network retry) returns that same session: Stripe replays it under the
 *   idempotency key derived from the link. Anything else (another plan, a session that has since
 *   been expired or completed) is refused as "used", and the member runs /subscribe again.
 */
import type { LinkPurpose } from "../_core/link_token.ts";
import type { CheckoutProblem } from "./contract.ts";

/** The session a request asks for. */
export type SessionAction = { kind: "checkout"; planId: string } | { kind: "portal" };

/** The parts of a stored link the rules read. */
export interface LinkState {
  purpose: LinkPurpose;
  expiresAt: Date;
  usedAt: Date | null;
}

/** A session already opened with the link. */
export interface OpenedWithLink {
  kind: "checkout" | "portal";
  planId: string | null;
  status: "open" | "completed" | "expired";
}

/** Whether a link of `purpose` may be looked at or used at all at `now` (used or not). */
export function checkLinkLife(
  link: LinkState | null,
  purpose: LinkPurpose,
  now: Date,
): { ok: true } | { ok: false; problem: CheckoutProblem } {
  if (!link) return { ok: false, problem: "unknown_token" };
  if (link.purpose !== purpose) return { ok: false, problem: "wrong_purpose" };
  if (link.expiresAt.getTime() <= now.getTime()) return { ok: false, problem: "expired_token" };
  return { ok: true };
}

/**
 * Decides whether `action` may run with this link: fresh (create the session), replay (ask Stripe
 * for the same session again), or refused as used.
 */
export function decideLinkUse(
  link: LinkState,
  opened: readonly OpenedWithLink[],
  action: SessionAction,
): { ok: true; replay: boolean } | { ok: false; problem: CheckoutProblem } {
  if (!link.usedAt && opened.length === 0) return { ok: true, replay: false };
  const same = opened.find((session) =>
    session.kind === action.kind &&
    (action.kind === "portal" || session.planId === action.planId)
  );
  if (same && same.status === "open" && opened.length === 1) return { ok: true, replay: true };
  return { ok: false, problem: "used_token" };
}

const MINUTE = 60;

/**
 * Stripe accepts a Checkout `expires_at` from 30 minutes to 24 hours after it creates the session
 * (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at).
 * Ours stays a minute inside the short end and five inside the long one, so a clock a little off
 * from Stripe's is still inside.
 */
export const CHECKOUT_EXPIRY_WINDOW = {
  minSeconds: 31 * MINUTE,
  maxSeconds: 23 * 60 * MINUTE + 55 * MINUTE,
};

/**
 * When a Checkout session opened with a link at `now` ends, in Unix seconds.
 *
 * Preferably 32 minutes after the link does, so a session left open is no way around the link's
 * short life, and never later than 23 h 55 min after the link was created. That value is derived
 * from the link alone, so a retry under the same idempotency key sends the same parameters, as
 * Stripe requires. Only when it would fall outside {@link CHECKOUT_EXPIRY_WINDOW} from `now` (a
 * link configured to live nearly a day, used late) is it clamped into the window.
 */
export function checkoutSessionExpiry(
  link: { createdAt: Date; expiresAt: Date },
  now: Date,
): number {
  const afterLink = Math.ceil(link.expiresAt.getTime() / 1000) + 32 * MINUTE;
  const dayAfterLink = Math.floor(link.createdAt.getTime() / 1000) +
    CHECKOUT_EXPIRY_WINDOW.maxSeconds;
  const preferred = Math.min(afterLink, dayAfterLink);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const earliest = nowSeconds + CHECKOUT_EXPIRY_WINDOW.minSeconds;
  const latest = nowSeconds + CHECKOUT_EXPIRY_WINDOW.maxSeconds;
  return Math.min(Math.max(preferred, earliest), latest);
}
