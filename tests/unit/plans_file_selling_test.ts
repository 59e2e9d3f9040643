/**
 * The plans file's ways to sell (issue 14): passes backed by one-time prices, promotion codes and
 * Stripe Tax. Every inconsistent combination is refused with the path of the field to fix.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  parsePlansFile,
  planPriceTerms,
  type StripePriceFacts,
} from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

type Json = Record<string, unknown>;

function example(): Json & { guilds: (Json & { plans: Json[] })[] } {
  return JSON.parse(exampleText);
}

function guildOf(json: ReturnType<typeof example>) {
  return first(json.guilds, "guild");
}

function problemsOf(json: unknown): string[] {
  const result = parsePlansFile(JSON.stringify(json));
  assert(!result.ok, "expected the file to be refused");
  return result.problems;
}

const oneTime: StripePriceFacts = {
  id: "price_pass",
  active: true,
  type: "one_time",
  currency: "jpy",
  unit_amount: 3000,
  billing_scheme: "per_unit",
  tax_behavior: "inclusive",
  recurring: null,
};

const monthly: StripePriceFacts = {
  ...oneTime,
  id: "price_monthly",
  type: "recurring",
  recurring: { interval: "month", interval_count: 1, usage_type: "licensed" },
};

Deno.test("a plan's access reads as a lifetime or a fixed duration", () => {
  const json = example();
  const [monthlyPlan, yearlyPlan] = guildOf(json).plans;
  assert(monthlyPlan && yearlyPlan);
  monthlyPlan.access = "lifetime";
  yearlyPlan.access = "P30D";
  const result = parsePlansFile(JSON.stringify(json));
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
  const [lifetime, thirtyDays] = first(result.file.guilds, "guild").plans;
  assertEquals(lifetime?.access, { kind: "lifetime" });
  assertEquals(thirtyDays?.access, { kind: "duration", seconds: 30 * 86_400, iso: "P30D" });
});

Deno.test("an access that is neither lifetime nor a usable duration is refused at its path", () => {
  for (
    const [access, message] of [
      ["forever", 'expected "lifetime" or an ISO 8601 duration such as "P30D"'],
      ["P1M", 'expected "lifetime" or an ISO 8601 duration such as "P30D"'],
      ["PT5M", "a pass must last at least one hour"],
      ["P4000D", "passes longer than ten years are not supported"],
    ]
  ) {
    const json = example();
    first(guildOf(json).plans, "plan").access = access;
    const [problem] = problemsOf(json);
    assert(problem?.startsWith("guilds[0].plans[0].access: " + message), problem);
  }
});

Deno.test("promotion codes are the guild's setting unless a plan says otherwise", () => {
  const json = example();
  guildOf(json).promotion_codes = true;
  first(guildOf(json).plans, "plan").promotion_codes = false;
  const result = parsePlansFile(JSON.stringify(json));
  assert(result.ok);
  const plans = first(result.file.guilds, "guild").plans;
  assertEquals(plans.map((plan) => plan.promotion_codes), [false, true]);
  const withoutSetting = parsePlansFile(exampleText);
  assert(withoutSetting.ok);
  assertEquals(
    first(withoutSetting.file.guilds, "guild").plans.map((plan) => plan.promotion_codes),
    [false, false],
  );
});

Deno.test("Stripe Tax without address collection is refused at its path", () => {
  const json = example();
  guildOf(json).tax = { automatic: true };
  assertEquals(problemsOf(json), [
    'guilds[0].tax.billing_address_collection: Stripe Tax needs the member\'s address: set "auto" ' +
    '(what tax needs) or "required" (a full billing address)',
  ]);
  guildOf(json).tax = { automatic: true, billing_address_collection: "never" };
  assert(first(problemsOf(json), "problem").startsWith("guilds[0].tax.billing_address_collection"));
  guildOf(json).tax = { automatic: true, billing_address_collection: "auto", rate: 10 };
  assert(first(problemsOf(json), "problem").startsWith("guilds[0].tax: Unrecognized key"));
  guildOf(json).tax = { automatic: true, billing_address_collection: "required" };
  assert(parsePlansFile(JSON.stringify(json)).ok);
});

Deno.test("a one-time price with an access sells a pass", () => {
  assertEquals(planPriceTerms(oneTime, { access: { kind: "lifetime" } }), {
    ok: true,
    terms: {
      unit_amount: 3000,
      currency: "jpy",
      sale: { kind: "pass", access: { kind: "lifetime" } },
      tax_behavior: "inclusive",
    },
  });
});

Deno.test("a duration on a subscription price and a one-time price without access are refused", () => {
  const duration = { kind: "duration", seconds: 86_400, iso: "P1D" } as const;
  assertEquals(planPriceTerms(monthly, { access: duration }), {
    ok: false,
    problems: [{
      field: "access",
      reason: "price price_monthly is recurring: a subscription lasts while it renews; remove " +
        "access or use a one-time price",
    }],
  });
  const refused = planPriceTerms(oneTime);
  assert(!refused.ok);
  assertEquals(refused.problems.map((p) => p.field), ["stripe_price_id"]);
  assert(first(refused.problems, "problem").reason.includes("is a one-time price"));
});

Deno.test("with Stripe Tax a price must say whether it includes tax, and a yen price must include it", () => {
  const lifetime = { kind: "lifetime" } as const;
  const unspecified = planPriceTerms({ ...oneTime, tax_behavior: "unspecified" }, {
    access: lifetime,
    automaticTax: true,
  });
  assert(!unspecified.ok);
  assert(first(unspecified.problems, "problem").reason.includes("does not say whether"));
  const exclusiveYen = planPriceTerms({ ...oneTime, tax_behavior: "exclusive" }, {
    access: lifetime,
    automaticTax: true,
  });
  assert(!exclusiveYen.ok);
  assert(first(exclusiveYen.problems, "problem").reason.includes("総額表示"));
  const exclusiveDollars = planPriceTerms(
    { ...oneTime, currency: "usd", tax_behavior: "exclusive" },
    { access: lifetime, automaticTax: true },
  );
  assert(exclusiveDollars.ok);
  assert(planPriceTerms({ ...oneTime, tax_behavior: "unspecified" }, { access: lifetime }).ok);
});
