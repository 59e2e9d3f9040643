/**
 * Architecture rules: what a Stripe subscription status means is spelled in the core only: lists
 * of statuses live in `functions/_core/subscription_state.ts` (read by `entitlement.ts`), adapters
 * compare no status by hand, and the database's functions read the facts the sync stored instead
 * of listing statuses again: no function body names any status, not even one.
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
/** Not rolepass's rules: the Stripe stand-in plays Stripe. */
const NOT_RULES = ["functions/_doubles/"];

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

/** Any status's name, quoted, anywhere in a function body. */
const ANY_QUOTED_STATUS = new RegExp(QUOTED_STATUS);
/** An SQL comment: documentation that explains a rule is not a second rule. */
const SQL_COMMENT = /--.*$/;

/**
 * Words that are spelled like a status but are no status read, each with the one place it is
 * written. The operator log's reason for a money ledger row of an ended subscription is the key
 * `canceled` (functions/_core/messages/admin.ts says its text); it names no membership's status.
 */
const SPELLED_LIKE_A_STATUS = new Map([
  ["queue_money_notices", "when 'subscription_ended' then 'canceled'"],
]);

Deno.test("no database function names a status: it reads the facts the sync stored", async () => {
  const bodies = await newestFunctionBodies();
  assertEquals(bodies.has("open_subscribe_link"), true);
  const offenders: string[] = [];
  for (const [name, body] of bodies) {
    const notAStatus = SPELLED_LIKE_A_STATUS.get(name);
    if (notAStatus !== undefined) {
      assertEquals(body.includes(notAStatus), true, `${name} no longer says ${notAStatus}`);
    }
    const read = notAStatus === undefined ? body : body.replaceAll(notAStatus, "");
    for (const line of read.split("\n")) {
      if (ANY_QUOTED_STATUS.test(line.replace(SQL_COMMENT, ""))) {
        offenders.push(`${name}: ${line.trim()}`);
      }
    }
  }
  assertEquals(offenders, []);
});
