/**
 * A plan's trial role may be named in each language (`display.<lang>.trial_role_name`), as its paid
 * role is (`role_name`), so the plan page can say what a member holds during the trial. A bad name,
 * or one on a plan whose trial has no role of its own, is refused at its path.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);
const TRIAL_ROLE = "1300000000000000003";

type Display = { en: Record<string, unknown>; ja: Record<string, unknown> };

/** The example file whose first plan has `trial` and the given trial role names. */
function withTrial(trial: unknown, names: { en?: unknown; ja?: unknown }) {
  const json: { guilds: { plans: { trial?: unknown; display: Display }[] }[] } = JSON.parse(
    exampleText,
  );
  const plan = first(first(json.guilds, "the example's guild").plans, "a plan");
  if (trial !== undefined) plan.trial = trial;
  if (names.en !== undefined) plan.display.en.trial_role_name = names.en;
  if (names.ja !== undefined) plan.display.ja.trial_role_name = names.ja;
  return JSON.stringify(json);
}

function problemsOf(text: string): string[] {
  const result = parsePlansFile(text);
  assert(!result.ok, "expected the file to be refused");
  return result.problems;
}

Deno.test("a trial with roles of its own may name them in each language", () => {
  const result = parsePlansFile(
    withTrial({ days: 7, roles: [TRIAL_ROLE] }, { en: "Trial", ja: "体験" }),
  );
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
  const plan = first(first(result.file.guilds, "guild").plans, "plan");
  assertEquals(plan.display.en.trial_role_name, "Trial");
  assertEquals(plan.display.ja?.trial_role_name, "体験");
  assertEquals(plan.trial?.roleIds, [TRIAL_ROLE]);
});

Deno.test("an empty, overlong or non-text trial role name is refused with its path", () => {
  const trial = { days: 7, roles: [TRIAL_ROLE] };
  for (
    const [names, path] of [
      [{ en: " " }, "display.en.trial_role_name"],
      [{ ja: "体".repeat(101) }, "display.ja.trial_role_name"],
      [{ en: 7 }, "display.en.trial_role_name"],
    ] as const
  ) {
    const problems = problemsOf(withTrial(trial, names));
    assertEquals(problems.length, 1, problems.join("\n"));
    assert(problems[0]?.startsWith(`guilds[0].plans[0].${path}:`), problems.join("\n"));
  }
});

Deno.test("a trial role name on a plan whose trial has no role of its own is refused", () => {
  for (
    const trial of [undefined, { days: 7 }, { days: 7, roles: "paid" }, { days: 7, roles: "none" }]
  ) {
    const problems = problemsOf(withTrial(trial, { en: "Trial", ja: "体験" }));
    assertEquals(problems.length, 2, problems.join("\n"));
    for (const lang of ["en", "ja"]) {
      assert(
        problems.some((problem) =>
          problem.startsWith(`guilds[0].plans[0].display.${lang}.trial_role_name: `) &&
          problem.includes("trial.roles")
        ),
        `${JSON.stringify(trial)}: ${problems.join(" | ")}`,
      );
    }
  }
});
