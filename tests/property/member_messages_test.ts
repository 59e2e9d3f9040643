/**
 * The money property's expectations compare a member's roles as sets, as the membership triggers
 * do: a change that only reorders them calls for no role job.
 */
import { assertEquals } from "../harness/assert.ts";
import { changesRoles, type MembershipChange, timelineMessagesFor } from "./member_messages.ts";

const PASS_ROLE = "300000000000000001";
const PLAN_ROLE = "300000000000000002";

function heldChange(
  roles: [string[], string[]],
  plans: [string, string] = ["plan_a", "plan_a"],
): MembershipChange {
  return {
    cause: "customer.subscription.updated",
    old_status: "active",
    new_status: "active",
    old_entitled: true,
    new_entitled: true,
    old_plan_id: plans[0],
    new_plan_id: plans[1],
    changes: { entitled_role_ids: roles },
  };
}

Deno.test("a change that only reorders the roles calls for no role job", () => {
  assertEquals(changesRoles(heldChange([[PASS_ROLE, PLAN_ROLE], [PLAN_ROLE, PASS_ROLE]])), false);
  assertEquals(changesRoles(heldChange([[PASS_ROLE, PLAN_ROLE], [PLAN_ROLE]])), true);
});

Deno.test("a plan change that only reorders the roles calls for a plan-changed message", () => {
  const reordered = heldChange([[PASS_ROLE, PLAN_ROLE], [PLAN_ROLE, PASS_ROLE]], ["a", "b"]);
  assertEquals(timelineMessagesFor(reordered), ["plan_changed"]);
  assertEquals(timelineMessagesFor(heldChange([[PASS_ROLE], [PLAN_ROLE]], ["a", "b"])), []);
});
