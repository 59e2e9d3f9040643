/**
 * What every `deno task` command shares, so they all behave alike: `--help` prints the usage and
 * needs no configuration, an unknown flag is refused before anything is called (a typo such as
 * `--gild` must not fall back to a default), the project's `.env` is read under the process
 * environment, and a failure is printed as one readable sentence with the fix, never a stack trace.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../_shared/env.ts";
import { EnvFileError, readEnvFile } from "./dev/env_file.ts";

/** Exit code for bad arguments or configuration, as most command-line tools use. */
export const USAGE_EXIT_CODE = 2;

/** The command line a task accepts. */
export interface TaskDefinition {
  /** The task's name, e.g. `commands:register`. */
  name: string;
  /** What `--help` prints: the usage line, then what the task does and reads. */
  help: string;
  /** Its flags besides `--help`. */
  flags?: Record<string, { type: "string" | "boolean" }>;
  /** How many positional arguments it takes (default none). */
  maxPositionals?: number;
}

/** The parsed command line. */
export interface TaskArguments {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** What parsing the command line decided. */
export type ParsedCommandLine =
  | { kind: "run"; args: TaskArguments }
  | { kind: "help"; text: string }
  | { kind: "refused"; message: string };

/** Parses `args` strictly: unknown flags, missing flag values and extra positionals are refused. */
export function parseCommandLine(definition: TaskDefinition, args: string[]): ParsedCommandLine {
  if (args.includes("--help") || args.includes("-h")) {
    return { kind: "help", text: definition.help };
  }
  const retry = `Run \`deno task ${definition.name} --help\` for the usage.`;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: definition.flags ?? {},
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return { kind: "refused", message: `${refusalOf(error)}. ${retry}` };
  }
  const allowed = definition.maxPositionals ?? 0;
  if (parsed.positionals.length > allowed) {
    const extra = parsed.positionals[allowed];
    return { kind: "refused", message: `Unexpected argument "${extra}". ${retry}` };
  }
  // No flag is declared `multiple`, so no value is an array.
  const flags = parsed.values as TaskArguments["flags"];
  return { kind: "run", args: { flags, positionals: parsed.positionals } };
}

function refusalOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `Unknown flag ${unknown[1]}`;
  const missingValue = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(message);
  if (missingValue) return `The flag ${missingValue[1]} needs a value`;
  const [firstLine = ""] = message.split("\n");
  return firstLine.replace(/\.$/, "");
}

/** Where a variable's value came from. */
export type VariableSource = "environment" | ".env";

/** The variables a task reads: the process environment over the project's `.env`. */
export interface TaskEnvironment {
  values: Record<string, string | undefined>;
  /** Where each non-empty variable came from; the process environment wins over `.env`. */
  sources: Record<string, VariableSource>;
}

/**
 * Reads `.env` from `path` (a missing file is no error) under `processEnv`, which wins, as every
 * task does. `deno task` runs in the project root, so the default `.env` is the project's.
 * Throws EnvFileError for a line that is not `NAME=value`.
 */
export async function loadTaskEnvironment(
  path = ".env",
  processEnv: Record<string, string> = Deno.env.toObject(),
): Promise<TaskEnvironment> {
  const fromFile = (await readEnvFile(path)) ?? {};
  const sources: Record<string, VariableSource> = {};
  for (const [name, value] of Object.entries(fromFile)) if (value !== "") sources[name] = ".env";
  for (const [name, value] of Object.entries(processEnv)) {
    if (value !== "") sources[name] = "environment";
  }
  return { values: { ...fromFile, ...processEnv }, sources };
}

/** A failure the task already described as one sentence with the fix. */
export class TaskFailure extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "TaskFailure";
  }
}

interface StripeLikeError {
  type: string;
  message: string;
}

function isStripeError(error: unknown): error is StripeLikeError {
  return typeof error === "object" && error !== null &&
    typeof (error as { type?: unknown }).type === "string" &&
    (error as { type: string }).type.startsWith("Stripe");
}

/**
 * One readable sentence for a failure nobody described yet: unreachable services and refused
 * credentials get the fix; anything else gets its first line, without the stack.
 */
export function describeFailure(taskName: string, error: unknown): string {
  if (
    error instanceof TaskFailure || error instanceof EnvFileError || error instanceof ConfigError
  ) return error.message;
  if (isStripeError(error)) {
    if (error.type === "StripeConnectionError") {
      return "Cannot reach Stripe: the connection failed. Check the network, or " +
        "STRIPE_API_BASE_URL if you set it.";
    }
    if (error.type === "StripeAuthenticationError") {
      return "Stripe refused STRIPE_SECRET_KEY: copy the secret key from Stripe Dashboard > " +
        "Developers > API keys.";
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  const unreachable = /error sending request for url \(([^)]+)\)/.exec(message)?.[1];
  if (unreachable !== undefined) {
    return `Cannot reach ${new URL(unreachable).origin}: the connection failed. Check the ` +
      "network, and the base URL variable if you set one (DISCORD_API_BASE_URL, " +
      "STRIPE_API_BASE_URL).";
  }
  const code = (error as { code?: unknown })?.code;
  if (code === "ECONNREFUSED" || error instanceof Deno.errors.ConnectionRefused) {
    return "Cannot reach the database: the connection was refused. Check DATABASE_URL and " +
      "that PostgreSQL is running.";
  }
  return `${taskName} failed: ${message.split("\n")[0]}`;
}

/** What a task's body receives. */
export interface TaskInput {
  args: TaskArguments;
  env: TaskEnvironment;
}

/**
 * Runs a task as a program: parses the command line, answers `--help`, reads `.env`, runs `body`
 * and exits with its code. Anything `body` throws is printed by {@link describeFailure}.
 */
export async function runTask(
  definition: TaskDefinition,
  body: (input: TaskInput) => Promise<number>,
): Promise<never> {
  Deno.exit(await taskExitCode(definition, Deno.args, body));
}

/** {@link runTask} without exiting: returns the exit code (tests call this). */
export async function taskExitCode(
  definition: TaskDefinition,
  argv: string[],
  body: (input: TaskInput) => Promise<number>,
  environment: () => Promise<TaskEnvironment> = () => loadTaskEnvironment(),
): Promise<number> {
  const commandLine = parseCommandLine(definition, argv);
  if (commandLine.kind === "help") {
    console.log(commandLine.text);
    return 0;
  }
  if (commandLine.kind === "refused") {
    console.error(commandLine.message);
    return USAGE_EXIT_CODE;
  }
  let env: TaskEnvironment;
  try {
    env = await environment();
  } catch (error) {
    console.error(describeFailure(definition.name, error));
    return USAGE_EXIT_CODE;
  }
  try {
    return await body({ args: commandLine.args, env });
  } catch (error) {
    console.error(describeFailure(definition.name, error));
    if (error instanceof TaskFailure) return error.exitCode;
    return error instanceof ConfigError ? USAGE_EXIT_CODE : 1;
  }
}
