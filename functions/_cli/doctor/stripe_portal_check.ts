/**
 * Check: the Stripe Customer Portal has an active default configuration. Members who already pay
 * get a portal link from /subscribe; without saved portal settings Stripe refuses to open it.
 */
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip, warn } from "./finding.ts";
import { describeFailure } from "./probe.ts";
import { judgePortal } from "../../_core/health.ts";

const SETTINGS = "Stripe Dashboard → Settings → Billing → Customer portal";

/** Judges the portal configurations. */
export function checkCustomerPortal(facts: StripeFacts): Finding[] {
  const probe = facts.portalConfigurations;
  if (!probe.ok) {
    if (probe.status === 401 || probe.status === 403) {
      return [skip("stripe.portal", "Stripe Customer Portal", "a Stripe key that may read it")];
    }
    return [fail(
      "stripe.portal",
      `Cannot read the Customer Portal settings: ${describeFailure(probe)}`,
      "run the doctor again",
    )];
  }
  const verdict = judgePortal(probe.value);
  if (verdict.kind === "not_configured") {
    return [fail(
      "stripe.portal",
      "The Stripe Customer Portal is not configured: members could not manage or cancel",
      `${SETTINGS}: choose what members may do and Save`,
    )];
  }
  const findings = [pass(
    "stripe.portal",
    `The Stripe Customer Portal is configured (${verdict.id})`,
  )];
  if (!verdict.allowsCancel) {
    findings.push(warn(
      "stripe.portal",
      "The Customer Portal does not let members cancel their subscription",
      `${SETTINGS} → Cancellations: allow customers to cancel subscriptions`,
    ));
  }
  if (!verdict.allowsCardUpdate) {
    findings.push(warn(
      "stripe.portal",
      "The Customer Portal does not let members change their card",
      `${SETTINGS} → Payment methods: allow customers to update payment methods`,
    ));
  }
  return findings;
}

/**
 * Judges plan switching in the Customer Portal against each guild's active subscription prices:
 * a member may switch between exactly their guild's prices, in the guild's own configuration
 * (saved by `plans:apply`), or the account's default for a guild that has none yet. A price the portal lacks is a plan
 * members cannot switch to; a price it offers beyond the guild's is another guild's plan (a role
 * in another server) or a price no plan sells (paid for, no role at all).
 * @param configured the guilds with their active plans; a plan's price counts when Stripe says it
 *   is recurring (a one-time pass is not a subscription to switch)
 */
export function checkPortalPlanSwitching(
  facts: StripeFacts,
  configured: readonly ConfiguredGuild[],
): Finding[] {
  const guilds = configured.map((guild) => ({
    id: guild.id,
    name: guild.name,
    portalConfigurationId: guild.portalConfigurationId,
    priceIds: guild.plans.map((plan) => plan.stripePriceId).filter((id) => {
      const price = facts.prices.get(id);
      return price?.ok === true && price.value.type === "recurring";
    }),
  }));
  const probe = facts.portalConfigurations;
  if (!probe.ok) return [];
  const accountDefault = probe.value.find((configuration) =>
    configuration.is_default && configuration.active
  );
  const ownerOf = new Map(guilds.flatMap((guild) => guild.priceIds.map((id) => [id, guild])));
  const findings: Finding[] = [];
  for (const guild of guilds) {
    const where = `${guild.name} (${guild.id})`;
    // A guild's portal sessions open with its own configuration once plans:apply saved one.
    const current = guild.portalConfigurationId
      ? probe.value.find((configuration) => configuration.id === guild.portalConfigurationId)
      : accountDefault;
    if (guild.portalConfigurationId && !current?.active) {
      findings.push(fail(
        "stripe.portal",
        `The Customer Portal configuration ${guild.portalConfigurationId} of ${where} is ` +
          (current ? "inactive" : "not in this Stripe account"),
        "run `deno task plans:apply` to save the guild's portal configuration again",
      ));
      continue;
    }
    if (!current) continue;
    const update = current.features.subscription_update;
    const offered = new Set(update.products.flatMap((product) => product.prices));
    if (!update.enabled) {
      if (guild.priceIds.length >= 2) {
        findings.push(warn(
          "stripe.portal",
          `Members of ${where} cannot switch between its ${guild.priceIds.length} plans ` +
            "themselves: the Customer Portal does not allow plan changes",
          `${SETTINGS} → Subscriptions: allow customers to switch plans, with the prices ` +
            guild.priceIds.join(", "),
        ));
      }
      continue;
    }
    const problems: string[] = [];
    const missing = guild.priceIds.filter((id) => !offered.has(id));
    if (missing.length) {
      problems.push(`does not offer ${missing.join(", ")} (members cannot switch to it)`);
    }
    for (const id of [...offered].filter((id) => !guild.priceIds.includes(id)).sort()) {
      const owner = ownerOf.get(id);
      problems.push(
        owner
          ? `offers ${id}, a plan of ${owner.name} (${owner.id}): a member would pay for a role ` +
            "in another server"
          : `offers ${id}, which no active plan sells: a member would pay and get no role`,
      );
    }
    if (problems.length) {
      findings.push(fail(
        "stripe.portal",
        `The Customer Portal's plan switching for ${where} ${problems.join("; ")}`,
        guild.portalConfigurationId
          ? `run \`deno task plans:apply\` to save the guild's portal configuration ` +
            `(${guild.portalConfigurationId}) again with exactly ${
              guild.priceIds.join(", ") || "no price"
            }`
          : `run \`deno task plans:apply\` to give the guild a portal configuration of its own, ` +
            `or ${SETTINGS} → Subscriptions → Products: list exactly ${
              guild.priceIds.join(", ") || "no price"
            }`,
      ));
    } else {
      findings.push(pass(
        "stripe.portal",
        `Members of ${where} can switch between exactly its ${guild.priceIds.length} plans in ` +
          `the Customer Portal (proration: ${update.proration_behavior ?? "none"})`,
      ));
    }
  }
  return findings;
}
