/**
 * `deno task commands:register`: registers rolepass's slash commands with Discord through the
 * bulk-overwrite endpoint, so running it again leaves exactly the same commands (with the same
 * ids). Guild-scoped when a guild id is given (`--guild <id>` or DISCORD_GUILD_ID): guild commands
 * update instantly, which suits testing; global otherwise.
 *
 * Reads DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN and DISCORD_API_BASE_URL from the environment
 * and the project's `.env`, as every task does (functions/_cli/task.ts).
 */
import type { APIApplicationCommand } from "discord-api-types/v10";
import { COMMANDS } from "../_core/commands.ts";
import { DISCORD_ID_PATTERN } from "../_core/discord_id.ts";
import {
  createDiscordApi,
  DISCORD_DEFAULT_BASE_URL,
  type DiscordApi,
  discordRoutes,
} from "../_shared/discord_api.ts";
import { fields, parseEnv, variableSchemas } from "../_shared/env.ts";
import { runTask, type TaskDefinition, TaskFailure, USAGE_EXIT_CODE } from "./task.ts";

/** Where and how to register. */
export interface RegisterCommandsOptions {
  api: DiscordApi;
  applicationId: string;
  /** Registers in this guild only; global when null. */
  guildId: string | null;
  /** Waits between a 429 and the retry; tests pass a fake. */
  sleep?: (ms: number) => Promise<void>;
}

/** Thrown when Discord refuses the registration. */
export class RegistrationError extends Error {
  constructor(readonly status: number, readonly code: number | null, detail: string) {
    super(
      `Cannot register commands: Discord answered ${status}${
        code ? ` (code ${code})` : ""
      }: ${detail}`,
    );
    this.name = "RegistrationError";
  }
}

const MAX_ATTEMPTS = 3;

/**
 * Overwrites the application's commands with `COMMANDS` and returns what Discord now holds.
 * A 429 is retried after Discord's `retry_after`; any other error is thrown, never retried, as
 * repeated 401/403s count toward Discord's invalid-request ban.
 */
export async function registerCommands(
  options: RegisterCommandsOptions,
): Promise<APIApplicationCommand[]> {
  const sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const route = discordRoutes.overwriteCommands(
    options.applicationId,
    options.guildId ?? null,
    COMMANDS,
  );
  for (let attempt = 1;; attempt++) {
    const response = await options.api.send<APIApplicationCommand[]>(route);
    if (response.status === 200 && Array.isArray(response.body)) return response.body;
    const body = response.body as { message?: string; retry_after?: number; errors?: unknown };
    if (response.status === 429 && attempt < MAX_ATTEMPTS) {
      await sleep(Math.ceil((body?.retry_after ?? 1) * 1000));
      continue;
    }
    const detail = [body?.message ?? "no message", body?.errors ? JSON.stringify(body.errors) : ""]
      .filter(Boolean).join(" ");
    throw new RegistrationError(response.status, response.code, detail);
  }
}

const shape = {
  DISCORD_APPLICATION_ID: fields.snowflake.describe(
    "the application id (Developer Portal > General Information)",
  ),
  DISCORD_BOT_TOKEN: variableSchemas.DISCORD_BOT_TOKEN.describe(
    "the bot token (Developer Portal > Bot)",
  ),
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL).describe(
    "Discord's API root; default https://discord.com/api/v10",
  ),
  DISCORD_GUILD_ID: fields.snowflake.optional().describe(
    "register in this server only (instant updates); unset for global commands",
  ),
};

const TASK: TaskDefinition = {
  name: "commands:register",
  help: `Usage: deno task commands:register [--guild <server id>]

Registers rolepass's slash commands with Discord (running it again changes nothing).
  --guild <id>   register in this server only (instant updates; DISCORD_GUILD_ID does the same)
  --help         print this help

Reads DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN and DISCORD_API_BASE_URL from the environment
and .env (the environment wins). Without a server id the commands are registered globally.`,
  flags: { guild: { type: "string" } },
};

/** What to tell the operator to do about a refusal, by Discord's status. */
function fixFor(error: RegistrationError): string {
  if (error.status === 401) {
    return "Check DISCORD_BOT_TOKEN: Discord Developer Portal > your application > Bot > Reset Token.";
  }
  if (error.status === 403 || error.status === 404) {
    return "Check that DISCORD_APPLICATION_ID belongs to the bot token, and that the bot was " +
      "invited to the server with the applications.commands scope.";
  }
  return "Try again in a minute.";
}

if (import.meta.main) {
  await runTask(TASK, async ({ args, env }) => {
    const config = parseEnv(shape, env.values);
    const guildFlag = args.flags.guild as string | undefined;
    if (guildFlag !== undefined && !DISCORD_ID_PATTERN.test(guildFlag)) {
      throw new TaskFailure("--guild needs a Discord server id (17-20 digits).", USAGE_EXIT_CODE);
    }
    const guildId = guildFlag ?? config.DISCORD_GUILD_ID ?? null;
    let commands: APIApplicationCommand[];
    try {
      commands = await registerCommands({
        api: createDiscordApi(config.DISCORD_API_BASE_URL, config.DISCORD_BOT_TOKEN),
        applicationId: config.DISCORD_APPLICATION_ID,
        guildId,
      });
    } catch (error) {
      if (error instanceof RegistrationError) {
        throw new TaskFailure(`${error.message}. ${fixFor(error)}`);
      }
      throw new TaskFailure(
        `Cannot reach Discord at ${config.DISCORD_API_BASE_URL}: the connection failed. Check ` +
          "the network, or DISCORD_API_BASE_URL if you set it.",
      );
    }
    const where = guildId ? `in server ${guildId}` : "globally";
    console.log(`Registered ${commands.length} command(s) ${where}:`);
    for (const command of commands) console.log(`  /${command.name} (id ${command.id})`);
    return 0;
  });
}
