/**
 * The plan page's entrypoint for Deno Deploy (or any Deno host):
 * `deno run -A functions/plan-page/index.ts`.
 */
import { createApp } from "./app.tsx";
import { depsFromConfig, loadConfig } from "./config.ts";

const config = loadConfig(Deno.env.toObject());
const app = createApp(depsFromConfig(config));

Deno.serve({ port: config.port }, app.fetch);
