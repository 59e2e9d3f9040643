/**
 * Which changes call for a message to the member, as the member's timeline promises them
 * (functions/_core/notices.ts kinds; issue 11 item 4), stated over what the test observes: a
 * recorded change of the membership (`membership_history`), the roles the member holds on Discord
 * before and after a step, and the trial-ending events Stripe sent while the trial ran. The money
 * property holds the notices each step queued to exactly these, one message per change.
 */

/** A change of the membership as `membership_history` records it. */
export interface MembershipChange {
  /** Why it changed (`change_cause`): a Stripe event type, or the sweep's own causes. */
  cause: string;
  old_status: string | null;
  new_status: string | null;
  old_entitled: boolean | null;
  new_entitled: boolean | null;
  old_plan_id: string | null;
  new_plan_id: string | null;
  /** The columns the change touched, `{column: [old, new]}`. */
  changes: Record<string, [unknown, unknown]>;
}

/** The timeline messages (not role changes) one membership change calls for. */
export function timelineMessagesFor(change: MembershipChange): string[] {
  const messages: string[] = [];
  // A pass that ran out is told as such, with how to buy it again, not as a role change.
  if (change.cause === PASS_ENDED) messages.push("pass_ended");
  if (change.new_status === "past_due" && change.old_status !== "past_due") {
    messages.push("payment_failed");
  } else if (
    (change.old_status === "past_due" || change.old_status === "unpaid") &&
    (change.new_status === "active" || change.new_status === "trialing")
  ) {
    messages.push("payment_recovered");
  }
  // A member who keeps the role through the change is told of its terms; one who gains or loses
  // it is told by the role change itself.
  const keepsRole = change.old_entitled === true && change.new_entitled === true;
  if (!keepsRole) return messages;
  const cancelAt = change.changes["cancel_at"];
  if (cancelAt && cancelAt[0] === null && cancelAt[1] !== null) messages.push("cancel_scheduled");
  if (cancelAt && cancelAt[0] !== null && cancelAt[1] === null) messages.push("cancel_undone");
  // A plan change that changes the roles is told as a role change (a swap).
  if (change.old_plan_id !== change.new_plan_id && !("entitled_role_ids" in change.changes)) {
    messages.push("plan_changed");
  }
  return messages;
}

/** The cause the sweep writes when a pass runs out. */
export const PASS_ENDED = "pass_ended";

/** Whether a membership change must queue a role job: what the member should hold changed. */
export function changesRoles(change: MembershipChange): boolean {
  return change.old_entitled !== change.new_entitled || "entitled_role_ids" in change.changes;
}

/** Whether a membership change changed the set of roles held (not only their order). */
export function changesRoleSet(change: MembershipChange): boolean {
  if (change.old_entitled !== change.new_entitled) return true;
  const roles = change.changes["entitled_role_ids"] as [string[] | null, string[] | null];
  if (!roles) return false;
  const [before, after] = roles.map((ids) => new Set(ids ?? []));
  return before!.size !== after!.size || [...before!].some((id) => !after!.has(id));
}

/**
 * The role-change message a step calls for, from the roles the member held on Discord before and
 * after it: none when they hold the same roles, else a grant (from none), a revoke (to none) or a
 * swap. A step in which a pass ran out is told by the pass's own message instead.
 */
export function roleMessageFor(
  before: readonly string[],
  after: readonly string[],
): "grant" | "revoke" | "swap" | null {
  const left = new Set(before);
  const right = new Set(after);
  if (left.size === right.size && [...left].every((id) => right.has(id))) return null;
  if (left.size === 0) return "grant";
  if (right.size === 0) return "revoke";
  return "swap";
}
