/**
 * The Supabase CLI as every task meets it: the first-run install says what it is doing (the npm
 * install itself is replaced here, as it needs the network and takes 15-30 s; the announcing is
 * the code under test), and a failing CLI command reaches the operator as one sentence.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  runSupabase,
  SUPABASE_CLI_VERSION,
  supabaseCli,
  SupabaseCliError,
} from "../../functions/_cli/supabase_cli.ts";
import { describeFailure, TaskFailure } from "../../functions/_cli/task.ts";

async function rejectionOf(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error("expected it to fail");
}

/** An installer that puts an executable where npm would, noting what had been said by then. */
function fakeInstaller(said: string[], saidBeforeInstall: string[][]) {
  return async (toolsDir: string) => {
    saidBeforeInstall.push([...said]);
    await Deno.mkdir(`${toolsDir}/node_modules/.bin`, { recursive: true });
    await Deno.writeTextFile(`${toolsDir}/node_modules/.bin/supabase`, "#!/bin/sh\n");
  };
}

Deno.test("the first run says it is installing the Supabase CLI before it starts, and how long it took after", async () => {
  const toolsDir = await Deno.makeTempDir();
  try {
    const said: string[] = [];
    const saidBeforeInstall: string[][] = [];
    const clock = [1_000, 19_400];
    const binary = await supabaseCli({
      toolsDir,
      install: fakeInstaller(said, saidBeforeInstall),
      say: (line) => said.push(line),
      now: () => clock.shift()!,
    });
    assertEquals(binary, `${toolsDir}/node_modules/.bin/supabase`);
    assertEquals(saidBeforeInstall, [[
      `Installing the Supabase CLI ${SUPABASE_CLI_VERSION} into .tools/ (first run only)…`,
    ]]);
    assertEquals(said.at(-1), `Installed the Supabase CLI ${SUPABASE_CLI_VERSION} in 18 s.`);

    const again: string[] = [];
    await supabaseCli({
      toolsDir,
      install: () => Promise.reject(new Error("installed twice")),
      say: (line) => again.push(line),
    });
    assertEquals(again, [], "an installed CLI starts without a word");
  } finally {
    await Deno.remove(toolsDir, { recursive: true });
  }
});

Deno.test("an install that leaves no CLI behind is one sentence saying what to do", async () => {
  const toolsDir = await Deno.makeTempDir();
  try {
    const error = await rejectionOf(() =>
      supabaseCli({ toolsDir, install: () => Promise.resolve(), say: () => {} })
    );
    assert(error instanceof TaskFailure, String(error));
    assert(error.message.includes(`Delete ${toolsDir} and run the task again`), error.message);
  } finally {
    await Deno.remove(toolsDir, { recursive: true });
  }
});

Deno.test("a supabase db push that cannot reach the database prints one sentence with the fix and no password", async () => {
  const error = await rejectionOf(
    () =>
      runSupabase([
        "db",
        "push",
        "--db-url",
        "postgresql://postgres:s3cret-password@127.0.0.1:1/postgres?sslmode=disable",
        "--include-all",
        "--yes",
      ], { quiet: true }),
  );
  assert(error instanceof SupabaseCliError, String(error));
  const printed = describeFailure("db:migrate", error);
  assertEquals(printed.split("\n").length, 1, printed);
  assert(printed.startsWith("Cannot run `supabase db push`: failed to connect"), printed);
  assert(printed.includes("127.0.0.1:1"), printed);
  assert(printed.endsWith("Check DATABASE_URL and that PostgreSQL is running."), printed);
  assert(!printed.includes("s3cret-password") && !error.output.includes("s3cret-password"));
});

Deno.test("a password in a URL the CLI prints is masked", () => {
  const error = new SupabaseCliError(
    "db lint",
    "Connecting to remote database...\nfailed to parse postgres://postgres:hunter2@db:5432/x\n",
  );
  assertEquals(
    error.message,
    "Cannot run `supabase db lint`: failed to parse postgres://postgres:****@db:5432/x.",
  );
});
