import { assert, assertEquals } from "../harness/assert.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";

const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

function guildWith(settings: Record<string, unknown>) {
  const json = JSON.parse(exampleText);
  const guild = json.guilds[0];
  delete guild.revoke_on_refund;
  delete guild.revoke_on_dispute;
  Object.assign(guild, settings);
  return parsePlansFile(JSON.stringify(json));
}

function policiesOf(settings: Record<string, unknown>) {
  const result = guildWith(settings);
  assert(result.ok, result.ok ? "" : result.problems.join("\n"));
  const guild = result.file.guilds[0];
  assert(guild, "guild is missing");
  return [
    guild.refund_policy,
    guild.dispute_policy,
    guild.revoke_on_refund,
    guild.revoke_on_dispute,
  ];
}

Deno.test("a guild without a refund or dispute policy gets revoke_and_cancel for both", () => {
  assertEquals(policiesOf({}), ["revoke_and_cancel", "revoke_and_cancel", true, true]);
});

Deno.test("the plans file sets each policy, and the old switches follow it", () => {
  assertEquals(policiesOf({ refund_policy: "revoke_only", dispute_policy: "keep" }), [
    "revoke_only",
    "keep",
    true,
    false,
  ]);
});

Deno.test("an old switch turned off means keep", () => {
  assertEquals(policiesOf({ revoke_on_refund: false }), [
    "keep",
    "revoke_and_cancel",
    false,
    true,
  ]);
});

Deno.test("a switch that contradicts its policy, or an unknown policy, is refused by name", () => {
  const contradiction = guildWith({ refund_policy: "revoke_only", revoke_on_refund: false });
  assert(!contradiction.ok);
  assert(
    contradiction.problems.some((p) => p.includes("revoke_on_refund")),
    contradiction.problems.join(),
  );
  const unknown = guildWith({ dispute_policy: "cancel" });
  assert(!unknown.ok);
  assert(unknown.problems.some((p) => p.includes("dispute_policy")), unknown.problems.join());
});
