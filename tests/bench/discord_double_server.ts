/**
 * The Discord double in a process of its own, for benchmarks, so its CPU (answering, checking
 * every request against Discord's OpenAPI description, holding answers for a latency) is not
 * counted against the function under test on a machine with two cores. Starts it on 127.0.0.1,
 * prints `{"apiBaseUrl": ..., "controlUrl": ..., "seedUrl": ..., "applicationId": ...}` as one
 * JSON line on stdout and serves until SIGTERM or SIGINT, or until its stdin closes (so it also
 * ends when the parent dies without killing it).
 *
 * Faults, the request log and stats go through the double's HTTP control API (`controlUrl`,
 * `/__double`). `POST {seedUrl}/guilds {"guilds": [{"members": ["<user id>", ...]}, ...]}` adds,
 * in one request, a guild per entry with one role below the bot's and the listed members, and
 * answers `[{"guildId", "roleId"}, ...]`; `GET {seedUrl}/memory` answers this process's peak RSS.
 *
 *   deno run -A tests/bench/discord_double_server.ts --bot-token=... [--request-log-limit=N]
 */
import { z } from "zod";
import { startDiscordDouble } from "../doubles/discord.ts";
import { processMemory } from "./process_memory.ts";

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

const botToken = flag("bot-token");
if (!botToken) throw new Error("Cannot start the Discord double: --bot-token is missing");
const requestLogLimit = flag("request-log-limit");
const discord = await startDiscordDouble({
  botToken,
  ...(requestLogLimit ? { requestLogLimit: Number(requestLogLimit) } : {}),
});

const seedBody = z.object({ guilds: z.array(z.object({ members: z.array(z.string()) })) });

const seed = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/memory" && request.method === "GET") {
      return Response.json(await processMemory());
    }
    if (pathname !== "/guilds" || request.method !== "POST") {
      return Response.json({ error: "Not found" }, { status: 404 });
    }
    const parsed = seedBody.safeParse(await request.json());
    if (!parsed.success) {
      return Response.json({ error: "expected {guilds: [{members: [...]}]}" }, { status: 400 });
    }
    return Response.json(parsed.data.guilds.map(({ members }) => {
      const guild = discord.addGuild({ botRolePosition: 10 });
      const role = discord.addRole(guild.id, { position: 5 });
      for (const userId of members) discord.addMember(guild.id, userId);
      return { guildId: guild.id, roleId: role.id };
    }));
  },
);

let stopping: Promise<void> | undefined;
const stop = () => {
  stopping ??= Promise.all([seed.shutdown(), discord.close()]).then(() => {})
    .finally(() => Deno.exit(0));
  return stopping;
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

console.log(JSON.stringify({
  apiBaseUrl: discord.apiBaseUrl,
  controlUrl: `${discord.url}/__double`,
  seedUrl: `http://127.0.0.1:${seed.addr.port}`,
  applicationId: discord.applicationId,
}));

// Ends with the parent: its end of the pipe closes when it exits, however it exits.
for await (const _ of Deno.stdin.readable) {
  // Nothing is expected on stdin; it is only watched for EOF.
}
await stop();
