/**
 * `deno task test`: every check and every test.
 *
 * 1. Static checks: `deno fmt --check`, `deno lint`, `deno check`.
 * 2. A throwaway PostgreSQL 15 cluster (unless DATABASE_URL is set), migrated with the real
 *    migrations through `deno task db:migrate`'s code path into a template database.
 * 3. `supabase db lint` (level warning).
 * 4. `deno test --parallel` over tests/, each test cloning the template into a database of its
 *    own. Test files mostly wait on PostgreSQL and on the doubles' sockets, so more of them run at
 *    once than the machine has cores: `DENO_JOBS` (default {@linkcode DEFAULT_TEST_JOBS}) sets how
 *    many.
 *
 * Flags: `--quick` skips step 1 and 3; anything after `--` goes to `deno test` (e.g. a file).
 */
import { projectRoot, runSupabase, SupabaseCliError } from "../functions/_cli/supabase_cli.ts";
import { prepareTemplateDatabase } from "./harness/template_database.ts";

const separator = Deno.args.indexOf("--");
const ownArgs = separator === -1 ? Deno.args : Deno.args.slice(0, separator);
const testArgs = separator === -1 ? [] : Deno.args.slice(separator + 1);
const quick = ownArgs.includes("--quick");

/** Test files run at once unless DENO_JOBS says otherwise. */
const DEFAULT_TEST_JOBS = 2;

async function step(name: string, cmd: string, args: string[]): Promise<void> {
  console.log(`\n== ${name}`);
  const { success } = await new Deno.Command(cmd, {
    args,
    cwd: projectRoot,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`${name} failed`);
}

async function main(): Promise<number> {
  if (!quick) {
    await step("deno fmt --check", Deno.execPath(), ["fmt", "--check"]);
    await step("deno lint", Deno.execPath(), ["lint"]);
    await step("deno check", Deno.execPath(), ["check", "functions/", "tests/"]);
  }

  console.log("\n== migrations (bootstrap + supabase db push)");
  const template = await prepareTemplateDatabase();
  try {
    const databaseUrl = template.url;

    if (!quick) {
      console.log("\n== supabase db lint --level warning");
      const lint = await runSupabase(
        ["db", "lint", "--db-url", databaseUrl, "--level", "warning", "--fail-on", "warning"],
        { quiet: true },
      ).catch((error) => {
        // The task's one-sentence failure hides the findings; a developer needs all of them.
        if (error instanceof SupabaseCliError) console.error(error.output.trim());
        throw error;
      });
      console.log(lint.trim() || "No schema errors found");
    }

    console.log("\n== deno test");
    const test = new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "-A",
        "--no-check",
        "--parallel",
        ...(testArgs.length ? testArgs : ["tests/"]),
      ],
      cwd: projectRoot,
      env: {
        DATABASE_URL: databaseUrl,
        DENO_JOBS: Deno.env.get("DENO_JOBS") ?? String(DEFAULT_TEST_JOBS),
      },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let tail = "";
    const decoder = new TextDecoder();
    for await (const chunk of test.stdout) {
      const text = decoder.decode(chunk, { stream: true });
      tail = (tail + text).slice(-4000);
      await Deno.stdout.write(chunk);
    }
    const { success } = await test.status;
    // deno test ends with e.g. "ok | 12 passed (3 steps) | 0 failed (4s)"; CI reads a plain line.
    const summary = tail.match(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/);
    if (summary) console.log(`\ntests: ${summary[1]} passed, ${summary[2]} failed`);
    return success ? 0 : 1;
  } finally {
    await template.release();
  }
}

try {
  Deno.exit(await main());
} catch (error) {
  console.error(`\n${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
