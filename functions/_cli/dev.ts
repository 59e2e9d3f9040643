/**
 * `deno task dev`: the whole system in one process, no Docker. Reads the environment and `.env`
 * (the environment wins) as every task does, then starts the runner; with no Discord or Stripe
 * credentials at all it starts the local sandbox. See functions/_cli/dev/runner.ts.
 */
import { type DevRunner, startDevRunner } from "./dev/runner.ts";
import { startSandbox } from "./dev/sandbox/sandbox.ts";
import { DEFAULT_PORT } from "./dev/settings.ts";
import { runTask, type TaskDefinition, TaskFailure } from "./task.ts";

/** The task's command line. */
export const DEV_TASK: TaskDefinition = {
  name: "dev",
  help: `Usage: deno task dev

Runs rolepass in one process: every Edge Function under /functions/v1/<name>, the plan page at /,
the database (embedded PGlite in .data/pglite, or DATABASE_URL), the database webhook and the
cron sweep. With no Discord or Stripe credentials set it starts the local sandbox, where doubles
stand in for both; with all of them it uses your real Discord application and Stripe account.
  --help   print this help

Reads the environment and .env (the environment wins); .env.example lists every variable.
Listens on 127.0.0.1:${DEFAULT_PORT} (PORT changes it). Ctrl-C stops it.`,
};

if (import.meta.main) {
  await runTask(DEV_TASK, async ({ env }) => {
    let runner: DevRunner;
    try {
      runner = await startDevRunner({ env: env.values, sources: env.sources }, startSandbox);
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new TaskFailure(
          `Cannot start the dev runner: port ${env.values.PORT || DEFAULT_PORT} is already in ` +
            "use. Stop whatever listens there, or set PORT to another port (0 picks a free one).",
        );
      }
      throw error;
    }
    console.log(runner.banner);
    const stop = async () => {
      console.log("Stopping the dev runner...");
      await runner.stop();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    return await new Promise<number>(() => {});
  });
}
