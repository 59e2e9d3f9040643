/**
 * Inconsistent combinations of the plans file that parsePlansFile once accepted, each now refused
 * at the path of the field to fix: a trial role that another plan sells, whatever the order of the
 * plans; a Discord role declared under two servers (a role belongs to one server, and another
 * server's id is its @everyone role); and an address rule for Stripe Tax with Stripe Tax off.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);
const ROLE_A = "1300000000000000001";
const ROLE_B = "1300000000000000002";
const ROLE_C = "1300000000000000003";
const ROLE_D = "1300000000000000004";
const OTHER_GUILD = "1287654321098765432";

type Plan = Record<string, unknown>;
type Guild = Record<string, unknown> & { id: string; plans: Plan[] };
type Json = Record<string, unknown> & { guilds: Guild[] };

/** The example file with its guild selling `plans` (each given its own price). */
function withPlans(...changes: Plan[]): Json {
  const json: Json = JSON.parse(exampleText);
  const guild = first(json.guilds, "the example's guild");
  const template = first(guild.plans, "the example's plan");
  guild.plans = changes.map((change, index) => {
    const plan: Plan = { ...template, stripe_price_id: `price_combination${index}` };
    delete plan.discord_role_id;
    return { ...plan, ...change };
  });
  return json;
}

/** Adds a second server selling `plans`, with prices of its own. */
function withOtherGuild(json: Json, ...plans: Plan[]): Json {
  const guild = structuredClone(first(json.guilds, "the first guild"));
  guild.id = OTHER_GUILD;
  guild.name = "Another server";
  const template = first(guild.plans, "a plan");
  guild.plans = plans.map((change, index) => {
    const plan: Plan = { ...template, stripe_price_id: `price_otherguild${index}` };
    delete plan.discord_role_id;
    delete plan.discord_role_ids;
    delete plan.trial;
    return { ...plan, ...change };
  });
  json.guilds.push(guild);
  return json;
}

function problemsOf(json: Json): string[] {
  const result = parsePlansFile(JSON.stringify(json));
  assert(!result.ok, "expected the file to be refused");
  return result.problems;
}

function assertRefused(json: Json, expected: string) {
  const problems = problemsOf(json);
  assert(
    problems.some((problem) => problem.startsWith(expected)),
    `expected "${expected}" among: ${problems.join(" | ")}`,
  );
}

function assertAccepted(json: Json) {
  const result = parsePlansFile(JSON.stringify(json));
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
}

Deno.test("a trial role another plan sells is refused whether that plan is before or after", () => {
  // The trial gives role B of the plan's own pair; plan 2 sells B alone: trying plan 1 for free
  // would give what plan 2 sells. Once refused only when the seller came first.
  const seller = { discord_role_id: ROLE_B };
  const trialing = { discord_role_ids: [ROLE_A, ROLE_B], trial: { days: 7, roles: [ROLE_B] } };
  assertRefused(
    withPlans(seller, trialing),
    `guilds[0].plans[1].trial.roles[0]: role ${ROLE_B} is the paid role of plans[0]`,
  );
  assertRefused(
    withPlans(trialing, seller),
    `guilds[0].plans[0].trial.roles[0]: role ${ROLE_B} is the paid role of plans[1]`,
  );
  // A trial of the plan's own roles that no other plan sells stays a trial of part of the plan.
  assertAccepted(withPlans(trialing, { discord_role_id: ROLE_C }));
  // Two plans sharing a paid role, one with a trial of the paid roles, is the ordinary case.
  assertAccepted(withPlans({ discord_role_id: ROLE_A, trial: { days: 7 } }, {
    discord_role_id: ROLE_A,
  }));
});

Deno.test("a role declared under two servers is refused at each later place it appears", () => {
  const json = withOtherGuild(
    withPlans({ discord_role_id: ROLE_A, trial: { days: 7, roles: [ROLE_C] } }, {
      discord_role_id: ROLE_D,
    }),
    { discord_role_id: ROLE_A },
    { discord_role_ids: [ROLE_B, ROLE_C] },
    { discord_role_id: ROLE_B, trial: { days: 3, roles: [ROLE_D] } },
  );
  const guild = first(json.guilds, "the first guild").id;
  const problems = problemsOf(json);
  const where = `a Discord role belongs to one server`;
  for (
    const path of [
      "guilds[1].plans[0].discord_role_id",
      "guilds[1].plans[1].discord_role_ids[1]",
      "guilds[1].plans[2].trial.roles[0]",
    ]
  ) {
    const problem = problems.find((p) => p.startsWith(`${path}: `));
    assert(problem, `${path} among: ${problems.join(" | ")}`);
    assert(problem.includes(`of guild ${guild} (guilds[0])`) && problem.includes(where), problem);
  }
  assertEquals(problems.length, 3, problems.join(" | "));
  // The same role twice within one server is two plans sharing a role: allowed.
  assertAccepted(withOtherGuild(withPlans({ discord_role_id: ROLE_A }), {
    discord_role_id: ROLE_B,
  }, { discord_role_id: ROLE_B }));
});

Deno.test("another server's id given as a role is refused as that server's @everyone role", () => {
  const json = withOtherGuild(withPlans({ discord_role_id: ROLE_A }), {
    discord_role_ids: [ROLE_B, "1187654321098765432"],
  });
  assertRefused(
    json,
    "guilds[1].plans[0].discord_role_ids[1]: this is the @everyone role of guild " +
      "1187654321098765432 (guilds[0])",
  );
});

Deno.test("an address rule for Stripe Tax is refused while Stripe Tax is off", () => {
  for (const rule of ["auto", "required"]) {
    const json = withPlans({ discord_role_id: ROLE_A });
    first(json.guilds, "guild").tax = { automatic: false, billing_address_collection: rule };
    assertRefused(
      json,
      "guilds[0].tax.billing_address_collection: Checkout asks for the address only for " +
        "Stripe Tax",
    );
  }
  const off = withPlans({ discord_role_id: ROLE_A });
  first(off.guilds, "guild").tax = { automatic: false };
  assertAccepted(off);
});
