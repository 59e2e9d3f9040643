/**
 * Check: a Stripe webhook endpoint points at the stripe-webhook function and sends every event
 * the function needs to keep memberships true.
 */
import type { StripeFacts } from "./stripe_facts.ts";
import { fail, type Finding, pass, skip, warn } from "./finding.ts";
import { describeFailure } from "./probe.ts";
import { STRIPE_API_VERSION, type WebhookEndpointFacts } from "../../_shared/stripe_gateway.ts";
import { HANDLED_EVENT_TYPES } from "../../_core/stripe_shapes.ts";

/** The events stripe-webhook acts on; the endpoint must send each of them (or `*`). */
export const REQUIRED_WEBHOOK_EVENTS: readonly string[] = HANDLED_EVENT_TYPES;

/** Where Stripe must send events: the stripe-webhook function under SUPABASE_URL. */
export function stripeWebhookUrl(supabaseUrl: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/functions/v1/stripe-webhook`;
}

function sameUrl(a: string, b: string): boolean {
  try {
    const left = new URL(a);
    const right = new URL(b);
    return left.origin === right.origin &&
      left.pathname.replace(/\/+$/, "") === right.pathname.replace(/\/+$/, "");
  } catch {
    return false;
  }
}

/** The required events an endpoint does not send. */
export function missingEvents(endpoint: Pick<WebhookEndpointFacts, "enabled_events">): string[] {
  const enabled = new Set(endpoint.enabled_events);
  if (enabled.has("*")) return [];
  return REQUIRED_WEBHOOK_EVENTS.filter((event) => !enabled.has(event));
}

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
  const candidates = probe.value.filter((endpoint) => sameUrl(endpoint.url, url));
  if (candidates.length === 0) {
    const elsewhere = probe.value.find((endpoint) => endpoint.url.includes("/stripe-webhook"));
    return [fail(
      "stripe.webhook",
      `No Stripe webhook endpoint points at ${url}` +
        (elsewhere ? ` (one points at ${elsewhere.url})` : ""),
      `Stripe Dashboard → Developers → Webhooks → Add endpoint: URL ${url}, events ${events}; ` +
        "then set STRIPE_WEBHOOK_SECRET to its signing secret",
    )];
  }
  const enabled = candidates.filter((endpoint) => endpoint.status === "enabled");
  if (enabled.length === 0) {
    return [fail(
      "stripe.webhook",
      `The Stripe webhook endpoint for ${url} is disabled: no event reaches rolepass`,
      "Stripe Dashboard → Developers → Webhooks → the endpoint → Enable",
    )];
  }
  const best = enabled.reduce((a, b) => missingEvents(a).length <= missingEvents(b).length ? a : b);
  const missing = missingEvents(best);
  if (missing.length) {
    return [fail(
      "stripe.webhook",
      `The Stripe webhook endpoint ${best.id} does not send ${missing.join(", ")}`,
      "Stripe Dashboard → Developers → Webhooks → the endpoint → Select events: add them",
    )];
  }
  const findings = [pass(
    "stripe.webhook",
    `The Stripe webhook endpoint ${best.id} sends every needed event to ${url}`,
  )];
  if (best.api_version && best.api_version !== STRIPE_API_VERSION) {
    findings.push(warn(
      "stripe.webhook",
      `The webhook endpoint uses API version ${best.api_version}, rolepass pins ` +
        STRIPE_API_VERSION,
      "fine (rolepass re-fetches every subscription); to match, create the endpoint with " +
        `API version ${STRIPE_API_VERSION}`,
    ));
  }
  return findings;
}
