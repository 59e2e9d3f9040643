/**
 * Check: a Stripe webhook endpoint points at the stripe-webhook function and sends every event
 * the function needs to keep memberships true.
 */
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip, warn } from "./finding.ts";
import { describeFailure } from "./probe.ts";
import { STRIPE_API_VERSION } from "../../_shared/stripe_gateway.ts";
import {
  judgeWebhookEndpoints,
  REQUIRED_WEBHOOK_EVENTS,
  stripeWebhookUrl,
} from "../../_core/health.ts";

export { missingEvents, REQUIRED_WEBHOOK_EVENTS, stripeWebhookUrl } from "../../_core/health.ts";

/** Judges the webhook endpoints against the expected URL. */
export function checkWebhookEndpoint(facts: StripeFacts, supabaseUrl: string): Finding[] {
  const probe = facts.webhookEndpoints;
  if (!probe.ok) {
    if (probe.status === 401 || probe.status === 403) {
      return [skip("stripe.webhook", "Stripe webhook endpoint", "a Stripe key that may read it")];
    }
    return [fail(
      "stripe.webhook",
      `Cannot list Stripe webhook endpoints: ${describeFailure(probe)}`,
      "run the doctor again",
    )];
  }
  const url = stripeWebhookUrl(supabaseUrl);
  const events = REQUIRED_WEBHOOK_EVENTS.join(", ");
  const verdict = judgeWebhookEndpoints(probe.value, url);
  if (verdict.kind === "none") {
    return [fail(
      "stripe.webhook",
      `No Stripe webhook endpoint points at ${url}` +
        (verdict.elsewhere ? ` (one points at ${verdict.elsewhere})` : ""),
      `Stripe Dashboard → Developers → Webhooks → Add endpoint: URL ${url}, events ${events}; ` +
        "then set STRIPE_WEBHOOK_SECRET to its signing secret",
    )];
  }
  if (verdict.kind === "disabled") {
    return [fail(
      "stripe.webhook",
      `The Stripe webhook endpoint for ${url} is disabled: no event reaches rolepass`,
      "Stripe Dashboard → Developers → Webhooks → the endpoint → Enable",
    )];
  }
  if (verdict.kind === "missing_events") {
    return [fail(
      "stripe.webhook",
      `The Stripe webhook endpoint ${verdict.endpointId} does not send ${
        verdict.missing.join(", ")
      }`,
      "Stripe Dashboard → Developers → Webhooks → the endpoint → Select events: add them",
    )];
  }
  const findings = [pass(
    "stripe.webhook",
    `The Stripe webhook endpoint ${verdict.endpointId} sends every needed event to ${url}`,
  )];
  if (verdict.apiVersion && verdict.apiVersion !== STRIPE_API_VERSION) {
    findings.push(warn(
      "stripe.webhook",
      `The webhook endpoint uses API version ${verdict.apiVersion}, rolepass pins ` +
        STRIPE_API_VERSION,
      "fine (rolepass re-fetches every subscription); to match, create the endpoint with " +
        `API version ${STRIPE_API_VERSION}`,
    ));
  }
  return findings;
}
