/**
 * Check: the Stripe Customer Portal has an active default configuration. Members who already pay
 * get a portal link from /subscribe; without saved portal settings Stripe refuses to open it.
 */
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip, warn } from "./finding.ts";
import { describeFailure } from "./probe.ts";

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
  const current = probe.value.find((configuration) =>
    configuration.is_default && configuration.active
  );
  if (!current) {
    return [fail(
      "stripe.portal",
      "The Stripe Customer Portal is not configured: members could not manage or cancel",
      `${SETTINGS}: choose what members may do and Save`,
    )];
  }
  const findings = [pass(
    "stripe.portal",
    `The Stripe Customer Portal is configured (${current.id})`,
  )];
  if (!current.features.subscription_cancel.enabled) {
    findings.push(warn(
      "stripe.portal",
      "The Customer Portal does not let members cancel their subscription",
      `${SETTINGS} → Cancellations: allow customers to cancel subscriptions`,
    ));
  }
  if (!current.features.payment_method_update.enabled) {
    findings.push(warn(
      "stripe.portal",
      "The Customer Portal does not let members change their card",
      `${SETTINGS} → Payment methods: allow customers to update payment methods`,
    ));
  }
  return findings;
}
