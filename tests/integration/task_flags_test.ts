/**
 * Every `deno task` that takes flags answers `--help` without any configuration and refuses an
 * unknown flag before doing anything, by running the real tasks. The tasks come from deno.json,
 * so a new task that skips functions/_cli/task.ts fails here.
 */
import { assert, assertEquals } from "../harness/assert.ts";

const root = new URL("../../", import.meta.url);

/**
 * Tasks left out, each for its reason: `test` and `bench` are the test and benchmark runners
 * themselves (their flags belong to `deno test`), and `lint:all` is a chain of deno's own
 * commands, which answer `--help` themselves.
 */
const NOT_TASK_PROGRAMS = new Set(["test", "bench", "lint:all"]);

const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
const taskNames = Object.keys(denoJson.tasks).filter((name) => !NOT_TASK_PROGRAMS.has(name));

/** Only what `deno task` itself needs: no DATABASE_URL, no credentials. */
function bareEnvironment(): Record<string, string> {
  const keep = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];
  return Object.fromEntries(
    keep.flatMap((name) => {
      const value = Deno.env.get(name);
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno task <name> <args>`. A task that ignores its flags may start serving (dev) instead
 * of exiting, so the run is stopped after a generous while and reported as "never exited".
 */
async function runTask(name: string, args: string[]): Promise<Outcome> {
  const stopIfStuck = AbortSignal.timeout(120_000);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: root,
    clearEnv: true,
    env: bareEnvironment(),
    stdout: "piped",
    stderr: "piped",
    signal: stopIfStuck,
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return {
    code: stopIfStuck.aborted ? -1 : output.code,
    stdout: decode(output.stdout),
    stderr: decode(output.stderr),
  };
}

/** Runs `work` over `items`, two at a time: the machine's cores are shared. */
async function eachTwoAtATime<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all([worker(), worker()]);
}

Deno.test("every task answers --help with its usage and needs no configuration to do so", async () => {
  const wrong: string[] = [];
  await eachTwoAtATime(taskNames, async (name) => {
    const { code, stdout, stderr } = await runTask(name, ["--help"]);
    if (code !== 0 || !stdout.includes(`Usage: deno task ${name}`)) {
      wrong.push(
        `${name}: exit ${code}, stdout ${JSON.stringify(stdout.slice(0, 200))}, ` +
          `stderr ${JSON.stringify(stderr.slice(0, 200))}`,
      );
    }
  });
  assertEquals(wrong.sort(), [], wrong.join("\n"));
});

Deno.test("every task refuses an unknown flag with exit code 2, naming the flag", async () => {
  const wrong: string[] = [];
  await eachTwoAtATime(taskNames, async (name) => {
    const { code, stderr } = await runTask(name, ["--bogus"]);
    const oneSentence = stderr.trim().split("\n").length === 1;
    if (code !== 2 || !stderr.includes("--bogus") || !oneSentence) {
      wrong.push(`${name}: exit ${code}, stderr ${JSON.stringify(stderr.slice(0, 300))}`);
    }
  });
  assertEquals(wrong.sort(), [], wrong.join("\n"));
});

Deno.test("the task list is read from deno.json, so new tasks are covered", () => {
  assert(taskNames.includes("dev") && taskNames.includes("commands:register"), taskNames.join());
});
