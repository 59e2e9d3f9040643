/**
 * Headless Chromium for the end-to-end test: Debian's `chromium` driven by playwright-core, with a
 * fresh profile and nothing that phones home.
 */
import { chromium } from "playwright-core";
import type { BrowserContext } from "playwright-core";

/** Where Debian installs Chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** A browser context on a throwaway profile, and how to close both. */
export interface HeadlessBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium headless with a fresh `--user-data-dir`. */
export async function launchHeadlessChromium(): Promise<HeadlessBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "rolepass-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
