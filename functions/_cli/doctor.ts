/**
 * `deno task doctor [--json]`: checks a configuration against the real services before going
 * live — the environment, the database (migrations, plans, Vault), Discord (token, guilds,
 * permissions, roles) and Stripe (key, prices, webhook endpoint, Customer Portal) — and says in
 * plain words what is wrong and how to fix it.
 *
 * Exit code: 0 when nothing blocks going live (warnings allowed), 1 otherwise, 2 on bad arguments.
 * Variables come from the environment and the project's `.env`, as for every task. Base URLs come from
 * DISCORD_API_BASE_URL and STRIPE_API_BASE_URL, so it runs against the test doubles as well.
 */
import { blocksGoingLive, type Finding } from "./doctor/finding.ts";
import { formatJson, formatReport } from "./doctor/report.ts";
import { type DoctorOptions, runDoctor } from "./doctor/run.ts";
import { parseCommandLine, runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The task's command line. */
export const DOCTOR_TASK: TaskDefinition = {
  name: "doctor",
  help: `Usage: deno task doctor [--json]

Checks a configuration against the real services before going live: the environment, the
database (migrations, plans, Vault), Discord (token, servers, permissions, roles) and Stripe
(key, prices, webhook endpoint, Customer Portal), and says what is wrong and how to fix it.
  --json   print the findings as JSON
  --help   print this help

Reads the environment and .env (the environment wins). Exits 0 when nothing blocks going live
(warnings allowed), 1 otherwise, 2 on bad arguments.`,
  flags: { json: { type: "boolean" } },
};

/** The command: returns the exit code and writes the report through `write`. */
export async function doctorCommand(
  args: string[],
  env: Record<string, string | undefined>,
  write: (text: string) => void = console.log,
  options: DoctorOptions = {},
): Promise<number> {
  const commandLine = parseCommandLine(DOCTOR_TASK, args);
  if (commandLine.kind === "help") {
    write(commandLine.text);
    return 0;
  }
  if (commandLine.kind === "refused") {
    write(commandLine.message);
    return USAGE_EXIT_CODE;
  }
  const findings: Finding[] = await runDoctor(env, options);
  write(commandLine.args.flags.json ? formatJson(findings) : formatReport(findings));
  return blocksGoingLive(findings) ? 1 : 0;
}

if (import.meta.main) {
  await runTask(DOCTOR_TASK, ({ env }) => doctorCommand(Deno.args, env.values));
}
