/**
 * Architecture rules: what a Stripe subscription status means is spelled in the core only
 * (`functions/_core/subscription_state.ts`, read by `entitlement.ts`), and the database's
 * functions read the facts the sync stored instead of listing statuses again.
 */
import { assertEquals } from "../harness/assert.ts";

const ROOT = new URL("../../", import.meta.url);
const STATUSES = [
  "incomplete_expired",
  "incomplete",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
].join("|");
const QUOTED_STATUS = `["'\`](?:${STATUSES})["'\`]`;
/** Two statuses side by side in a list (an array, a set, an SQL `in (...)`). */
const STATUS_LIST = new RegExp(`${QUOTED_STATUS}\\s*,\\s*${QUOTED_STATUS}`);
/** A status compared by hand: `status !== "canceled"`, `"past_due" === x.status`. */
const STATUS_COMPARISON = new RegExp(
  `status\\s*[!=]==?\\s*${QUOTED_STATUS}|${QUOTED_STATUS}\\s*[!=]==?\\s*[\\w.]*status`,
);

/** The files that decide what a status means, and the list of statuses Stripe documents. */
const DECIDERS = [
  "functions/_core/subscription_state.ts",
  "functions/_core/entitlement.ts",
  "functions/_core/stripe_shapes.ts",
];
/** Not rolepass's rules: the Stripe stand-in plays Stripe; generated types mirror the schema. */
const NOT_RULES = ["functions/_doubles/", "functions/_shared/database.types.ts"];

async function filesUnder(folder: string, extension: string): Promise<string[]> {
  const files: string[] = [];
  const pending = [folder];
  while (pending.length) {
    const dir = pending.pop() as string;
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) pending.push(`${path}/`);
      else if (entry.name.endsWith(extension)) files.push(path);
    }
  }
  return files.sort();
}

Deno.test("no code outside the core spells what a subscription status means", async () => {
  const offenders: string[] = [];
  for (const path of await filesUnder("functions/", ".ts")) {
    if (DECIDERS.includes(path) || NOT_RULES.some((prefix) => path.startsWith(prefix))) continue;
    const lines = (await Deno.readTextFile(new URL(path, ROOT))).split("\n");
    lines.forEach((line, index) => {
      if (STATUS_LIST.test(line) || STATUS_COMPARISON.test(line)) {
        offenders.push(`${path}:${index + 1}: ${line.trim()}`);
      }
    });
  }
  assertEquals(offenders, []);
});

/** The body of the newest definition of each `rolepass` function across the migrations. */
async function newestFunctionBodies(): Promise<Map<string, string>> {
  const bodies = new Map<string, string>();
  for (const path of await filesUnder("supabase/migrations/", ".sql")) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    const definitions = text.matchAll(
      /create (?:or replace )?function (?:rolepass|public)\.(\w+)\([\s\S]*?\$\$([\s\S]*?)\$\$/g,
    );
    for (const [, name, body] of definitions) bodies.set(name as string, body as string);
  }
  return bodies;
}

Deno.test("no database function lists subscription statuses: it reads the stored facts", async () => {
  const bodies = await newestFunctionBodies();
  assertEquals(bodies.has("open_subscribe_link"), true);
  const offenders = [...bodies].filter(([, body]) => STATUS_LIST.test(body)).map(([name]) => name);
  assertEquals(offenders, []);
});
