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
import { createApp as createPlanPageApp } from "../../plan-page/app.tsx";
import {
  depsFromConfig as planPageDeps,
  loadConfig as loadPlanPageConfig,
} from "../../plan-page/config.ts";
import { createApp as createRoleSyncApp } from "../../role-sync/app.ts";
import {
  depsFromConfig as roleSyncDeps,
  loadConfig as loadRoleSyncConfig,
} from "../../role-sync/config.ts";
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
  "role-sync": (env) => {
    // Like EdgeRuntime.waitUntil: answer the database webhook at once, grant roles after.
    const deps = roleSyncDeps(loadRoleSyncConfig(env), {
      runInBackground: (work) => void work.catch(() => {}),
    });
    const app = createRoleSyncApp(deps);
    return { fetch: (request) => app.fetch(request), close: () => deps.sql.end() };
  },
};

/** The plan page (a Deno Deploy app of its own in production, so no base path). */
export const PLAN_PAGE_FACTORY: AppFactory | null = (env) => {
  const app = createPlanPageApp(planPageDeps(loadPlanPageConfig(env)));
  return { fetch: (request) => app.fetch(request) };
};
