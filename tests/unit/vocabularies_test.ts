/**
 * Each vocabulary is spelled once, in the core module that owns it; everything else under
 * functions/ and tests/ imports it. The Stripe and Discord stand-ins (functions/_doubles/) are
 * Stripe's and Discord's side of the wire, so they spell the platforms' own vocabularies and are
 * left out, as are recorded payloads (tests/fixtures/, tests/artifacts/) and this file.
 */
import { assertEquals } from "../harness/assert.ts";

const ROOTS = [
  { dir: new URL("../../functions/", import.meta.url), prefix: "functions/" },
  { dir: new URL("../../tests/", import.meta.url), prefix: "tests/" },
];
const LEFT_OUT = new Set([
  "functions/_doubles",
  "tests/fixtures",
  "tests/artifacts",
  "tests/unit/vocabularies_test.ts",
]);

/** Where each spelling may appear; null where the type is inferred from its schema instead. */
const VOCABULARIES: { spelling: string; home: string | null }[] = [
  { spelling: '"ja" | "en"', home: null },
  { spelling: '["ja", "en"]', home: "functions/_core/locale.ts" },
  { spelling: '"day", "week", "month", "year"', home: "functions/_core/price.ts" },
  { spelling: '"day" | "week" | "month" | "year"', home: null },
  { spelling: "{17,20}", home: "functions/_core/discord_id.ts" },
  { spelling: '"rolepass_guild_id"', home: "functions/_core/stripe_shapes.ts" },
  { spelling: '"rolepass_discord_user_id"', home: "functions/_core/stripe_shapes.ts" },
  { spelling: '"rolepass_membership_id"', home: "functions/_core/stripe_shapes.ts" },
];

async function* sourceFiles(dir: URL, prefix: string): AsyncGenerator<[string, string]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = prefix + entry.name;
    if (LEFT_OUT.has(path)) continue;
    if (entry.isDirectory) {
      yield* sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (/\.tsx?$/.test(entry.name)) {
      yield [path, await Deno.readTextFile(new URL(entry.name, dir))];
    }
  }
}

Deno.test("locales, billing intervals, Discord ids and Stripe metadata keys are spelled once", async () => {
  const found: Record<string, string[]> = {};
  for (const { dir, prefix } of ROOTS) {
    for await (const [path, text] of sourceFiles(dir, prefix)) {
      for (const { spelling } of VOCABULARIES) {
        if (text.includes(spelling)) (found[spelling] ??= []).push(path);
      }
    }
  }
  const misplaced = VOCABULARIES.flatMap(({ spelling, home }) =>
    (found[spelling] ?? []).filter((path) => path !== home).map((path) => `${path}: ${spelling}`)
  );
  assertEquals(misplaced, []);
});
