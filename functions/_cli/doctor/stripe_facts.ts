/**
 * Thin fetchers of what Stripe says: the webhook endpoints, the Customer Portal configurations
 * and each configured price. They never throw: Stripe errors become Probes with Stripe's HTTP
 * status and error code.
 */
import type {
  PortalConfigurationFacts,
  StripeGateway,
  WebhookEndpointFacts,
} from "../../_shared/stripe_gateway.ts";
import type { StripePriceFacts } from "../../_core/plans_file.ts";
import { ask, type Probe, refused } from "./probe.ts";

/** Everything the Stripe checks judge. */
export interface StripeFacts {
  webhookEndpoints: Probe<WebhookEndpointFacts[]>;
  portalConfigurations: Probe<PortalConfigurationFacts[]>;
  /** By price id. */
  prices: Map<string, Probe<StripePriceFacts>>;
}

/** Lists the webhook endpoints and portal configurations and retrieves each price. */
export async function fetchStripeFacts(
  stripe: StripeGateway,
  priceIds: readonly string[],
): Promise<StripeFacts> {
  const webhookEndpoints = await ask(() => stripe.listWebhookEndpoints());
  if (!webhookEndpoints.ok && webhookEndpoints.status === 401) {
    const notAsked = refused<never>(401, null, "not asked: the secret key was refused");
    return {
      webhookEndpoints,
      portalConfigurations: notAsked,
      prices: new Map(priceIds.map((id) => [id, notAsked])),
    };
  }
  const portalConfigurations = await ask(() => stripe.listPortalConfigurations());
  const prices = new Map<string, Probe<StripePriceFacts>>();
  for (const id of new Set(priceIds)) {
    prices.set(id, await ask(() => stripe.retrievePrice(id)));
  }
  return { webhookEndpoints, portalConfigurations, prices };
}
