/**
 * Architecture rules: what a Stripe subscription status means is spelled in the core only: lists
 * of statuses live in `functions/_core/subscription_state.ts` (read by `entitlement.ts`), adapters
 * compare no status by hand, and the database's functions read the facts the sync stored instead
 * of listing statuses again.
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

/** The files that list statuses: what each one means, and the statuses Stripe documents. */
const STATUS_LISTERS = [
  "functions/_core/subscription_state.ts",
  "functions/_core/stripe_shapes.ts",
];
/** The core may name one status (a message for a trial, say); adapters name none. */
const CORE = "functions/_core/";
/** Documentation that explains a rule is not a second rule. */
const COMMENT_LINE = /^\s*(?:\*|\/\/|\/\*)/;
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
    if (STATUS_LISTERS.includes(path) || NOT_RULES.some((prefix) => path.startsWith(prefix))) {
      continue;
    }
    const inCore = path.startsWith(CORE);
    const lines = (await Deno.readTextFile(new URL(path, ROOT))).split("\n");
    lines.forEach((line, index) => {
      if (COMMENT_LINE.test(line)) return;
      if (STATUS_LIST.test(line) || (!inCore && STATUS_COMPARISON.test(line))) {
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

/**
 * Functions that still read Stripe's raw status transitions, each with why. The notices trigger
 * (20261202002201_timeline_notices.sql) landed after the stored facts and tells a member when a
 * renewal failed or recovered from the status change itself; it is listed here so that it stays
 * the only one, and leaves this list when it reads a fact the sync stores.
 */
const READS_RAW_TRANSITIONS = [
  "queue_membership_notices",
];

Deno.test("no database function lists subscription statuses: it reads the stored facts", async () => {
  const bodies = await newestFunctionBodies();
  assertEquals(bodies.has("open_subscribe_link"), true);
  const offenders = [...bodies]
    .filter(([name, body]) => STATUS_LIST.test(body) && !READS_RAW_TRANSITIONS.includes(name))
    .map(([name]) => name);
  assertEquals(offenders, []);
  for (const name of READS_RAW_TRANSITIONS) {
    assertEquals(
      STATUS_LIST.test(bodies.get(name) ?? ""),
      true,
      `${name} no longer lists statuses`,
    );
  }
});
