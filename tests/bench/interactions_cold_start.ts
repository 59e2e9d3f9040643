/**
 * Child process of interactions_load.ts: builds the discord-interactions app exactly as its
 * index.ts does (config from the environment, static imports), serves on a free loopback port and
 * prints the port. The parent measures from spawning this process to the first answered request.
 */
import { createApp } from "../../functions/discord-interactions/app.ts";
import { depsFromConfig, loadConfig } from "../../functions/discord-interactions/config.ts";
import { setLogSink } from "../../functions/_shared/log.ts";

setLogSink(() => {});
const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, app.fetch);
