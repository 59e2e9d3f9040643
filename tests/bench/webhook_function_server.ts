/**
 * The stripe-webhook function alone in a process, for measuring its own memory: the app built as
 * its entrypoint (functions/stripe-webhook/index.ts) builds it, from the environment, served on
 * 127.0.0.1 at a free port instead of Deno.serve's default 8000 (so that runs side by side do not
 * collide). Prints `{"url": "..."}` as one JSON line on stdout and serves until SIGTERM or SIGINT,
 * or until its stdin closes (so it also ends when the parent dies without killing it).
 *
 *   STRIPE_SECRET_KEY=... STRIPE_WEBHOOK_SECRET=... STRIPE_API_BASE_URL=... DATABASE_URL=... \
 *     deno run -A tests/bench/webhook_function_server.ts
 */
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { depsFromConfig, loadConfig } from "../../functions/stripe-webhook/config.ts";
import { serveUntilStopped } from "./function_process.ts";

await serveUntilStopped(createApp(depsFromConfig(loadConfig(Deno.env.toObject()))).fetch);
