/**
 * Each vocabulary is spelled once, in the core module that owns it; everything else under
 * functions/ imports it. The Stripe and Discord stand-ins (functions/_doubles/) are Stripe's and
 * Discord's side of the wire, so they spell the platforms' own vocabularies and are left out.
 */
import { assertEquals } from "../harness/assert.ts";

const ROOT = new URL("../../functions/", import.meta.url);

/** Where each spelling may appear; null where the type is inferred from its schema instead. */
const VOCABULARIES: { spelling: string; home: string | null }[] = [
  { spelling: '"ja" | "en"', home: null },
  { spelling: '["ja", "en"]', home: "_core/locale.ts" },
  { spelling: '"day", "week", "month", "year"', home: "_core/price.ts" },
  { spelling: '"day" | "week" | "month" | "year"', home: null },
  { spelling: "{17,20}", home: "_core/discord_id.ts" },
  { spelling: '"rolepass_guild_id"', home: "_core/stripe_shapes.ts" },
  { spelling: '"rolepass_discord_user_id"', home: "_core/stripe_shapes.ts" },
  { spelling: '"rolepass_membership_id"', home: "_core/stripe_shapes.ts" },
];

async function* sourceFiles(dir: URL, prefix = ""): AsyncGenerator<[string, string]> {
  for await (const entry of Deno.readDir(dir)) {
    const path = prefix + entry.name;
    if (entry.isDirectory) {
      if (path === "_doubles") continue;
      yield* sourceFiles(new URL(`${entry.name}/`, dir), `${path}/`);
    } else if (/\.tsx?$/.test(entry.name)) {
      yield [path, await Deno.readTextFile(new URL(entry.name, dir))];
    }
  }
}

Deno.test("locales, billing intervals, Discord ids and Stripe metadata keys are spelled once", async () => {
  const found: Record<string, string[]> = {};
  for await (const [path, text] of sourceFiles(ROOT)) {
    for (const { spelling } of VOCABULARIES) {
      if (text.includes(spelling)) (found[spelling] ??= []).push(path);
    }
  }
  const misplaced = VOCABULARIES.flatMap(({ spelling, home }) =>
    (found[spelling] ?? []).filter((path) => path !== home).map((path) => `${path}: ${spelling}`)
  );
  assertEquals(misplaced, []);
});
