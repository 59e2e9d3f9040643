/**
 * What the runner prints once it is up: where everything is, and what to paste where.
 */

/** The facts the banner shows. */
export interface BannerFacts {
  mode: "live" | "sandbox";
  url: string;
  /** The database, with any password masked. */
  database: string;
  functions: string[];
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
      : "rolepass dev runner: live credentials from .env",
    "",
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
