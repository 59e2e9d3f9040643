/**
 * Check: Stripe accepts STRIPE_SECRET_KEY. The first question the doctor asks Stripe (listing
 * webhook endpoints) answers this one too.
 */
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass } from "./finding.ts";
import { describeFailure } from "./probe.ts";

/** Judges the secret key from the first Stripe answer. */
export function checkStripeKey(facts: StripeFacts): Finding[] {
  const probe = facts.webhookEndpoints;
  if (probe.ok) return [pass("stripe.key", "Stripe accepts STRIPE_SECRET_KEY")];
  if (probe.status === 401) {
    return [fail(
      "stripe.key",
      "Stripe refused STRIPE_SECRET_KEY (401): the key is wrong or was rolled",
      "copy the secret key from Stripe Dashboard → Developers → API keys",
    )];
  }
  if (probe.status === 403) {
    return [fail(
      "stripe.key",
      "STRIPE_SECRET_KEY is a restricted key without read access to webhook endpoints",
      "use the secret key, or give the restricted key read access to Webhook Endpoints, " +
        "Prices and Customer portal, and write access to Customers, Checkout and Subscriptions",
    )];
  }
  return [fail(
    "stripe.key",
    `Cannot reach Stripe: ${describeFailure(probe)}`,
    "check STRIPE_API_BASE_URL and the network, then run the doctor again",
  )];
}
