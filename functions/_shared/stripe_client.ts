/**
 * The Stripe SDK, configured in one place: the pinned API version, the fetch HTTP client Deno
 * needs, and the base URL (tests and the local sandbox point it at the Stripe double).
 */
import Stripe from "stripe";

/**
 * The Stripe API version every request and every webhook endpoint of rolepass uses.
 * Events carry the account's version, so the webhook code also reads older shapes.
 */
export const STRIPE_API_VERSION = "2026-07-29.dahlia" as const;

/** Default for STRIPE_API_BASE_URL. */
export const STRIPE_DEFAULT_BASE_URL = "https://api.stripe.com";

/** Creates a Stripe client for `secretKey` talking to `apiBaseUrl`. */
export function createStripeClient(
  secretKey: string,
  apiBaseUrl: string = STRIPE_DEFAULT_BASE_URL,
  options: { timeoutMs?: number; maxNetworkRetries?: number } = {},
): Stripe {
  const base = new URL(apiBaseUrl);
  const protocol = base.protocol === "http:" ? "http" : "https";
  return new Stripe(secretKey, {
    // deno-lint-ignore no-explicit-any
    apiVersion: STRIPE_API_VERSION as any,
    httpClient: Stripe.createFetchHttpClient(),
    host: base.hostname,
    port: base.port || (protocol === "http" ? 80 : 443),
    protocol,
    timeout: options.timeoutMs ?? 10_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 1,
    appInfo: { name: "rolepass" },
    // The SDK otherwise sends the previous request's latency to Stripe on every request; building
    // that header costs the webhook's re-fetch, which runs under the customer's lock, for nothing.
    telemetry: false,
  });
}
