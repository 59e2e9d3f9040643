/**
 * `POST /v1/billing_portal/configurations` and `POST /v1/billing_portal/configurations/:id`: a
 * Customer Portal configuration of the account besides the default, as Stripe's API reference
 * describes it (https://docs.stripe.com/api/customer_portal/configurations/create). Plan switching
 * (`features.subscription_update`) lists up to 10 products, each with prices of that product that
 * are recurring; the products are kept apart, as Stripe makes them includable.
 */
import type Stripe from "stripe";
import { invalidParameter, missingParameter, resourceMissing } from "./errors.ts";
import type { FormParams } from "./form.ts";
import { newId } from "./ids.ts";
import { fromTemplate } from "./objects.ts";
import {
  type EndpointSpec,
  readBoolean,
  readList,
  readObject,
  readString,
  validateParams,
} from "./params.ts";
import type { StripeState } from "./state.ts";

const FEATURES: EndpointSpec = {
  customer_update: {
    enabled: "boolean",
    allowed_updates: { list: ["address", "email", "name", "phone", "shipping", "tax_id"] },
  },
  invoice_history: { enabled: "boolean" },
  payment_method_update: { enabled: "boolean" },
  subscription_cancel: {
    enabled: "boolean",
    mode: ["at_period_end", "immediately"],
    proration_behavior: ["always_invoice", "create_prorations", "none"],
    cancellation_reason: "any",
  },
  subscription_update: {
    enabled: "boolean",
    default_allowed_updates: { list: ["price", "promotion_code", "quantity"] },
    products: { list: { product: "string", prices: { list: "string" } } },
    proration_behavior: ["always_invoice", "create_prorations", "none"],
  },
};

const SPEC: EndpointSpec = {
  business_profile: {
    headline: "string",
    privacy_policy_url: "string",
    terms_of_service_url: "any",
  },
  default_return_url: "string",
  features: FEATURES,
  metadata: "map",
};

type UpdateProducts = { product: string; prices: string[] }[];

/** The products of `features[subscription_update][products]`, each checked against the prices. */
function readProducts(state: StripeState, update: FormParams): UpdateProducts {
  const listed = readList(update, "products");
  if (listed.length > 10) {
    throw invalidParameter(
      "features[subscription_update][products]",
      "You can specify up to 10 products.",
    );
  }
  return listed.map((item, index) => {
    const entry = (typeof item === "object" && !Array.isArray(item) ? item : {}) as FormParams;
    const at = `features[subscription_update][products][${index}]`;
    const product = readString(entry, "product");
    if (!product) throw missingParameter(`${at}[product]`);
    const prices = readList(entry, "prices").filter((p): p is string => typeof p === "string");
    if (prices.length === 0) throw missingParameter(`${at}[prices]`);
    for (const priceId of prices) {
      const price = state.prices.get(priceId);
      if (!price) throw resourceMissing("price", priceId, `${at}[prices]`);
      if (String(price.product) !== product) {
        throw invalidParameter(
          `${at}[prices]`,
          `The price ${priceId} does not belong to the product ${product}.`,
        );
      }
      if (price.type !== "recurring") {
        throw invalidParameter(
          `${at}[prices]`,
          `The price ${priceId} is not a recurring price; only recurring prices can be used ` +
            "for subscription updates.",
        );
      }
    }
    return { product, prices };
  });
}

/**
 * Creates (no `existing`) or updates a portal configuration from the request's parameters; the
 * caller emits billing_portal.configuration.created or .updated.
 */
export function savePortalConfiguration(
  state: StripeState,
  params: FormParams,
  existing?: Stripe.BillingPortal.Configuration,
): Stripe.BillingPortal.Configuration {
  validateParams(params, existing ? { ...SPEC, active: "boolean" } : SPEC);
  const features = readObject(params, "features");
  if (!existing && !features) throw missingParameter("features");
  const configuration = existing ?? Object.assign(
    fromTemplate<Stripe.BillingPortal.Configuration>("billing_portal.configuration"),
    { id: newId("bpc"), created: state.now(), livemode: false, is_default: false, active: true },
  );
  if (!existing) {
    for (const feature of Object.values(configuration.features)) {
      if (feature && typeof feature === "object" && "enabled" in feature) feature.enabled = false;
    }
    configuration.metadata = {};
  }
  const update = features && readObject(features, "subscription_update");
  const products = update && readList(update, "products").length
    ? readProducts(state, update)
    : undefined;
  for (const [name, given] of Object.entries(features ?? {})) {
    if (typeof given !== "object" || Array.isArray(given)) continue;
    const feature = configuration.features[name as keyof typeof configuration.features] as
      & Record<string, unknown>
      & { enabled: boolean };
    const enabled = readBoolean(given, "enabled");
    if (enabled !== undefined) feature.enabled = enabled;
    for (const key of ["mode", "proration_behavior"]) {
      const value = readString(given, key);
      if (value !== undefined) feature[key] = value;
    }
    for (const key of ["allowed_updates", "default_allowed_updates"]) {
      if (given[key] !== undefined) feature[key] = readList(given, key);
    }
  }
  const switching = configuration.features.subscription_update;
  const listedProducts = products ?? state.portalUpdateProducts.get(configuration.id) ?? [];
  if (switching.enabled && listedProducts.length === 0) {
    throw invalidParameter(
      "features[subscription_update][products]",
      "You must specify at least one product when subscription_update is enabled.",
    );
  }
  if (switching.enabled && switching.default_allowed_updates.length === 0) {
    throw invalidParameter(
      "features[subscription_update][default_allowed_updates]",
      "You must specify default_allowed_updates when subscription_update is enabled.",
    );
  }
  const returnUrl = readString(params, "default_return_url");
  if (returnUrl !== undefined) configuration.default_return_url = returnUrl;
  const active = readBoolean(params, "active");
  if (active !== undefined) configuration.active = active;
  if (params.metadata !== undefined) {
    configuration.metadata = Object.fromEntries(
      Object.entries(readObject(params, "metadata") ?? {}).filter(([, v]) =>
        typeof v === "string" && v !== ""
      ),
    ) as Record<string, string>;
  }
  configuration.updated = state.now();
  if (products) state.portalUpdateProducts.set(configuration.id, products);
  if (!existing) state.add(state.portalConfigurations, configuration);
  return configuration;
}
