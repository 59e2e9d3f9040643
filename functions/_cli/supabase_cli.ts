/**
 * Finds the pinned Supabase CLI, installing it from npm into `.tools/` on first use.
 *
 * Deno cannot run `npm:supabase` directly (it resolves the optional binary packages of every
 * platform), so the CLI is installed with npm, which picks the one for this machine.
 */
import { fileURLToPath } from "node:url";
import { isLoopbackUrl } from "../_shared/env.ts";
import { TaskFailure } from "./task.ts";

/** The Supabase CLI version every task uses. */
export const SUPABASE_CLI_VERSION = "2.122.1";

const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_TOOLS_DIR = `${projectRoot}.tools/supabase-${SUPABASE_CLI_VERSION}`;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function installWithNpm(toolsDir: string): Promise<void> {
  let success: boolean;
  try {
    ({ success } = await new Deno.Command("npm", {
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
    }).output());
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new TaskFailure(
        `Cannot install the Supabase CLI ${SUPABASE_CLI_VERSION}: npm is not installed. ` +
          "Install Node.js (it brings npm), or set SUPABASE_CLI to a supabase binary.",
      );
    }
    throw error;
  }
  if (!success) {
    throw new TaskFailure(
      `Cannot install the Supabase CLI ${SUPABASE_CLI_VERSION} with npm (its output is above). ` +
        "Check the network, or set SUPABASE_CLI to a supabase binary.",
    );
  }
}

/** Where the CLI lives and how it gets there; tests replace the installer, clock and output. */
export interface SupabaseCliOptions {
  /** The folder the CLI is installed into; default `.tools/supabase-<version>` in the project. */
  toolsDir?: string;
  /** Installs the CLI into `toolsDir`; default `npm install`. */
  install?: (toolsDir: string) => Promise<void>;
  /** Where progress lines go; default stderr, so a task's own output stays clean. */
  say?: (line: string) => void;
  /** Milliseconds, for the time the install took. */
  now?: () => number;
}

/**
 * Returns the path of the Supabase CLI binary (SUPABASE_CLI when set), installing it when missing.
 * The install takes 15-30 s and runs only once, so it is announced before and timed after: a
 * silent first start looks like a hang.
 */
export async function supabaseCli(options: SupabaseCliOptions = {}): Promise<string> {
  const fromEnv = options.toolsDir ? undefined : Deno.env.get("SUPABASE_CLI");
  if (fromEnv) return fromEnv;
  const toolsDir = options.toolsDir ?? DEFAULT_TOOLS_DIR;
  const binary = `${toolsDir}/node_modules/.bin/supabase`;
  if (await exists(binary)) return binary;
  const say = options.say ?? ((line: string) => console.error(line));
  const now = options.now ?? (() => performance.now());
  say(`Installing the Supabase CLI ${SUPABASE_CLI_VERSION} into .tools/ (first run only)…`);
  const started = now();
  await Deno.mkdir(toolsDir, { recursive: true });
  await (options.install ?? installWithNpm)(toolsDir);
  if (!(await exists(binary))) {
    throw new TaskFailure(
      `Cannot install the Supabase CLI ${SUPABASE_CLI_VERSION}: npm finished but ${binary} is ` +
        `missing. Delete ${toolsDir} and run the task again.`,
    );
  }
  const seconds = Math.round((now() - started) / 1000);
  say(`Installed the Supabase CLI ${SUPABASE_CLI_VERSION} in ${seconds} s.`);
  return binary;
}

/**
 * The Supabase CLI failed: the message is one sentence (its own error line, with any database
 * password masked, and the fix when it is a known one); `output` keeps everything it printed.
 */
export class SupabaseCliError extends TaskFailure {
  readonly output: string;

  constructor(readonly command: string, output: string) {
    super(supabaseFailureSentence(command, output));
    this.output = output.replace(PASSWORD_IN_URL, "$1****@");
    this.name = "SupabaseCliError";
  }
}

const PASSWORD_IN_URL = /(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/g;

/** Lines the CLI prints around its error that say nothing about it. */
const NOISE = [
  /^Connecting to (?:remote|local) database/,
  /^Try rerunning the command with --debug/,
  /^Make sure your local IP is allowed/,
  /^https:\/\/supabase\.com\/dashboard/,
];

/** The one sentence for a CLI failure: its error line and, for a connection failure, the fix. */
export function supabaseFailureSentence(command: string, output: string): string {
  const lines = output.split(/\r?\n/).map((line) => line.trim())
    .filter((line) => line !== "" && !NOISE.some((noise) => noise.test(line)));
  const errorLine = lines.find((line) => /error|failed|cannot|unexpected/i.test(line)) ??
    lines.at(-1) ?? "it printed nothing";
  const reason = errorLine.replace(PASSWORD_IN_URL, "$1****@").replace(/\.$/, "");
  const connection =
    /failed to connect|dial error|ECONNREFUSED|password authentication|no such host/i
      .test(reason);
  const fix = connection ? " Check DATABASE_URL and that PostgreSQL is running." : "";
  return `Cannot run \`supabase ${command}\`: ${reason}.${fix}`;
}

/**
 * The URL handed to the Supabase CLI. The CLI (pgx) insists on TLS unless the URL says
 * `sslmode=disable`, and a local PostgreSQL usually runs without it: a loopback URL that names no
 * sslmode gets `sslmode=disable`. Any other URL is left alone, so a remote database keeps TLS.
 */
export function cliDatabaseUrl(databaseUrl: string): string {
  if (!isLoopbackUrl(databaseUrl)) return databaseUrl;
  const url = new URL(databaseUrl);
  if (url.searchParams.has("sslmode")) return databaseUrl;
  url.searchParams.set("sslmode", "disable");
  return url.toString();
}

/**
 * Runs the Supabase CLI in the project root; throws SupabaseCliError when it fails. A `--db-url`
 * value goes through `cliDatabaseUrl`, so every subcommand reaches a local PostgreSQL the same way.
 */
export async function runSupabase(args: string[], opts: { quiet?: boolean } = {}): Promise<string> {
  const command = new Deno.Command(await supabaseCli(), {
    args: args.map((arg, i) => args[i - 1] === "--db-url" ? cliDatabaseUrl(arg) : arg),
    cwd: projectRoot,
    env: { SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
    stdout: "piped",
    stderr: "piped",
  });
  const { success, stdout, stderr } = await command.output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  if (!success) {
    const subcommand = args.slice(0, 2).filter((arg) => !arg.startsWith("-")).join(" ");
    throw new SupabaseCliError(subcommand, `${err}\n${out}`);
  }
  if (!opts.quiet && err.trim()) console.error(err.trim());
  return out;
}

export { projectRoot };
