/**
 * Which changes call for a message to the member, as the member's timeline promises them
 * (functions/_core/notices.ts kinds; issue 11 item 4), stated over what the test observes: a
 * recorded change of the membership (`membership_history`), the roles the member holds on Discord
 * before and after a step, and the trial-ending events Stripe sent while the trial ran. The money
 * property holds the notices each step queued to exactly these, one message per change. Roles are
 * compared as sets, as the core compares them (`sameRoleSet`): their order only says which one a
 * message names.
 */
import { sameRoleSet } from "../../functions/_core/role_plan.ts";

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
  if (change.old_plan_id !== change.new_plan_id && !changesRoleSet(change)) {
    messages.push("plan_changed");
  }
  return messages;
}

/** The cause the sweep writes when a pass runs out. */
export const PASS_ENDED = "pass_ended";

/**
 * Whether a membership change must queue a role job: the entitlement or the set of roles the
 * member should hold changed. A change that only reorders the roles queues none.
 */
export function changesRoles(change: MembershipChange): boolean {
  if (change.old_entitled !== change.new_entitled) return true;
  const roles = change.changes["entitled_role_ids"] as [string[] | null, string[] | null];
  return roles !== undefined && !sameRoleSet(roles[0] ?? [], roles[1] ?? []);
}

/** Whether a membership change changed the set of roles held: every change that queues a job. */
export const changesRoleSet = changesRoles;

/**
 * The role-change message a step calls for, from the roles the member held on Discord before and
 * after it: none when they hold the same roles, else a grant (from none), a revoke (to none) or a
 * swap. A step in which a pass ran out is told by the pass's own message instead.
 */
export function roleMessageFor(
  before: readonly string[],
  after: readonly string[],
): "grant" | "revoke" | "swap" | null {
  if (sameRoleSet(before, after)) return null;
  if (before.length === 0) return "grant";
  if (after.length === 0) return "revoke";
  return "swap";
}
