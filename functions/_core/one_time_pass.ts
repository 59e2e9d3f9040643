/**
 * One-time passes: a plan backed by a one-time Stripe price grants its role for life or for a
 * fixed duration from the payment. Pure: no I/O, the clock is a parameter.
 *
 * - A pass counts from the moment Stripe reports it paid; buying the same plan again while a pass
 *   of it is live extends that pass (the new duration starts where the live one ends), so a member
 *   who renews early loses nothing.
 * - A pass whose charge was fully refunded or disputed counts no more when the guild's policy
 *   revokes (`refund_dispute_policy.ts`); a won dispute gives it back.
 * - A subscription that entitles comes first; a live pass holds the role when the subscription
 *   does not, or when the pass lasts longer than a subscription that is ending.
 */
/** How long a pass lasts, as the plans file says it: `"lifetime"` or an ISO 8601 duration. */
export type PassAccess = { kind: "lifetime" } | { kind: "duration"; seconds: number; iso: string };

/** Longest fixed pass: ten years, so a typo such as "P36500D" is not a lifetime by accident. */
export const MAX_PASS_SECONDS = 3660 * 24 * 60 * 60;

/** Why a pass no longer counts, besides running out. */
export type PassStatus = "active" | "refunded" | "disputed";

/** A pass as stored (`rolepass.member_passes`). */
export interface StoredPass {
  planId: string;
  roleId: string;
  status: PassStatus;
  /** Null: for life. */
  accessUntil: Date | null;
}

/**
 * When a pass bought at `paidAt` ends: never for a lifetime pass; else the duration after the
 * later of `paidAt` and the end of the member's live pass of the same plan (`extends`).
 */
export function passAccessUntil(
  access: PassAccess,
  paidAt: Date,
  extendsUntil: Date | null = null,
): Date | null {
  if (access.kind === "lifetime") return null;
  const start = Math.max(paidAt.getTime(), extendsUntil?.getTime() ?? 0);
  return new Date(start + access.seconds * 1000);
}

/** Whether a pass holds its role at `now`. */
export function passIsLive(pass: Pick<StoredPass, "status" | "accessUntil">, now: Date): boolean {
  return pass.status === "active" &&
    (pass.accessUntil === null || pass.accessUntil.getTime() > now.getTime());
}

/** The live pass that lasts longest (a lifetime pass before any other), or null. */
export function longestLivePass<T extends StoredPass>(passes: readonly T[], now: Date): T | null {
  let best: T | null = null;
  for (const pass of passes) {
    if (!passIsLive(pass, now)) continue;
    if (!best || lastsLonger(pass.accessUntil, best.accessUntil)) best = pass;
  }
  return best;
}

function lastsLonger(a: Date | null, b: Date | null): boolean {
  if (a === null) return b !== null;
  return b !== null && a.getTime() > b.getTime();
}

/** What a membership stores about its entitlement. */
export interface HeldEntitlement {
  entitled: boolean;
  roleId: string | null;
  planId: string | null;
  /** When the entitlement runs out without another event; null while it renews or for life. */
  until: Date | null;
}

/**
 * The entitlement a membership holds with its passes: the subscription's while it entitles and
 * lasts at least as long as the longest live pass, else that pass's.
 * @returns the entitlement and whether a pass is what holds it
 */
export function withPasses(
  subscription: HeldEntitlement,
  passes: readonly StoredPass[],
  now: Date,
): HeldEntitlement & { byPass: boolean } {
  const pass = longestLivePass(passes, now);
  if (
    !pass ||
    (subscription.entitled &&
      (subscription.until === null || !lastsLonger(pass.accessUntil, subscription.until)))
  ) {
    return { ...subscription, byPass: false };
  }
  return {
    entitled: true,
    roleId: pass.roleId,
    planId: pass.planId,
    until: pass.accessUntil,
    byPass: true,
  };
}

/** The revocation a pass that no longer counts records, for `/subscribe` to tell. */
export function passRevocation(passes: readonly StoredPass[]): "refund" | "dispute" | null {
  if (passes.some((pass) => pass.status === "disputed")) return "dispute";
  return passes.some((pass) => pass.status === "refunded") ? "refund" : null;
}
