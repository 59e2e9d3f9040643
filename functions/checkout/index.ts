/**
 * Supabase Edge Function entrypoint: token -> plan view, Checkout session, Portal session; Checkout
 * session id -> the membership synced from Stripe (the thank-you page).
 */
import { createApp } from "./app.ts";
import { depsFromConfig, loadConfig } from "./config.ts";

const app = createApp(depsFromConfig(loadConfig(Deno.env.toObject())));

Deno.serve(app.fetch);
