/**
 * The pgTAP suite under supabase/tests/ (what `supabase test db` runs), each file run with psql
 * against a clone of the migrated template, its TAP output read line by line.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { findPgBin } from "../harness/pg_cluster.ts";

const SUITE = new URL("../../supabase/tests/", import.meta.url);

/** One file's TAP stream: the plan, and the description of each passing and failing test. */
interface TapResult {
  planned: number | undefined;
  passed: string[];
  failed: string[];
  /** Every line, diagnostics included, for the failure message. */
  output: string;
}

async function pgTapFiles(folder = SUITE): Promise<URL[]> {
  const files: URL[] = [];
  for await (const entry of Deno.readDir(folder)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), folder);
    if (entry.isDirectory) files.push(...await pgTapFiles(url));
    else if (entry.name.endsWith(".test.sql")) files.push(url);
  }
  return files.sort((a, b) => a.href < b.href ? -1 : 1);
}

function parseTap(output: string): TapResult {
  const result: TapResult = { planned: undefined, passed: [], failed: [], output };
  for (const line of output.split("\n")) {
    const plan = line.match(/^1\.\.(\d+)$/);
    if (plan) result.planned = Number(plan[1]);
    const test = line.match(/^(not )?ok \d+(?: - (.*))?$/);
    if (test) (test[1] ? result.failed : result.passed).push(test[2] ?? "");
  }
  return result;
}

/** Runs one pgTAP file with psql; a psql error (a failed statement) fails the run. */
async function runPgTap(db: TestDatabase, file: URL): Promise<TapResult> {
  const { success, stdout, stderr } = await new Deno.Command(`${await findPgBin()}/psql`, {
    args: ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", db.url, "-f", file.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(stdout);
  assert(
    success,
    `psql failed on ${file.pathname} (is postgresql-15-pgtap installed?):\n` +
      new TextDecoder().decode(stderr) + output,
  );
  return parseTap(output);
}

const suiteRelative = (file: URL) => file.href.slice(SUITE.href.length);

for (const file of await pgTapFiles()) {
  Deno.test(`pgTAP ${suiteRelative(file)} passes`, async () => {
    await withTestDatabase(async (db) => {
      const tap = await runPgTap(db, file);
      assertEquals(tap.failed, [], tap.output);
      assert(tap.passed.length > 0, `no test ran:\n${tap.output}`);
      assertEquals(tap.planned, tap.passed.length, `the plan does not match:\n${tap.output}`);
    });
  });
}

Deno.test("the access rules fail for a table anon can read, RLS off, a callable function, a loose search_path, an open schema and a copy in public", async () => {
  await withTestDatabase(async (db) => {
    await db.sql`grant select on rolepass.guilds to anon`;
    await db.sql`alter table rolepass.plans disable row level security`;
    await db.sql`grant execute on function rolepass.sweep_role_jobs() to authenticated`;
    await db.sql`alter function rolepass.sweep_role_jobs() reset search_path`;
    await db.sql`grant usage on schema rolepass to anon`;
    await db.sql`create view public.memberships as select 1 as id`;
    const tap = await runPgTap(db, new URL("database/access_rules.test.sql", SUITE));
    assertEquals(tap.failed.sort(), [
      "anon cannot enter schema rolepass",
      "anon has no select privilege on rolepass.guilds",
      "anon is refused: select * from rolepass.guilds limit 1",
      "authenticated cannot execute rolepass.sweep_role_jobs()",
      "public holds no rolepass table, view, sequence, index or function",
      "row level security is on for rolepass.plans",
      "security definer rolepass.sweep_role_jobs() runs with an empty search_path",
    ]);
  });
});
