/**
 * The plans file's roles and trials (plan_roles_file.ts through parsePlansFile): several roles per
 * plan, `discord_role_id` still accepted as one, trials with their roles and card rule, and every
 * inconsistent combination refused at its path.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);
const ROLE_A = "1300000000000000001";
const ROLE_B = "1300000000000000002";
const TRIAL_ROLE = "1300000000000000003";

type Json = Record<string, unknown> & { guilds: (Record<string, unknown> & { id: string })[] };

/** The example file with its first guild's plans replaced. */
function withPlans(...changes: Record<string, unknown>[]): Json {
  const json: Json = JSON.parse(exampleText);
  const guild = first(json.guilds, "the example's guild");
  const plans = guild.plans as Record<string, unknown>[];
  guild.plans = changes.map((change, index) => {
    const plan: Record<string, unknown> = { ...first(plans.slice(index % plans.length), "plan") };
    plan.stripe_price_id = `price_rolestest${index}`;
    delete plan.discord_role_id;
    return { ...plan, ...change };
  });
  return json;
}

function problemsOf(json: Json): string[] {
  const result = parsePlansFile(JSON.stringify(json));
  assert(!result.ok, "expected the file to be refused");
  return result.problems;
}

function parsedPlans(json: Json) {
  const result = parsePlansFile(JSON.stringify(json));
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
  return first(result.file.guilds, "guild").plans;
}

Deno.test("a plan grants several roles, and discord_role_id is still one role", () => {
  const [several, one] = parsedPlans(withPlans(
    { discord_role_ids: [ROLE_A, ROLE_B] },
    { discord_role_id: ROLE_B },
  ));
  assertEquals(several?.discord_role_ids, [ROLE_A, ROLE_B]);
  assertEquals(several?.discord_role_id, ROLE_A, "the first role is the one messages name");
  assertEquals(one?.discord_role_ids, [ROLE_B]);
  assertEquals(one?.trial, null);
});

Deno.test("a trial keeps its days, roles and card rule, with safe defaults", () => {
  const [paid, own, none] = parsedPlans(withPlans(
    { discord_role_id: ROLE_A, trial: { days: 7 } },
    { discord_role_id: ROLE_B, trial: { days: 14, roles: [TRIAL_ROLE] } },
    {
      discord_role_ids: [ROLE_A, ROLE_B],
      trial: {
        days: 3,
        roles: "none",
        payment_method: "if_required",
        missing_payment_method: "pause",
      },
    },
  ));
  assertEquals(paid?.trial, {
    days: 7,
    roleIds: null,
    paymentMethod: "required",
    missingPaymentMethod: "cancel",
  });
  assertEquals(own?.trial?.roleIds, [TRIAL_ROLE]);
  assertEquals(none?.trial, {
    days: 3,
    roleIds: [],
    paymentMethod: "if_required",
    missingPaymentMethod: "pause",
  });
});

Deno.test("inconsistent roles and trials are refused with the path of the field", () => {
  const cases: [string, Record<string, unknown>[], string][] = [
    ["no role", [{}], "guilds[0].plans[0].discord_role_id: a plan needs a role"],
    [
      "both fields",
      [{ discord_role_id: ROLE_A, discord_role_ids: [ROLE_B] }],
      "guilds[0].plans[0].discord_role_ids: give discord_role_id or discord_role_ids, not both",
    ],
    [
      "a duplicate role",
      [{ discord_role_ids: [ROLE_A, ROLE_B, ROLE_A] }],
      `guilds[0].plans[0].discord_role_ids[2]: role ${ROLE_A} is listed twice`,
    ],
    [
      "a trial on a one-time pass",
      [{ discord_role_id: ROLE_A, access: "lifetime", trial: { days: 7 } }],
      "guilds[0].plans[0].trial: a one-time pass has no trial",
    ],
    [
      "a trial role that is another plan's paid role",
      [
        { discord_role_id: ROLE_A },
        { discord_role_id: ROLE_B, trial: { days: 7, roles: [ROLE_A] } },
      ],
      `guilds[0].plans[1].trial.roles[0]: role ${ROLE_A} is the paid role of plans[0]`,
    ],
    [
      "a missing-card rule with a required card",
      [{ discord_role_id: ROLE_A, trial: { days: 7, missing_payment_method: "pause" } }],
      "guilds[0].plans[0].trial.missing_payment_method: only applies with payment_method",
    ],
    [
      "a trial longer than Stripe allows",
      [{ discord_role_id: ROLE_A, trial: { days: 731 } }],
      "guilds[0].plans[0].trial.days:",
    ],
    [
      "a trial role listed twice",
      [{ discord_role_id: ROLE_A, trial: { days: 7, roles: [TRIAL_ROLE, TRIAL_ROLE] } }],
      `guilds[0].plans[0].trial.roles[1]: role ${TRIAL_ROLE} is listed twice`,
    ],
  ];
  for (const [name, plans, expected] of cases) {
    const problems = problemsOf(withPlans(...plans));
    assert(
      problems.some((problem) => problem.startsWith(expected)),
      `${name}: ${problems.join(" | ")}`,
    );
  }
});

Deno.test("the @everyone role is refused in a role list and in a trial's roles", () => {
  const json = withPlans({ discord_role_ids: [ROLE_A], trial: { days: 7, roles: [ROLE_B] } });
  const guild = first(json.guilds, "guild");
  const plan = first(guild.plans as Record<string, unknown>[], "plan");
  plan.discord_role_ids = [ROLE_A, guild.id];
  plan.trial = { days: 7, roles: [guild.id] };
  const problems = problemsOf(json);
  assert(
    problems.some((p) =>
      p.startsWith("guilds[0].plans[0].discord_role_ids[1]: this is the @everyone")
    ),
  );
  assert(
    problems.some((p) => p.startsWith("guilds[0].plans[0].trial.roles[0]: this is the @everyone")),
  );
});
