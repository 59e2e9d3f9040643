/**
 * Comps in the core: who holds which role when a member is comped, paid, or both, and how the
 * console reads `grant` and its last day.
 */
import { assertEquals } from "../harness/assert.ts";
import { rolesHeldNow } from "../../functions/_core/entitlement.ts";
import { parseAdminRequest, parseCompLastDay } from "../../functions/_core/admin.ts";

const NOW = new Date("2027-01-15T00:00:00Z");
const GOLD = "120000000000000001";
const SILVER = "120000000000000002";
const unpaid = { entitled: false, entitledRoleIds: [GOLD] };

Deno.test("a comp in force holds its role for a member who does not pay", () => {
  assertEquals(rolesHeldNow(unpaid, [{ roleId: GOLD, expiresAt: null }], NOW), {
    roleIds: [GOLD],
    paidRoleIds: [],
    compedRoleIds: [GOLD],
    roleId: GOLD,
    source: "comp",
  });
});

Deno.test("a comp whose expiry passed holds nothing, before the sweep deletes it", () => {
  assertEquals(rolesHeldNow(unpaid, [{ roleId: GOLD, expiresAt: NOW }], NOW), {
    roleIds: [],
    paidRoleIds: [],
    compedRoleIds: [],
    roleId: null,
    source: null,
  });
});

Deno.test("a paying member holds the paid role first, and a comp of another role is kept", () => {
  assertEquals(
    rolesHeldNow(
      { entitled: true, entitledRoleIds: [GOLD] },
      [{ roleId: SILVER, expiresAt: new Date("2027-02-01T00:00:00Z") }],
      NOW,
    ),
    {
      roleIds: [GOLD, SILVER],
      paidRoleIds: [GOLD],
      compedRoleIds: [SILVER],
      roleId: GOLD,
      source: "paid",
    },
  );
});

Deno.test("of several comps the one that lasts longest holds the role", () => {
  const held = rolesHeldNow(unpaid, [
    { roleId: SILVER, expiresAt: new Date("2027-02-01T00:00:00Z") },
    { roleId: GOLD, expiresAt: null },
  ], NOW);
  assertEquals(held.roleId, GOLD);
  assertEquals(held.compedRoleIds, [GOLD, SILVER]);
});

Deno.test("grant is read with its member, plan role and optional last day", () => {
  const options = [
    { name: "member", type: 6, value: "53908232506183680" },
    { name: "plan", type: 8, value: GOLD },
  ];
  assertEquals(parseAdminRequest([{ name: "grant", type: 1, options }]), {
    subcommand: "grant",
    memberId: "53908232506183680",
    roleId: GOLD,
    lastDay: null,
  });
  assertEquals(
    parseAdminRequest([{
      name: "grant",
      type: 1,
      options: [...options, { name: "until", type: 3, value: " 2027-01-31 " }],
    }]),
    { subcommand: "grant", memberId: "53908232506183680", roleId: GOLD, lastDay: "2027-01-31" },
  );
  assertEquals(parseAdminRequest([{ name: "grant", type: 1, options: options.slice(0, 1) }]), null);
  assertEquals(
    parseAdminRequest([{ name: "revoke", type: 1, options: options.slice(0, 1) }]),
    { subcommand: "revoke", memberId: "53908232506183680" },
  );
});

Deno.test("a last day must be a real calendar day written year-month-day", () => {
  assertEquals(parseCompLastDay("2028-02-29"), "2028-02-29");
  assertEquals(parseCompLastDay("2027-02-29"), null);
  assertEquals(parseCompLastDay("2027-1-31"), null);
  assertEquals(parseCompLastDay("31/01/2027"), null);
});
