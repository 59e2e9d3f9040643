/**
 * How the runner builds each Edge Function and the plan page: the same `loadConfig(env)` and
 * `createApp(deps)` their `index.ts` entrypoints use, fed the runner's environment.
 */
import type { FetchHandler } from "./gateway.ts";

/** A built app and how to release what it opened (database pools). */
export interface BuiltApp {
  fetch: FetchHandler;
  close?(): Promise<void>;
}

/** Builds one app from the environment the runner prepared. */
export type AppFactory = (env: Record<string, string>) => BuiltApp | Promise<BuiltApp>;

/** The Edge Functions by URL slug; filled in as each function exists. */
export const FUNCTION_FACTORIES: Record<string, AppFactory> = {};

/** The plan page, when it exists. */
export const PLAN_PAGE_FACTORY: AppFactory | null = null;
