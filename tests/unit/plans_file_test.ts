import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  durationSeconds,
  parsePlansFile,
  planPriceTerms,
  type PlansFile,
  type StripePriceFacts,
} from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

function example(): Record<string, unknown> & { guilds: Record<string, unknown>[] } {
  return JSON.parse(exampleText);
}

function problemsOf(json: unknown): string[] {
  const result = parsePlansFile(JSON.stringify(json));
  assert(!result.ok, "expected the file to be refused");
  return result.problems;
}

function plansOf(json: { guilds: Record<string, unknown>[] }, g = 0): Record<string, unknown>[] {
  return first(json.guilds.slice(g), `guild ${g}`).plans as Record<string, unknown>[];
}

Deno.test("the shipped example plans file is valid", () => {
  const result = parsePlansFile(exampleText);
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
  const file: PlansFile = result.file;
  assertEquals(first(file.guilds, "an item of file.guilds").plans.length, 2);
  assertEquals(first(file.guilds, "an item of file.guilds").past_due_grace, "P3D");
});

Deno.test("omitted settings get their safe defaults", () => {
  const json = example();
  const guild = json.guilds[0];
  assert(guild, "guild is missing");
  delete guild.default_locale;
  delete guild.past_due_grace;
  delete guild.revoke_on_refund;
  delete guild.operator_log_channel_id;
  delete first(plansOf(json), "an item of plansOf(json)").active;
  delete first(plansOf(json), "an item of plansOf(json)").sort_order;
  const result = parsePlansFile(JSON.stringify(json));
  assert(result.ok);
  const parsed = result.file.guilds[0];
  assert(parsed, "parsed is missing");
  assertEquals(parsed.default_locale, "ja");
  assertEquals(parsed.past_due_grace, "P0D");
  assertEquals(parsed.revoke_on_refund, true);
  assertEquals(parsed.operator_log_channel_id, null);
  assertEquals(first(parsed.plans, "an item of parsed.plans").active, true);
  assertEquals(first(parsed.plans, "an item of parsed.plans").sort_order, 0);
});

Deno.test("text that is not JSON is refused with the parser's reason", () => {
  const result = parsePlansFile("{ guilds: [] ");
  assert(!result.ok);
  assert(
    first(result.problems, "an item of result.problems").startsWith("the file is not valid JSON:"),
    result.problems[0],
  );
});

Deno.test("every bad field is named by its path in the file", () => {
  const json = example();
  first(json.guilds, "an item of json.guilds").id = "12";
  first(plansOf(json).slice(1), "a second plan").stripe_price_id = "prod_123";
  (first(json.guilds, "an item of json.guilds").seller_notice as Record<string, unknown>).email =
    "not-an-email";
  const problems = problemsOf(json);
  assert(problems.some((p) => p.startsWith("guilds[0].id: expected a Discord id")), problems[0]);
  assert(
    problems.some((p) => p.startsWith("guilds[0].plans[1].stripe_price_id: expected a Stripe")),
  );
  assert(problems.some((p) => p.startsWith("guilds[0].seller_notice.email:")));
  assertEquals(problems.length, 3);
});

Deno.test("a misspelled setting is refused instead of silently ignored", () => {
  const json = example();
  first(json.guilds, "an item of json.guilds").revoke_on_refunds = false;
  const problems = problemsOf(json);
  assertEquals(problems.length, 1);
  assert(
    first(problems, "an item of problems").startsWith("guilds[0]:") &&
      first(problems, "an item of problems").includes("revoke_on_refunds"),
  );
});

Deno.test("a seller notice missing a legally required item is refused", () => {
  const json = example();
  delete (first(json.guilds, "an item of json.guilds").seller_notice as Record<string, unknown>)
    .address;
  assert(problemsOf(json).some((p) => p.startsWith("guilds[0].seller_notice.address:")));
});

Deno.test("a plan display without English text is refused", () => {
  const json = example();
  delete (first(plansOf(json), "an item of plansOf(json)").display as Record<string, unknown>).en;
  assert(problemsOf(json).some((p) => p.startsWith("guilds[0].plans[0].display.en:")));
});

Deno.test("a plan may name its Discord role in each language, or leave it out", () => {
  const named = parsePlansFile(exampleText);
  assert(named.ok);
  assertEquals(
    first(first(named.file.guilds, "an item of named.file.guilds").plans, "an item of plans")
      .display.en.role_name,
    "Supporter",
  );
  assertEquals(
    first(first(named.file.guilds, "an item of named.file.guilds").plans, "an item of plans")
      .display.ja?.role_name,
    "サポーター",
  );

  const json = example();
  const display = first(plansOf(json), "an item of plansOf(json)").display as {
    en: Record<string, unknown>;
    ja: Record<string, unknown>;
  };
  delete display.en.role_name;
  delete display.ja.role_name;
  const unnamed = parsePlansFile(JSON.stringify(json));
  assert(unnamed.ok, unnamed.ok ? "" : unnamed.problems.join("\n"));
  assertEquals(
    first(first(unnamed.file.guilds, "an item of unnamed.file.guilds").plans, "an item of plans")
      .display.en.role_name,
    undefined,
  );
});

Deno.test("an empty, overlong or misspelled role name is refused with its path", () => {
  const json = example();
  const display = first(plansOf(json), "an item of plansOf(json)").display as {
    en: Record<string, unknown>;
    ja: Record<string, unknown>;
  };
  display.en.role_name = " ";
  display.ja.role_name = "x".repeat(101);
  const second = first(plansOf(json).slice(1), "a second plan").display as {
    en: Record<string, unknown>;
  };
  second.en.rolename = "Supporter";
  const problems = problemsOf(json);
  assertEquals(problems.length, 3, problems.join("\n"));
  assert(problems.some((p) => p.startsWith("guilds[0].plans[0].display.en.role_name:")));
  assert(problems.some((p) => p.startsWith("guilds[0].plans[0].display.ja.role_name:")));
  assert(
    problems.some((p) => p.startsWith("guilds[0].plans[1].display.en:") && p.includes("rolename")),
  );
});

Deno.test("the @everyone role cannot be sold as a paid role", () => {
  const json = example();
  first(plansOf(json), "an item of plansOf(json)").discord_role_id =
    first(json.guilds, "an item of json.guilds").id;
  const problems = problemsOf(json);
  assertEquals(problems, [
    "guilds[0].plans[0].discord_role_id: this is the @everyone role (its id is the guild id); " +
    "choose the paid role",
  ]);
});

Deno.test("one Stripe price cannot back two plans", () => {
  const json = example();
  first(plansOf(json).slice(1), "a second plan").stripe_price_id =
    first(plansOf(json), "an item of plansOf(json)").stripe_price_id;
  const problems = problemsOf(json);
  assertEquals(problems.length, 1);
  assert(
    first(problems, "an item of problems").startsWith(
      "guilds[0].plans[1].stripe_price_id: price price_1Q",
    ),
  );
  assert(first(problems, "an item of problems").includes("already used by guilds[0].plans[0]"));
});

Deno.test("a guild declared twice is refused at its second place", () => {
  const json = example();
  const copy = structuredClone(json.guilds[0]);
  assert(copy, "copy is missing");
  plansOf({ guilds: [copy] }).forEach((plan, i) => plan.stripe_price_id = `price_other${i}`);
  json.guilds.push(copy);
  assertEquals(problemsOf(json), [
    "guilds[1].id: guild 1187654321098765432 is already declared at guilds[0]",
  ]);
});

Deno.test("a guild without plans and a file without guilds are refused", () => {
  const json = example();
  first(json.guilds, "an item of json.guilds").plans = [];
  assertEquals(problemsOf(json), ["guilds[0].plans: a guild needs at least one plan"]);
  assertEquals(problemsOf({ guilds: [] }), ["guilds: declare at least one guild"]);
});

Deno.test("the past_due grace period is an ISO 8601 duration of at most 31 days", () => {
  assertEquals(durationSeconds("P3D"), 3 * 86400);
  assertEquals(durationSeconds("PT12H"), 12 * 3600);
  assertEquals(durationSeconds("P1WT30M"), 7 * 86400 + 1800);
  assertEquals(durationSeconds("P0D"), 0);
  for (const bad of ["3 days", "P", "PT", "P1M", "P1Y", "-P1D", "P1.5D"]) {
    assertEquals(durationSeconds(bad), null, bad);
  }
  const json = example();
  first(json.guilds, "an item of json.guilds").past_due_grace = "P32D";
  assertEquals(problemsOf(json), [
    "guilds[0].past_due_grace: grace periods longer than 31 days are not supported",
  ]);
  first(json.guilds, "an item of json.guilds").past_due_grace = "3 days";
  assert(
    first(problemsOf(json), "an item of problemsOf(json)").startsWith(
      "guilds[0].past_due_grace: expected an ISO 8601",
    ),
  );
});

const recurring: StripePriceFacts = {
  id: "price_1",
  active: true,
  type: "recurring",
  currency: "JPY",
  unit_amount: 500,
  billing_scheme: "per_unit",
  recurring: { interval: "month", interval_count: 1, usage_type: "licensed" },
};

Deno.test("an active licensed recurring price gives the plan its amount and interval", () => {
  assertEquals(planPriceTerms(recurring), {
    ok: true,
    terms: {
      unit_amount: 500,
      currency: "jpy",
      sale: { kind: "subscription", billing_interval: "month", interval_count: 1 },
      tax_behavior: "unspecified",
    },
  });
});

Deno.test("archived, one-time, metered and tiered prices cannot back a plan", () => {
  const cases: [Partial<StripePriceFacts>, string][] = [
    [{ active: false }, "price price_1 is archived (inactive) in Stripe"],
    [
      { type: "one_time", recurring: null },
      "price price_1 is a one-time price; a plan needs a recurring price, or an access " +
      '("lifetime" or a duration such as "P30D") to sell it as a pass',
    ],
    [
      { recurring: { interval: "month", interval_count: 1, usage_type: "metered" } },
      "price price_1 is metered; a plan needs a licensed price",
    ],
    [
      { unit_amount: null, billing_scheme: "tiered" },
      "price price_1 has tiered pricing; a plan needs a fixed amount per member",
    ],
  ];
  for (const [change, reason] of cases) {
    assertEquals(planPriceTerms({ ...recurring, ...change }), {
      ok: false,
      problems: [{ field: "stripe_price_id", reason }],
    });
  }
});
