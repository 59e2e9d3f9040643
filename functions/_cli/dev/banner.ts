/**
 * What the runner prints once it is up: where everything is, and what to paste where.
 */
import { isLoopbackUrl } from "../../_shared/env.ts";
import type { VariableSource } from "../task.ts";

/** The facts the banner shows. */
export interface BannerFacts {
  mode: "live" | "sandbox";
  url: string;
  /** The database, with any password masked. */
  database: string;
  functions: string[];
  /** Live mode: where each Discord and Stripe credential came from. */
  credentialSources?: Record<string, VariableSource>;
  /** PUBLIC_SITE_URL as the operator set it; absent when the runner defaults it to its own URL. */
  publicSiteUrl?: string;
}

/** "from .env", "from the environment", or which came from where when they are mixed. */
export function describeSources(sources: Record<string, VariableSource>): string {
  const named = (source: VariableSource) =>
    Object.keys(sources).filter((name) => sources[name] === source);
  const fromEnvironment = named("environment");
  const fromFile = named(".env");
  if (fromEnvironment.length === 0) return "from .env";
  if (fromFile.length === 0) return "from the environment";
  return `from the environment (${fromEnvironment.join(", ")}) and .env (${fromFile.join(", ")})`;
}

/**
 * With real credentials, the links /subscribe sends in Discord point at PUBLIC_SITE_URL; when it
 * is this machine, members get links they cannot open, and nothing else would show it.
 */
function localLinksWarning(facts: BannerFacts): string[] {
  if (facts.publicSiteUrl && !isLoopbackUrl(facts.publicSiteUrl)) return [];
  const site = facts.publicSiteUrl ?? facts.url;
  const why = facts.publicSiteUrl
    ? `PUBLIC_SITE_URL is ${site}, an address on this machine,`
    : `PUBLIC_SITE_URL is not set, so it defaults to this runner's address ${site},`;
  return [
    "  !!! WARNING: MEMBERS WILL GET LINKS TO LOCALHOST !!!",
    `  !!! ${why}`,
    "  !!! so the plan and /manage links sent in Discord open only on this machine.",
    "  !!! Set PUBLIC_SITE_URL in .env to a public https URL that reaches this port",
    "  !!! (e.g. https://<your-tunnel>), or to the plan page's Deno Deploy URL.",
    "",
  ];
}

/** Masks the password in a postgres URL, for printing. */
export function maskDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "****";
    return parsed.toString();
  } catch {
    return "(unparseable database URL)";
  }
}

/** The start-up message. */
export function startupBanner(facts: BannerFacts): string {
  const lines = [
    "",
    facts.mode === "sandbox"
      ? "rolepass dev runner: LOCAL SANDBOX (no real Stripe or Discord; doubles stand in)"
      : `rolepass dev runner: live credentials ${describeSources(facts.credentialSources ?? {})}`,
    "",
    ...(facts.mode === "live" ? localLinksWarning(facts) : []),
    `  Plan page             ${facts.url}/`,
    ...facts.functions.map((name) => `  ${name.padEnd(22)}${facts.url}/functions/v1/${name}`),
    `  Database              ${facts.database}`,
    "",
  ];
  if (facts.mode === "sandbox") {
    lines.push(
      `  Open ${facts.url}/sandbox to run /subscribe, pay on the sandbox Checkout and see the role granted.`,
      "  To use your real Discord application and Stripe account, copy .env.example to .env.",
      "",
    );
  } else {
    lines.push(
      "  Discord Developer Portal > your application > General Information >",
      "  Interactions Endpoint URL (needs a public HTTPS URL, e.g. a tunnel to this port):",
      `    https://<your-tunnel>/functions/v1/discord-interactions   (locally: ${facts.url}/functions/v1/discord-interactions)`,
      "",
      "  Stripe webhooks to this runner (copy the whsec_... it prints into STRIPE_WEBHOOK_SECRET):",
      `    stripe listen --forward-to ${facts.url}/functions/v1/stripe-webhook`,
      "",
    );
  }
  return lines.join("\n");
}
