/**
 * `deno task commands:register`: registers rolepass's slash commands with Discord through the
 * bulk-overwrite endpoint, so running it again leaves exactly the same commands (with the same
 * ids). Guild-scoped when a guild id is given (`--guild <id>` or DISCORD_GUILD_ID): guild commands
 * update instantly, which suits testing; global otherwise.
 *
 * Reads DISCORD_APPLICATION_ID, DISCORD_BOT_TOKEN and DISCORD_API_BASE_URL.
 */
import { z } from "zod";
import type { APIApplicationCommand } from "discord-api-types/v10";
import { COMMANDS } from "../_core/commands.ts";
import {
  createDiscordApi,
  DISCORD_DEFAULT_BASE_URL,
  type DiscordApi,
} from "../_shared/discord_api.ts";
import { ConfigError, fields, parseEnv } from "../_shared/env.ts";

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
  const path = options.guildId
    ? `/applications/${options.applicationId}/guilds/${options.guildId}/commands`
    : `/applications/${options.applicationId}/commands`;
  for (let attempt = 1;; attempt++) {
    const response = await options.api.request<APIApplicationCommand[]>("PUT", path, {
      body: COMMANDS,
    });
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
  DISCORD_BOT_TOKEN: z.string().min(1).describe("the bot token (Developer Portal > Bot)"),
  DISCORD_API_BASE_URL: fields.url.default(DISCORD_DEFAULT_BASE_URL).describe(
    "Discord's API root; default https://discord.com/api/v10",
  ),
  DISCORD_GUILD_ID: fields.snowflake.optional().describe(
    "register in this server only (instant updates); unset for global commands",
  ),
};

/** Reads `--guild <id>` / `--guild=<id>` from the command line; null when absent. */
export function guildFlag(args: string[]): string | null {
  const index = args.findIndex((arg) => arg === "--guild" || arg.startsWith("--guild="));
  if (index === -1) return null;
  const value = args[index].includes("=") ? args[index].split("=")[1] : args[index + 1];
  if (!value || !/^[0-9]{17,20}$/.test(value)) {
    throw new ConfigError(["--guild needs a Discord server id (17-20 digits)"]);
  }
  return value;
}

async function main(): Promise<number> {
  try {
    const env = parseEnv(shape);
    const guildId = guildFlag(Deno.args) ?? env.DISCORD_GUILD_ID ?? null;
    const commands = await registerCommands({
      api: createDiscordApi(env.DISCORD_API_BASE_URL, env.DISCORD_BOT_TOKEN),
      applicationId: env.DISCORD_APPLICATION_ID,
      guildId,
    });
    const where = guildId ? `in server ${guildId}` : "globally";
    console.log(`Registered ${commands.length} command(s) ${where}:`);
    for (const command of commands) console.log(`  /${command.name} (id ${command.id})`);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof RegistrationError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main());
