/**
 * Finds the pinned Supabase CLI, installing it from npm into `.tools/` on first use.
 *
 * Deno cannot run `npm:supabase` directly (it resolves the optional binary packages of every
 * platform), so the CLI is installed with npm, which picks the one for this machine.
 */
import { fileURLToPath } from "node:url";

/** The Supabase CLI version every task uses. */
export const SUPABASE_CLI_VERSION = "2.122.1";

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const toolsDir = `${projectRoot}.tools/supabase-${SUPABASE_CLI_VERSION}`;
const binary = `${toolsDir}/node_modules/.bin/supabase`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Returns the path of the Supabase CLI binary, installing it when missing. */
export async function supabaseCli(): Promise<string> {
  const fromEnv = Deno.env.get("SUPABASE_CLI");
  if (fromEnv) return fromEnv;
  if (await exists(binary)) return binary;
  await Deno.mkdir(toolsDir, { recursive: true });
  const install = new Deno.Command("npm", {
    args: [
      "install",
      "--no-save",
      "--no-audit",
      "--no-fund",
      "--prefix",
      toolsDir,
      `supabase@${SUPABASE_CLI_VERSION}`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  });
  const { success } = await install.output();
  if (!success || !(await exists(binary))) {
    throw new Error(`Cannot install the Supabase CLI ${SUPABASE_CLI_VERSION} with npm`);
  }
  return binary;
}

/** Runs the Supabase CLI in the project root; throws with its output when it fails. */
export async function runSupabase(args: string[], opts: { quiet?: boolean } = {}): Promise<string> {
  const command = new Deno.Command(await supabaseCli(), {
    args,
    cwd: projectRoot,
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { success, stdout, stderr } = await command.output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  if (!success) {
    throw new Error(`supabase ${args[0]} ${args[1] ?? ""} failed:\n${err}\n${out}`);
  }
  if (!opts.quiet && err.trim()) console.error(err.trim());
  return out;
}

export { projectRoot };
