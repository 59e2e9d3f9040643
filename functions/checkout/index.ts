/**
 * Supabase Edge Function entrypoint: token -> plan view, Checkout session, Portal session.
 */
import { createApp } from "./app.ts";
import { depsFromConfig, loadConfig } from "./config.ts";

const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));

Deno.serve(app.fetch);
