/**
 * Architecture rules about the adapters, checked over the source text of `functions/`: one module
 * owns each outside service's API, so its version, its errors and its shapes are handled once.
 * The Stripe and Discord stand-ins (`functions/_doubles/`) serve those APIs and are exempt.
 */
import { assertEquals } from "../harness/assert.ts";

const ROOT = new URL("../../", import.meta.url);

interface SourceFile {
  /** Path relative to the repository root, e.g. `functions/checkout/app.ts`. */
  path: string;
  text: string;
}

async function productSources(): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  const pending = ["functions/"];
  while (pending.length) {
    const dir = pending.pop() as string;
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) {
        if (path !== "functions/_doubles") pending.push(`${path}/`);
      } else if (/\.tsx?$/.test(entry.name)) {
        files.push({ path, text: await Deno.readTextFile(new URL(path, ROOT)) });
      }
    }
  }
  return files.sort((a, b) => a.path < b.path ? -1 : 1);
}

const sources = await productSources();

/** `import ... from "stripe"` (the import map's name or an npm: specifier), static or dynamic. */
const STRIPE_SDK_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](?:npm:\/?)?stripe(?:@[^"'/]*)?(?:\/[^"']*)?["']/;

/** The one module that may import the Stripe SDK. */
const STRIPE_GATEWAY = "functions/_shared/stripe_gateway.ts";

Deno.test("only the Stripe gateway imports the Stripe SDK", () => {
  const importers = sources
    .filter((file) => STRIPE_SDK_IMPORT.test(file.text))
    .map((file) => file.path)
    .filter((path) => path !== STRIPE_GATEWAY);
  assertEquals(importers, []);
});

Deno.test("the Stripe SDK import pattern catches every way of spelling it", () => {
  for (
    const line of [
      'import Stripe from "stripe";',
      "import type Stripe from 'stripe';",
      'import Stripe from "npm:stripe@23.1.0";',
      'const { default: Stripe } = await import("stripe");',
      'import "stripe";',
    ]
  ) {
    assertEquals(STRIPE_SDK_IMPORT.test(line), true, line);
  }
  for (
    const line of [
      'import { connectStripe } from "../_shared/stripe_gateway.ts";',
      'import { stripeSubscription } from "./stripe_shapes.ts";',
    ]
  ) {
    assertEquals(STRIPE_SDK_IMPORT.test(line), false, line);
  }
});

/** A string or template literal that starts with a Discord REST path. */
const DISCORD_REST_PATH = /["'`]\/(?:guilds|channels|users|webhooks|applications|interactions)\//;

/** The one module that spells Discord's REST paths (`discordRoutes`). */
const DISCORD_API = "functions/_shared/discord_api.ts";

Deno.test("only the Discord API module spells Discord REST paths", () => {
  const spellers = sources
    .filter((file) => file.path !== DISCORD_API)
    .flatMap((file) =>
      file.text.split("\n").flatMap((line, index) =>
        DISCORD_REST_PATH.test(line) ? [`${file.path}:${index + 1}: ${line.trim()}`] : []
      )
    );
  assertEquals(spellers, []);
});

Deno.test("the Discord REST path pattern catches a path however it is quoted", () => {
  for (
    const line of [
      "`/guilds/${guildId}/members/${userId}`",
      '"/users/@me/channels"',
      "'/applications/@me'",
      "`/webhooks/${applicationId}/${token}/messages/@original`",
    ]
  ) {
    assertEquals(DISCORD_REST_PATH.test(line), true, line);
  }
  for (
    const line of [
      '"https://discord.com/developers/docs/resources/guild#get-guild-member"',
      "discordRoutes.guildMember(guildId, userId)",
    ]
  ) {
    assertEquals(DISCORD_REST_PATH.test(line), false, line);
  }
});
