/**
 * The role-set decision in the core: which roles each subscription status gives from a plan with
 * several roles and a trial, how a member's subscriptions and comps add up, and which Discord
 * calls move a member from one set to another.
 */
import { assertEquals } from "../harness/assert.ts";
import {
  decideEntitlement,
  membershipRolesOf,
  type PlanRoles,
  rolesGrantedBy,
  rolesHeldNow,
  unionOfRoles,
} from "../../functions/_core/entitlement.ts";
import { planRoleChanges } from "../../functions/_core/role_plan.ts";
import { SUBSCRIPTION_STATUSES } from "../../functions/_core/stripe_shapes.ts";
import { STATUS_MEANINGS } from "../../functions/_core/subscription_state.ts";

const NOW = new Date("2027-03-01T00:00:00Z");
const GOLD = "500000000000000001";
const SHARED = "500000000000000002";
const SILVER = "500000000000000003";
const TRIAL = "500000000000000004";

const PLANS: Record<string, PlanRoles> = {
  "trial grants the paid roles": { paidRoleIds: [GOLD, SHARED], trialRoleIds: null },
  "trial grants its own role": { paidRoleIds: [GOLD, SHARED], trialRoleIds: [TRIAL] },
  "trial grants nothing until the first payment": {
    paidRoleIds: [GOLD, SHARED],
    trialRoleIds: [],
  },
};

Deno.test("each status gives the plan's paid roles, its trial roles, or none", () => {
  let cases = 0;
  for (const status of SUBSCRIPTION_STATUSES) {
    for (const [shape, plan] of Object.entries(PLANS)) {
      for (const graceMs of [0, 86_400_000]) {
        const decision = decideEntitlement(
          {
            status,
            cancelAt: null,
            cancelAtPeriodEnd: false,
            currentPeriodStart: new Date(NOW.getTime() - 3_600_000),
            currentPeriodEnd: new Date(NOW.getTime() + 86_400_000 * 20),
          },
          { pastDueGraceMs: graceMs },
          NOW,
        );
        const name = `${status}, ${shape}, grace ${graceMs}`;
        const entitles = STATUS_MEANINGS[status].entitles === "entitles" ||
          (status === "past_due" && graceMs > 0);
        const expected = !entitles
          ? []
          : status === "trialing" && plan.trialRoleIds !== null
          ? plan.trialRoleIds
          : plan.paidRoleIds;
        const roles = rolesGrantedBy(decision, status, plan);
        assertEquals(roles, expected, name);

        const stored = membershipRolesOf(decision, roles);
        assertEquals(stored.entitled, expected.length > 0, name);
        assertEquals(stored.roleIds, expected, name);
        if (!stored.entitled) assertEquals(stored.entitledUntil, null, name);
        cases++;
      }
    }
  }
  assertEquals(cases, SUBSCRIPTION_STATUSES.length * 3 * 2);
});

Deno.test("a plan listing a role twice gives it once", () => {
  const decision = { entitled: true };
  assertEquals(
    rolesGrantedBy(decision, "active", { paidRoleIds: [GOLD, GOLD, SHARED], trialRoleIds: null }),
    [GOLD, SHARED],
  );
});

Deno.test("subscriptions add up: each role once, the driving subscription's first", () => {
  assertEquals(unionOfRoles([[GOLD, SHARED], [SILVER, SHARED]]), [GOLD, SHARED, SILVER]);
  assertEquals(unionOfRoles([[], [SILVER, SHARED]]), [SILVER, SHARED]);
  assertEquals(unionOfRoles([]), []);
});

Deno.test("a comp of a role the plan also grants is held once, and stays after the plan", () => {
  const comp = { roleId: SHARED, expiresAt: null };
  const paying = rolesHeldNow({ entitled: true, entitledRoleIds: [GOLD, SHARED] }, [comp], NOW);
  assertEquals(paying.roleIds, [GOLD, SHARED]);
  assertEquals(paying.roleId, GOLD);
  const ended = rolesHeldNow({ entitled: false, entitledRoleIds: [] }, [comp], NOW);
  assertEquals(ended.roleIds, [SHARED]);
  assertEquals(ended.source, "comp");
});

Deno.test("a switch between plans that share a role adds the new ones and keeps the shared one", () => {
  assertEquals(
    planRoleChanges({
      roleIds: [SILVER, SHARED],
      managedRoleIds: [GOLD, SHARED, SILVER],
      previousRoleIds: [GOLD, SHARED],
    }),
    { add: [SHARED, SILVER].sort(), remove: [GOLD], kind: "swap" },
  );
});

Deno.test("the same roles in another order are no swap", () => {
  assertEquals(
    planRoleChanges({
      roleIds: [SHARED, GOLD],
      managedRoleIds: [GOLD, SHARED],
      previousRoleIds: [GOLD, SHARED],
    }).kind,
    "grant",
  );
});

Deno.test("an ended plan removes all its roles but one a comp holds", () => {
  const held = rolesHeldNow(
    { entitled: false, entitledRoleIds: [] },
    [{ roleId: SHARED, expiresAt: null }],
    NOW,
  );
  assertEquals(
    planRoleChanges({
      roleIds: held.roleIds,
      managedRoleIds: [GOLD, SHARED],
      previousRoleIds: [GOLD, SHARED],
    }),
    { add: [SHARED], remove: [GOLD], kind: "swap" },
  );
});
