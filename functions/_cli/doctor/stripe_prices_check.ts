/**
 * Check: each configured plan's Stripe price exists, is active and recurring, and still has the
 * amount and interval the plan page shows (what `plans:apply` copied from it).
 */
import { priceTerms, type StripePriceFacts } from "../../_core/plans_file.ts";
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";
import { describeFailure, type Probe } from "./probe.ts";

function describeTerms(terms: {
  unitAmount: number;
  currency: string;
  billingInterval: string;
  intervalCount: number;
}): string {
  const every = terms.intervalCount === 1
    ? terms.billingInterval
    : `${terms.intervalCount} ${terms.billingInterval}s`;
  return `${terms.unitAmount} ${terms.currency.toUpperCase()} every ${every}`;
}

/** Judges every plan's price. */
export function checkPrices(guilds: readonly ConfiguredGuild[], facts: StripeFacts): Finding[] {
  const findings: Finding[] = [];
  for (const guild of guilds) {
    for (const plan of guild.plans) {
      const label = `plan "${plan.name}" of guild "${guild.name}"`;
      const probe: Probe<StripePriceFacts> = facts.prices.get(plan.stripePriceId) ??
        { ok: false, status: null, code: null, error: "not asked" };
      if (!probe.ok) {
        if (probe.status === 401) {
          findings.push(skip("stripe.prices", `Price ${plan.stripePriceId}`, "a valid Stripe key"));
        } else if (probe.code === "resource_missing") {
          findings.push(fail(
            "stripe.prices",
            `The price ${plan.stripePriceId} of ${label} does not exist in this Stripe account`,
            "check test vs live mode of STRIPE_SECRET_KEY, or put the right price id in " +
              "supabase/plans.json and run `deno task plans:apply`",
          ));
        } else {
          findings.push(fail(
            "stripe.prices",
            `Cannot read the price ${plan.stripePriceId}: Stripe answered ${
              describeFailure(probe)
            }`,
            "run the doctor again",
          ));
        }
        continue;
      }
      const decided = priceTerms(probe.value);
      if (!decided.ok) {
        findings.push(fail(
          "stripe.prices",
          `The ${label} cannot be sold: ${decided.reason}`,
          "create an active recurring price in Stripe (Product catalog), put its id in " +
            "supabase/plans.json and run `deno task plans:apply`",
        ));
        continue;
      }
      const inStripe = {
        unitAmount: decided.terms.unit_amount,
        currency: decided.terms.currency,
        billingInterval: decided.terms.billing_interval,
        intervalCount: decided.terms.interval_count,
      };
      if (describeTerms(inStripe) !== describeTerms(plan)) {
        findings.push(fail(
          "stripe.prices",
          `The plan page shows ${describeTerms(plan)} for ${label}, but Stripe charges ` +
            describeTerms(inStripe),
          "run `deno task plans:apply` to copy the price from Stripe again",
        ));
        continue;
      }
      findings.push(pass(
        "stripe.prices",
        `The price ${plan.stripePriceId} of ${label} is active and recurring: ` +
          describeTerms(inStripe),
      ));
    }
  }
  return findings;
}
