/**
 * Supabase Edge Function `stripe-webhook` (verify_jwt = false: Stripe signs its requests, the
 * function checks the signature itself).
 */
import { createApp } from "./app.ts";
import { depsFromConfig, loadConfig } from "./config.ts";

const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));

Deno.serve(app.fetch);
