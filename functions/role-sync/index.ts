/**
 * Supabase Edge Function entrypoint for role-sync (`verify_jwt = false`: the database calls it
 * with the shared secret in `x-rolepass-secret`).
 */
import { createApp } from "./app.ts";
import { depsFromConfig, loadConfig } from "./config.ts";

const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));
Deno.serve(app.fetch);
