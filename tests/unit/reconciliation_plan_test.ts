/**
 * planRepairs, the one place that decides what reconciliation repairs: every combination of
 * paid or not, holding the paid role or not, comped or not, and the guild's drift policy.
 */
import {
  compKey,
  type DriftPolicy,
  type MemberEntitlementFacts,
  planRepairs,
  type ReconcileInput,
} from "../../functions/_core/reconciliation.ts";
import { assertEquals } from "../harness/assert.ts";

const USER = "300000000000000001";
const GOLD = "400000000000000001";
const SILVER = "400000000000000002";
const UNPAID_ROLE = "400000000000000099";

function input(
  options: {
    pays: boolean;
    holds: boolean;
    comped: boolean;
    policy: DriftPolicy;
    managed?: string[];
    known?: boolean;
    otherRoles?: string[];
  },
): ReconcileInput {
  const facts: MemberEntitlementFacts = {
    entitledRoleIds: options.pays ? [GOLD] : [],
    managedRoleIds: options.managed ?? [GOLD],
  };
  return {
    paidRoleIds: new Set([GOLD, SILVER]),
    members: [{
      userId: USER,
      roleIds: [...(options.holds ? [GOLD] : []), ...(options.otherRoles ?? [])],
    }],
    entitlements: new Map(options.known === false ? [] : [[USER, facts]]),
    comps: new Set(options.comped ? [compKey(USER, GOLD)] : []),
    policy: options.policy,
  };
}

for (const pays of [true, false]) {
  for (const holds of [true, false]) {
    for (const comped of [true, false]) {
      for (const policy of ["report", "remove"] as const) {
        const name = `${pays ? "paying" : "not paying"}, ${holds ? "holding" : "lacking"} ` +
          `the role, ${comped ? "comped" : "not comped"}, policy ${policy}`;
        Deno.test(`planRepairs: ${name}`, () => {
          const plan = planRepairs(input({ pays, holds, comped, policy }));
          if (pays && !holds) {
            // A payer lacking the role gets it back, whatever the comp and the policy.
            assertEquals(plan.drift, [{ kind: "missing_role", userId: USER, roleId: GOLD }]);
            assertEquals(plan.repairs, [{ action: "grant", userId: USER, roleId: GOLD }]);
            assertEquals(plan.comped, 0);
          } else if (!pays && holds && comped) {
            // A comp is never drift and never removed.
            assertEquals(plan, { drift: [], repairs: [], comped: 1 });
          } else if (!pays && holds) {
            assertEquals(plan.drift, [{
              kind: "unpaid_role",
              userId: USER,
              roleId: GOLD,
              rolepassGranted: true,
            }]);
            assertEquals(
              plan.repairs,
              policy === "remove" ? [{ action: "remove", userId: USER, roleId: GOLD }] : [],
            );
            assertEquals(plan.comped, 0);
          } else {
            // Paying and holding, or neither: nothing to repair.
            assertEquals(plan, { drift: [], repairs: [], comped: 0 });
          }
        });
      }
    }
  }
}

Deno.test("planRepairs: a paid role held by someone rolepass never saw is unpaid and not rolepass's", () => {
  const plan = planRepairs(
    input({ pays: false, holds: true, comped: false, policy: "remove", known: false }),
  );
  assertEquals(plan.drift, [{
    kind: "unpaid_role",
    userId: USER,
    roleId: GOLD,
    rolepassGranted: false,
  }]);
  assertEquals(plan.repairs, [{ action: "remove", userId: USER, roleId: GOLD }]);
});

Deno.test("planRepairs: roles that no plan sells are never touched", () => {
  const plan = planRepairs(
    input({
      pays: false,
      holds: false,
      comped: false,
      policy: "remove",
      otherRoles: [UNPAID_ROLE],
    }),
  );
  assertEquals(plan, { drift: [], repairs: [], comped: 0 });
});

Deno.test("planRepairs: a payer holding another plan's role gets theirs and loses the other by policy", () => {
  const plan = planRepairs(
    input({ pays: true, holds: false, comped: false, policy: "remove", otherRoles: [SILVER] }),
  );
  assertEquals(plan.repairs, [
    { action: "grant", userId: USER, roleId: GOLD },
    { action: "remove", userId: USER, roleId: SILVER },
  ]);
  assertEquals(plan.drift.map((d) => d.kind), ["missing_role", "unpaid_role"]);
});

Deno.test("planRepairs: a comp of one role does not protect another", () => {
  const plan = planRepairs(
    input({ pays: false, holds: true, comped: true, policy: "remove", otherRoles: [SILVER] }),
  );
  assertEquals(plan.comped, 1);
  assertEquals(plan.repairs, [{ action: "remove", userId: USER, roleId: SILVER }]);
});

Deno.test("planRepairs: a payer of a plan with several roles gets each missing one, and none is unpaid", () => {
  const plan = planRepairs({
    paidRoleIds: new Set([GOLD, SILVER]),
    members: [{ userId: USER, roleIds: [SILVER] }],
    entitlements: new Map([[USER, { entitledRoleIds: [GOLD, SILVER], managedRoleIds: [GOLD] }]]),
    comps: new Set(),
    policy: "remove",
  });
  assertEquals(plan.drift, [{ kind: "missing_role", userId: USER, roleId: GOLD }]);
  assertEquals(plan.repairs, [{ action: "grant", userId: USER, roleId: GOLD }]);
});
