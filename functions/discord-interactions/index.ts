/**
 * Supabase Edge Function entrypoint: Discord's interactions endpoint.
 * Deploy with `verify_jwt = false` (Discord signs requests itself; see supabase/config.toml).
 */
import { createApp } from "./app.ts";
import { depsFromConfig, loadConfig } from "./config.ts";

const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));

Deno.serve(app.fetch);
