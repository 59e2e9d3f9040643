/**
 * How the runner builds each Edge Function and the plan page: the same `loadConfig(env)`,
 * `depsFromConfig(config)` and `createApp(deps)` their `index.ts` entrypoints use, fed the
 * runner's environment. Imports stay static, as the Supabase CLI's bundler needs for the functions.
 */
import { createApp as createCheckoutApp } from "../../checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../checkout/config.ts";
import { createApp as createInteractionsApp } from "../../discord-interactions/app.ts";
import {
  depsFromConfig as interactionsDeps,
  loadConfig as loadInteractionsConfig,
} from "../../discord-interactions/config.ts";
import { createApp as createWebhookApp } from "../../stripe-webhook/app.ts";
import {
  depsFromConfig as webhookDeps,
  loadConfig as loadWebhookConfig,
} from "../../stripe-webhook/config.ts";
import type { FetchHandler } from "./gateway.ts";

/** A built app and how to release what it opened (database pools). */
export interface BuiltApp {
  fetch: FetchHandler;
  close?(): Promise<void>;
}

/** Builds one app from the environment the runner prepared. */
export type AppFactory = (env: Record<string, string>) => BuiltApp | Promise<BuiltApp>;

/** The Edge Functions by URL slug. */
export const FUNCTION_FACTORIES: Record<string, AppFactory> = {
  "discord-interactions": (env) => {
    const deps = interactionsDeps(loadInteractionsConfig(env));
    const app = createInteractionsApp(deps);
    return { fetch: (request) => app.fetch(request), close: () => deps.sql.end() };
  },
  "checkout": (env) => {
    const deps = checkoutDeps(loadCheckoutConfig(env));
    const app = createCheckoutApp(deps);
    return { fetch: (request) => app.fetch(request), close: () => deps.sql.end() };
  },
  "stripe-webhook": (env) => {
    const deps = webhookDeps(loadWebhookConfig(env));
    const app = createWebhookApp(deps);
    return { fetch: (request) => app.fetch(request), close: () => deps.sql.end() };
  },
};

/** The plan page, when it exists. */
export const PLAN_PAGE_FACTORY: AppFactory | null = null;
