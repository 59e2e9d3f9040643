/**
 * `deno task dev`: the whole system in one process, no Docker. Reads `.env` when present
 * (variables already in the environment win), then starts the runner; with no Discord or Stripe
 * credentials at all it starts the local sandbox. See functions/_cli/dev/runner.ts.
 */
import { EnvFileError, readEnvFile } from "./dev/env_file.ts";
import { startDevRunner } from "./dev/runner.ts";
import { startSandbox } from "./dev/sandbox/sandbox.ts";
import { DevConfigError } from "./dev/settings.ts";

async function main(): Promise<number> {
  let fileEnv: Record<string, string> | null;
  try {
    fileEnv = await readEnvFile(".env");
  } catch (error) {
    if (error instanceof EnvFileError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  const env = { ...(fileEnv ?? {}), ...Deno.env.toObject() };
  try {
    const runner = await startDevRunner({ env }, startSandbox);
    console.log(runner.banner);
    const stop = async () => {
      console.log("Stopping the dev runner...");
      await runner.stop();
      Deno.exit(0);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    return await new Promise<number>(() => {});
  } catch (error) {
    if (error instanceof DevConfigError) {
      console.error(error.message);
      return 2;
    }
    console.error(`Cannot start the dev runner: ${error instanceof Error ? error.message : error}`);
    return 1;
  }
}

Deno.exit(await main());
