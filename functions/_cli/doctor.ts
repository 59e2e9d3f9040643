/**
 * `deno task doctor [--json]`: checks a configuration against the real services before going
 * live — the environment, the database (migrations, plans, Vault), Discord (token, guilds,
 * permissions, roles) and Stripe (key, prices, webhook endpoint, Customer Portal) — and says in
 * plain words what is wrong and how to fix it.
 *
 * Exit code: 0 when nothing blocks going live (warnings allowed), 1 otherwise, 2 on bad arguments.
 * Variables come from the environment and the project's `.env`. Base URLs come from
 * DISCORD_API_BASE_URL and STRIPE_API_BASE_URL, so it runs against the test doubles as well.
 */
import { blocksGoingLive, type Finding } from "./doctor/finding.ts";
import { formatJson, formatReport } from "./doctor/report.ts";
import { type DoctorOptions, runDoctor } from "./doctor/run.ts";
import { readEnvFile } from "./dev/env_file.ts";
import { projectRoot } from "./supabase_cli.ts";

/** The command: returns the exit code and writes the report through `write`. */
export async function doctorCommand(
  args: string[],
  env: Record<string, string | undefined>,
  write: (text: string) => void = console.log,
  options: DoctorOptions = {},
): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--json");
  if (unknown.length) {
    write(`Unknown argument ${unknown[0]}. Usage: deno task doctor [--json]`);
    return 2;
  }
  const findings: Finding[] = await runDoctor(env, options);
  write(args.includes("--json") ? formatJson(findings) : formatReport(findings));
  return blocksGoingLive(findings) ? 1 : 0;
}

/** The project's `.env` when present, under the process environment (which wins), as `deno task dev`
 * reads it. */
async function environment(): Promise<Record<string, string | undefined>> {
  const fromFile = await readEnvFile(`${projectRoot}.env`);
  return { ...(fromFile ?? {}), ...Deno.env.toObject() };
}

if (import.meta.main) {
  try {
    Deno.exit(await doctorCommand(Deno.args, await environment()));
  } catch (error) {
    console.error(`doctor failed: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  }
}
