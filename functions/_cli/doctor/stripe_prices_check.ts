/**
 * Check: each configured plan's Stripe price exists, is active, is recurring for a subscription or
 * one-time for a pass, and still has the amount and interval the plan page shows (what
 * `plans:apply` copied from it).
 */
import type { PassAccess } from "../../_core/one_time_pass.ts";
import { formatPassAccess } from "../../_core/price.ts";
import { planPriceTerms, type StripePriceFacts } from "../../_core/plans_file.ts";
import type { ConfiguredGuild } from "./configured_plans.ts";
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip } from "./finding.ts";
import { describeFailure, type Probe } from "./probe.ts";

function describeTerms(terms: {
  unitAmount: number;
  currency: string;
  billingInterval: string | null;
  intervalCount: number;
  access: PassAccess | null;
}): string {
  const amount = `${terms.unitAmount} ${terms.currency.toUpperCase()}`;
  if (terms.access) {
    const seconds = terms.access.kind === "duration" ? terms.access.seconds : null;
    const lasting = seconds === null ? "for life" : `for ${formatPassAccess(seconds, "en")}`;
    return `${amount} once, ${lasting}`;
  }
  const every = terms.intervalCount === 1
    ? terms.billingInterval
    : `${terms.intervalCount} ${terms.billingInterval}s`;
  return `${amount} every ${every}`;
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
      const decided = planPriceTerms(probe.value, {
        access: plan.access ?? undefined,
        automaticTax: guild.automaticTax,
      });
      if (!decided.ok) {
        findings.push(fail(
          "stripe.prices",
          `The ${label} cannot be sold: ${decided.problems.map((p) => p.reason).join("; ")}`,
          `create an active ${
            plan.access ? "one-time" : "recurring"
          } price in Stripe (Product catalog), put its id in supabase/plans.json and run ` +
            "`deno task plans:apply`",
        ));
        continue;
      }
      const { sale } = decided.terms;
      const inStripe = {
        unitAmount: decided.terms.unit_amount,
        currency: decided.terms.currency,
        billingInterval: sale.kind === "subscription" ? sale.billing_interval : null,
        intervalCount: sale.kind === "subscription" ? sale.interval_count : 1,
        access: sale.kind === "pass" ? sale.access : null,
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
        `The price ${plan.stripePriceId} of ${label} is active and ${
          plan.access ? "one-time" : "recurring"
        }: ${describeTerms(inStripe)}`,
      ));
    }
  }
  return findings;
}
