/**
 * The interactions function must answer within Discord's 3 seconds even on a cold start, so its
 * module graph stays small: no Stripe SDK, no Supabase client, only static imports.
 */
import { assert, assertEquals } from "../harness/assert.ts";

const ENTRYPOINT = new URL("../../functions/discord-interactions/index.ts", import.meta.url);

interface ModuleGraph {
  modules: { specifier: string; npmPackage?: string }[];
  npmPackages: Record<string, { name: string; dependencies: string[] }>;
}

async function moduleGraph(): Promise<ModuleGraph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ENTRYPOINT.pathname],
    cwd: new URL("../../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(output.success, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * The npm packages the entrypoint really loads: those its modules import, and their dependencies.
 * (`npmPackages` alone lists every package the lockfile resolved, used or not.)
 */
function loadedPackages(graph: ModuleGraph): Set<string> {
  const pending = graph.modules.flatMap((module) => module.npmPackage ? [module.npmPackage] : []);
  const seen = new Set<string>();
  while (pending.length) {
    const id = pending.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    pending.push(...(graph.npmPackages[id]?.dependencies ?? []));
  }
  return new Set([...seen].map((id) => graph.npmPackages[id]?.name ?? id));
}

Deno.test("the discord-interactions function does not load the Stripe SDK", async () => {
  const graph = await moduleGraph();
  const packages = [...loadedPackages(graph)];
  assert(packages.includes("hono"), `npm packages: ${packages.join(", ")}`);
  assert(!packages.includes("stripe"), `npm packages: ${packages.join(", ")}`);
  // The core's subscription vocabulary (zod only, no SDK, no I/O) comes in with the entitlement
  // rules, which `/rolepass status` applies to explain why a member has the role or not.
  const stripeModules = graph.modules.filter((module) =>
    /stripe/i.test(module.specifier) && !module.specifier.endsWith("/_core/stripe_shapes.ts")
  );
  assertEquals(stripeModules.map((module) => module.specifier), []);
});

Deno.test("the discord-interactions function loads only the packages it needs", async () => {
  const graph = await moduleGraph();
  const packages = loadedPackages(graph);
  for (const heavy of ["@supabase/supabase-js", "playwright-core", "@electric-sql/pglite"]) {
    assert(!packages.has(heavy), `${heavy} is in the graph`);
  }
  for (const needed of ["hono", "discord-interactions", "postgres", "zod"]) {
    assert(packages.has(needed), `${needed} is missing from the graph`);
  }
});
