/**
 * Starts tests/bench/discord_double_server.ts as a subprocess and talks to it over HTTP: the
 * Discord double of a benchmark, with its own CPU and memory.
 */
import type { DoubleStats, LoggedRequest } from "../doubles/discord.ts";

/** The Discord double in its own process. */
export interface DiscordDoubleProcess {
  apiBaseUrl: string;
  applicationId: string;
  /** Adds a guild per entry, each with one role below the bot's and the listed members. */
  addGuilds(guilds: { members: string[] }[]): Promise<{ guildId: string; roleId: string }[]>;
  /** Holds every answer `delayMs`, as Discord's round trip over the internet would. */
  delayAnswers(delayMs: number): Promise<void>;
  clearLog(): Promise<void>;
  requests(): Promise<LoggedRequest[]>;
  stats(): Promise<DoubleStats>;
  /** The double's process's peak resident set, in MiB. */
  peakMemoryMb(): Promise<number>;
  close(): Promise<void>;
}

/** Starts the double's process with `botToken`, keeping up to `requestLogLimit` requests. */
export async function startDiscordDoubleProcess(
  options: { botToken: string; requestLogLimit: number },
): Promise<DiscordDoubleProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      new URL("./discord_double_server.ts", import.meta.url).href,
      `--bot-token=${options.botToken}`,
      `--request-log-limit=${options.requestLogLimit}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await stdin.close().catch(() => {});
    await child.status;
  };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The Discord double's process ended early: ${text}`);
      text += value;
    }
    await reader.cancel();
    const started = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
      apiBaseUrl: string;
      controlUrl: string;
      seedUrl: string;
      applicationId: string;
    };
    const call = async <T>(url: string, method: string, body?: unknown): Promise<T> => {
      const response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) {
        throw new Error(
          `The Discord double answered ${method} ${url} with ${response.status}: ${await response
            .text()}`,
        );
      }
      if (response.status === 204) {
        await response.body?.cancel();
        return undefined as T;
      }
      return await response.json() as T;
    };
    return {
      apiBaseUrl: started.apiBaseUrl,
      applicationId: started.applicationId,
      addGuilds: (guilds) => call(`${started.seedUrl}/guilds`, "POST", { guilds }),
      delayAnswers: (delayMs) =>
        call(`${started.controlUrl}/faults`, "POST", { pathPattern: ".", delayMs }),
      clearLog: () => call(`${started.controlUrl}/log`, "DELETE"),
      requests: () => call(`${started.controlUrl}/requests`, "GET"),
      stats: () => call(`${started.controlUrl}/stats`, "GET"),
      peakMemoryMb: async () =>
        (await call<{ peakMb: number }>(`${started.seedUrl}/memory`, "GET")).peakMb,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
