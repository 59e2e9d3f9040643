/**
 * The Stripe v1 endpoints rolepass uses, served from the double's state with Stripe's parameter
 * rules and error bodies. Handlers receive the parsed parameters and the request's id and
 * idempotency key through Hono's bindings (set by server.ts).
 */
import { type Context, Hono } from "hono";
import type Stripe from "stripe";
import type { Billing } from "./billing.ts";
import { billingModeOf } from "./billing.ts";
import {
  invalidParameter,
  invalidRequest,
  missingParameter,
  resourceMissing,
  StripeApiError,
  unrecognizedUrl,
} from "./errors.ts";
import type { EventLog, EventRequest } from "./events.ts";
import { expand } from "./expand.ts";
import type { FormParams } from "./form.ts";
import { newId } from "./ids.ts";
import { fromTemplate, periodOf } from "./objects.ts";
import { savePortalConfiguration } from "./portal_configurations.ts";
import { checkoutSellingParams } from "./selling.ts";
import {
  checkMetadata,
  type EndpointSpec,
  mergeMetadata,
  readBoolean,
  readExpand,
  readInteger,
  readList,
  readObject,
  readString,
  validateParams,
} from "./params.ts";
import type { DestinationCharge, StoredObject, StripeState, SubscriptionTrial } from "./state.ts";

/** What server.ts passes to every API handler. */
export interface ApiBindings {
  params: FormParams;
  request: EventRequest;
}

/** The context of a `/v1` request in the double's Hono apps. */
export type ApiContext = Context<{ Bindings: ApiBindings }>;

/** Response header marking errors that must not be saved under an idempotency key. */
export const NOT_SAVED_HEADER = "x-double-not-idempotent";

/**
 * Stripe's answer to a refused request, as `{ error }` with the error's status.
 * @param requestId the `request-id` header, when the answer leaves before the app sets it
 */
export function errorResponse(error: StripeApiError, requestId?: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (requestId) headers["request-id"] = requestId;
  if (!error.storedForIdempotency) headers[NOT_SAVED_HEADER] = "1";
  return new Response(JSON.stringify({ error: error.body }, null, 2), {
    status: error.status,
    headers,
  });
}

/** Locales Checkout and the portal accept (https://docs.stripe.com/api/checkout/sessions/create). */
const LOCALES = [
  "auto",
  "bg",
  "cs",
  "da",
  "de",
  "el",
  "en",
  "en-GB",
  "es",
  "es-419",
  "et",
  "fi",
  "fil",
  "fr",
  "fr-CA",
  "hr",
  "hu",
  "id",
  "it",
  "ja",
  "ko",
  "lt",
  "lv",
  "ms",
  "mt",
  "nb",
  "nl",
  "pl",
  "pt",
  "pt-BR",
  "ro",
  "ru",
  "sk",
  "sl",
  "sv",
  "th",
  "tr",
  "vi",
  "zh",
  "zh-HK",
  "zh-TW",
] as const;

const ADDRESS: EndpointSpec = {
  line1: "string",
  line2: "string",
  city: "string",
  state: "string",
  postal_code: "string",
  country: "string",
};

const CUSTOMER_FIELDS: EndpointSpec = {
  address: ADDRESS,
  balance: "integer",
  business_name: "string",
  cash_balance: "any",
  description: "string",
  email: "string",
  individual_name: "string",
  invoice_prefix: "string",
  invoice_settings: "any",
  metadata: "map",
  name: "string",
  next_invoice_sequence: "integer",
  payment_method: "string",
  phone: "string",
  preferred_locales: { list: "string" },
  shipping: "any",
  source: "string",
  tax: "any",
  tax_exempt: ["none", "exempt", "reverse"],
  validate: "boolean",
};

const PAGINATION: EndpointSpec = {
  limit: "integer",
  starting_after: "string",
  ending_before: "string",
  created: "any",
};

const CHECKOUT_CREATE: EndpointSpec = {
  adaptive_pricing: "any",
  after_expiration: "any",
  allow_promotion_codes: "boolean",
  automatic_tax: { enabled: "boolean", liability: "any" },
  billing_address_collection: ["auto", "required"],
  branding_settings: "any",
  cancel_url: "string",
  client_reference_id: "string",
  consent_collection: "any",
  currency: "string",
  custom_fields: "any",
  custom_text: "any",
  customer: "string",
  customer_account: "string",
  customer_creation: ["always", "if_required"],
  customer_email: "string",
  customer_update: {
    address: ["auto", "never"],
    name: ["auto", "never"],
    shipping: ["auto", "never"],
  },
  discounts: "any",
  expires_at: "integer",
  invoice_creation: "any",
  line_items: {
    list: {
      adjustable_quantity: "any",
      dynamic_tax_rates: { list: "string" },
      price: "string",
      price_data: "any",
      quantity: "integer",
      tax_rates: { list: "string" },
    },
  },
  locale: LOCALES,
  metadata: "map",
  mode: ["payment", "setup", "subscription"],
  name_collection: "any",
  optional_items: "any",
  origin_context: ["mobile_app", "web"],
  payment_intent_data: "any",
  payment_method_collection: ["always", "if_required"],
  payment_method_configuration: "string",
  payment_method_data: "any",
  payment_method_options: "any",
  payment_method_types: { list: "string" },
  permissions: "any",
  phone_number_collection: { enabled: "boolean" },
  redirect_on_completion: ["always", "if_required", "never"],
  return_url: "string",
  saved_payment_method_options: "any",
  setup_intent_data: "any",
  shipping_address_collection: "any",
  shipping_options: "any",
  submit_type: ["auto", "book", "donate", "pay", "subscribe"],
  success_url: "string",
  subscription_data: {
    application_fee_percent: "any",
    billing_cycle_anchor: "integer",
    billing_mode: { type: ["classic", "flexible"], flexible: "any" },
    default_tax_rates: { list: "string" },
    description: "string",
    invoice_settings: "any",
    metadata: "map",
    on_behalf_of: "string",
    proration_behavior: ["create_prorations", "none"],
    transfer_data: { amount_percent: "any", destination: "string" },
    trial_end: "integer",
    trial_period_days: "integer",
    trial_settings: {
      end_behavior: { missing_payment_method: ["cancel", "create_invoice", "pause"] },
    },
    pending_invoice_item_interval: "any",
  },
  tax_id_collection: { enabled: "boolean", required: ["if_supported", "never"] },
  ui_mode: ["hosted", "embedded", "custom"],
  wallet_options: "any",
};

const SUBSCRIPTION_UPDATE = {
  cancel_at: "string",
  cancel_at_period_end: "boolean",
  cancellation_details: {
    comment: "string",
    feedback: [
      "customer_service",
      "low_quality",
      "missing_features",
      "other",
      "switched_service",
      "too_complex",
      "too_expensive",
      "unused",
    ],
  },
  default_payment_method: "string",
  description: "string",
  items: { list: { id: "string", price: "string" } },
  metadata: "map",
  pause_collection: {
    behavior: ["keep_as_draft", "mark_uncollectible", "void"],
    resumes_at: "integer",
  },
  proration_behavior: ["always_invoice", "create_prorations", "none"],
} satisfies EndpointSpec;

/** Newest-first page of `items` per Stripe's cursor parameters. */
function paginate<T extends StoredObject>(
  state: StripeState,
  items: T[],
  params: FormParams,
  url: string,
): Stripe.ApiList<T> {
  const limit = readInteger(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidParameter(
      "limit",
      limit < 1
        ? "This value must be greater than or equal to 1."
        : "This value must be less than or equal to 100.",
      "parameter_invalid_integer",
    );
  }
  let sorted = [...items].sort((a, b) => state.orderOf(b.id) - state.orderOf(a.id));
  const after = readString(params, "starting_after");
  const before = readString(params, "ending_before");
  if (after) {
    const index = sorted.findIndex((item) => item.id === after);
    if (index === -1) throw resourceMissing("object", after, "starting_after");
    sorted = sorted.slice(index + 1);
  } else if (before) {
    const index = sorted.findIndex((item) => item.id === before);
    if (index === -1) throw resourceMissing("object", before, "ending_before");
    sorted = sorted.slice(Math.max(0, index - limit), index);
    return { object: "list", data: sorted, has_more: index - limit > 0, url };
  }
  return {
    object: "list",
    data: sorted.slice(0, limit),
    has_more: sorted.length > limit,
    url,
  };
}

/** How long Stripe keeps events: `GET /v1/events` lists the last 30 days. */
export const EVENT_RETENTION_SECONDS = 30 * 86_400;

/**
 * The `created` filter of a list: a Unix time (exact match) or `created[gt|gte|lt|lte]`, as a
 * predicate on an object's `created`.
 */
function readCreatedRange(params: FormParams): (created: number) => boolean {
  const value = params.created;
  if (value === undefined || value === "") return () => true;
  const asTime = (raw: unknown, name: string) => {
    const time = typeof raw === "string" && /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(time)) {
      throw invalidParameter(name, "Invalid integer: " + String(raw), "parameter_invalid_integer");
    }
    return time;
  };
  if (typeof value === "string") {
    const exact = asTime(value, "created");
    return (created) => created === exact;
  }
  const range = readObject(params, "created");
  if (!range) throw invalidParameter("created", "Invalid timestamp", "parameter_invalid_integer");
  const bounds: ((created: number) => boolean)[] = [];
  for (const [key, raw] of Object.entries(range)) {
    const time = asTime(raw, `created[${key}]`);
    if (key === "gt") bounds.push((created) => created > time);
    else if (key === "gte") bounds.push((created) => created >= time);
    else if (key === "lt") bounds.push((created) => created < time);
    else if (key === "lte") bounds.push((created) => created <= time);
    else throw invalidParameter(`created[${key}]`, `Received unknown parameter: created[${key}]`);
  }
  return (created) => bounds.every((inBound) => inBound(created));
}

/** A 200 answer with `object` as Stripe's pretty-printed JSON. */
export function json(c: ApiContext, object: unknown): Response {
  return c.newResponse(JSON.stringify(object, null, 2), 200, {
    "content-type": "application/json",
  });
}

/**
 * Builds the Hono app that serves `/v1/...`.
 *
 * @param deps the account state, its event log and billing engine.
 */
export function createApiApp(
  deps: { state: StripeState; events: EventLog; billing: Billing },
): Hono<{ Bindings: ApiBindings }> {
  const { state, events, billing } = deps;
  const app = new Hono<{ Bindings: ApiBindings }>();

  const respond = <T>(c: ApiContext, object: T) =>
    json(c, expand(state, object, readExpand(c.env.params)));

  const get = <T>(map: Map<string, T>, noun: string, id: string): T => {
    const object = map.get(id);
    if (!object) throw resourceMissing(noun, id);
    return object;
  };

  const retrieve = <T>(path: string, map: () => Map<string, T>, noun: string, spec = {}) => {
    app.get(path, (c) => {
      validateParams(c.env.params, spec);
      return respond(c, get(map(), noun, c.req.param("id")!));
    });
  };

  // Customers
  app.post("/v1/customers", (c) => {
    const { params } = c.env;
    validateParams(params, { ...CUSTOMER_FIELDS, test_clock: "string" });
    checkMetadata(params.metadata);
    const customer = billing.createCustomer({
      email: readString(params, "email"),
      name: readString(params, "name"),
      description: readString(params, "description"),
      phone: readString(params, "phone"),
      metadata: mergeMetadata({}, params.metadata),
      preferred_locales: readList(params, "preferred_locales").map(String),
    }, c.env.request);
    return respond(c, customer);
  });
  app.get("/v1/customers", (c) => {
    const { params } = c.env;
    validateParams(params, { ...PAGINATION, email: "string", test_clock: "string" });
    const email = readString(params, "email");
    const customers = [...state.customers.values()].filter((cu) => !email || cu.email === email);
    return respond(c, paginate(state, customers, params, "/v1/customers"));
  });
  retrieve("/v1/customers/:id", () => state.customers, "customer");
  app.post("/v1/customers/:id", (c) => {
    const { params } = c.env;
    const customer = get(state.customers, "customer", c.req.param("id"));
    validateParams(params, { ...CUSTOMER_FIELDS, default_source: "string" });
    checkMetadata(params.metadata);
    const before = structuredClone(customer);
    for (const key of ["email", "name", "description", "phone"] as const) {
      if (params[key] !== undefined) customer[key] = readString(params, key) ?? null;
    }
    if (params.preferred_locales !== undefined) {
      customer.preferred_locales = readList(params, "preferred_locales").map(String);
    }
    customer.metadata = mergeMetadata(customer.metadata, params.metadata);
    if (JSON.stringify(before) !== JSON.stringify(customer)) {
      events.emit("customer.updated", customer, before, c.env.request);
    }
    return respond(c, customer);
  });

  // Prices
  retrieve("/v1/prices/:id", () => state.prices, "price");
  // Coupons and promotion codes (created in the Dashboard; the double's control creates them)
  retrieve("/v1/coupons/:id", () => state.coupons, "coupon");
  app.get("/v1/promotion_codes", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      active: "boolean",
      code: "string",
      coupon: "string",
      customer: "string",
      customer_account: "string",
    });
    const code = readString(params, "code");
    const coupon = readString(params, "coupon");
    const active = readBoolean(params, "active");
    const codes = [...state.promotionCodes.values()].filter((p) =>
      (!code || p.code === code) && (!coupon || p.promotion.coupon === coupon) &&
      (active === undefined || p.active === active)
    );
    return respond(c, paginate(state, codes, params, "/v1/promotion_codes"));
  });
  retrieve("/v1/promotion_codes/:id", () => state.promotionCodes, "promotion_code");
  // Checkout
  app.post("/v1/checkout/sessions", (c) => {
    const { params } = c.env;
    validateParams(params, CHECKOUT_CREATE, ["mode"]);
    return respond(c, createCheckoutSession(state, params));
  });
  app.get("/v1/checkout/sessions", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      customer: "string",
      customer_details: "any",
      payment_intent: "string",
      payment_link: "string",
      status: ["complete", "expired", "open"],
      subscription: "string",
    });
    const filters = ["customer", "subscription", "status", "payment_intent"] as const;
    const sessions = [...state.checkoutSessions.values()].filter((s) =>
      filters.every((key) => !readString(params, key) || s[key] === readString(params, key))
    );
    return respond(c, paginate(state, sessions, params, "/v1/checkout/sessions"));
  });
  retrieve("/v1/checkout/sessions/:id", () => state.checkoutSessions, "checkout.session");
  app.post("/v1/checkout/sessions/:id/expire", (c) => {
    validateParams(c.env.params, {});
    get(state.checkoutSessions, "checkout.session", c.req.param("id"));
    return respond(c, billing.expireCheckout(c.req.param("id"), c.env.request));
  });

  // Billing portal
  app.post("/v1/billing_portal/sessions", (c) => {
    const { params } = c.env;
    validateParams(params, {
      configuration: "string",
      customer: "string",
      customer_account: "string",
      flow_data: "any",
      locale: LOCALES,
      on_behalf_of: "string",
      return_url: "string",
    }, ["customer"]);
    const session = createPortalSession(state, params);
    events.emit("billing_portal.session.created", session, undefined, c.env.request);
    return respond(c, session);
  });
  app.get("/v1/billing_portal/configurations", (c) => {
    const { params } = c.env;
    validateParams(params, { ...PAGINATION, active: "boolean", is_default: "boolean" });
    const configurations = state.portalConfigured ? [...state.portalConfigurations.values()] : [];
    const page = paginate(state, configurations, params, "/v1/billing_portal/configurations");
    // `features.subscription_update.products` is includable: present only when expanded.
    if (readExpand(params).includes("data.features.subscription_update.products")) {
      page.data = page.data.map((configuration) => {
        const copy = structuredClone(configuration);
        Object.assign(copy.features.subscription_update, {
          products: structuredClone(state.portalUpdateProducts.get(configuration.id) ?? []),
        });
        return copy;
      });
    }
    return respond(c, page);
  });
  app.post("/v1/billing_portal/configurations", (c) => {
    const configuration = savePortalConfiguration(state, c.env.params);
    events.emit("billing_portal.configuration.created", configuration, undefined, c.env.request);
    return respond(c, configuration);
  });
  app.post("/v1/billing_portal/configurations/:id", (c) => {
    const existing = get(state.portalConfigurations, "configuration", c.req.param("id"));
    const before = structuredClone(existing);
    const configuration = savePortalConfiguration(state, c.env.params, existing);
    events.emit("billing_portal.configuration.updated", configuration, before, c.env.request);
    return respond(c, configuration);
  });
  retrieve(
    "/v1/billing_portal/configurations/:id",
    () => state.portalConfigurations,
    "configuration",
  );

  // Subscriptions
  app.get("/v1/subscriptions", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      automatic_tax: "any",
      collection_method: ["charge_automatically", "send_invoice"],
      current_period_end: "any",
      current_period_start: "any",
      customer: "string",
      customer_account: "string",
      price: "string",
      status: [
        "active",
        "all",
        "canceled",
        "ended",
        "incomplete",
        "incomplete_expired",
        "past_due",
        "paused",
        "trialing",
        "unpaid",
      ],
      test_clock: "string",
    });
    const customer = readString(params, "customer");
    const price = readString(params, "price");
    const status = readString(params, "status");
    const subscriptions = [...state.subscriptions.values()].filter((s) =>
      (!customer || s.customer === customer) &&
      (!price || s.items.data.some((item) => item.price.id === price)) &&
      (status === "all" ||
        (status === undefined && s.status !== "canceled") ||
        (status === "ended" && (s.status === "canceled" || s.status === "incomplete_expired")) ||
        s.status === status)
    );
    return respond(c, paginate(state, subscriptions, params, "/v1/subscriptions"));
  });
  retrieve("/v1/subscriptions/:id", () => state.subscriptions, "subscription");
  app.post("/v1/subscriptions/:id", (c) => {
    const { params } = c.env;
    const subscription = get(state.subscriptions, "subscription", c.req.param("id"));
    validateParams(params, SUBSCRIPTION_UPDATE);
    checkMetadata(params.metadata);
    const before = structuredClone(subscription);
    const afterUpdate = updateSubscription(state, billing, subscription, params);
    if (JSON.stringify(before) !== JSON.stringify(subscription)) {
      events.emit("customer.subscription.updated", subscription, before, c.env.request);
    }
    afterUpdate();
    return respond(c, subscription);
  });
  app.delete("/v1/subscriptions/:id", (c) => {
    const { params } = c.env;
    get(state.subscriptions, "subscription", c.req.param("id"));
    validateParams(params, {
      cancellation_details: SUBSCRIPTION_UPDATE.cancellation_details,
      invoice_now: "boolean",
      prorate: "boolean",
    });
    const details = readObject(params, "cancellation_details") ?? {};
    const subscription = billing.cancelNow(c.req.param("id"), c.env.request, {
      comment: readString(details, "comment"),
      feedback: readString(details, "feedback"),
    });
    return respond(c, subscription);
  });

  // Invoices and payments
  retrieve("/v1/invoices/:id", () => state.invoices, "invoice");
  app.get("/v1/invoices", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      collection_method: ["charge_automatically", "send_invoice"],
      customer: "string",
      customer_account: "string",
      due_date: "any",
      status: ["draft", "open", "paid", "uncollectible", "void"],
      subscription: "string",
    });
    const customer = readString(params, "customer");
    const subscription = readString(params, "subscription");
    const status = readString(params, "status");
    const invoices = [...state.invoices.values()].filter((i) =>
      (!customer || i.customer === customer) &&
      (!subscription || i.parent?.subscription_details?.subscription === subscription) &&
      (!status || i.status === status)
    );
    return respond(c, paginate(state, invoices, params, "/v1/invoices"));
  });
  app.get("/v1/invoice_payments", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      invoice: "string",
      payment: {
        payment_intent: "string",
        payment_record: "string",
        type: ["payment_intent", "payment_record"],
      },
      status: ["canceled", "open", "paid"],
    });
    const invoice = readString(params, "invoice");
    const paymentIntent = readString(readObject(params, "payment") ?? {}, "payment_intent");
    const status = readString(params, "status");
    const payments = [...state.invoicePayments.values()].filter((p) =>
      (!invoice || p.invoice === invoice) &&
      (!paymentIntent || p.payment.payment_intent === paymentIntent) &&
      (!status || p.status === status)
    );
    return respond(c, paginate(state, payments, params, "/v1/invoice_payments"));
  });
  retrieve("/v1/charges/:id", () => state.charges, "charge");
  retrieve("/v1/payment_intents/:id", () => state.paymentIntents, "payment_intent", {
    client_secret: "string",
  });
  retrieve("/v1/refunds/:id", () => state.refunds, "refund");
  app.get("/v1/refunds", (c) => {
    const { params } = c.env;
    validateParams(params, { ...PAGINATION, charge: "string", payment_intent: "string" });
    const charge = readString(params, "charge");
    const paymentIntent = readString(params, "payment_intent");
    const refunds = [...state.refunds.values()].filter((r) =>
      (!charge || r.charge === charge) && (!paymentIntent || r.payment_intent === paymentIntent)
    );
    return respond(c, paginate(state, refunds, params, "/v1/refunds"));
  });
  app.post("/v1/refunds", (c) => {
    const { params } = c.env;
    validateParams(params, {
      amount: "integer",
      charge: "string",
      instructions_email: "string",
      metadata: "map",
      origin: ["customer_balance"],
      payment_intent: "string",
      reason: ["duplicate", "fraudulent", "requested_by_customer"],
      refund_application_fee: "boolean",
      reverse_transfer: "boolean",
    });
    checkMetadata(params.metadata);
    const paymentIntentId = readString(params, "payment_intent");
    const chargeId = readString(params, "charge") ??
      (paymentIntentId
        ? String(get(state.paymentIntents, "payment_intent", paymentIntentId).latest_charge)
        : undefined);
    if (!chargeId) throw missingParameter("charge");
    const { refund } = billing.refundCharge(chargeId, {
      amount: readInteger(params, "amount"),
      reason: readString(params, "reason"),
      metadata: mergeMetadata({}, params.metadata),
      connect: {
        reverseTransfer: readBoolean(params, "reverse_transfer") ?? false,
        refundApplicationFee: readBoolean(params, "refund_application_fee") ?? false,
      },
    }, c.env.request);
    return respond(c, refund);
  });
  retrieve("/v1/disputes/:id", () => state.disputes, "dispute");
  app.get("/v1/disputes", (c) => {
    const { params } = c.env;
    validateParams(params, { ...PAGINATION, charge: "string", payment_intent: "string" });
    const charge = readString(params, "charge");
    const paymentIntent = readString(params, "payment_intent");
    const disputes = [...state.disputes.values()].filter((d) =>
      (!charge || d.charge === charge) && (!paymentIntent || d.payment_intent === paymentIntent)
    );
    return respond(c, paginate(state, disputes, params, "/v1/disputes"));
  });

  // Webhook endpoints and events
  app.get("/v1/webhook_endpoints", (c) => {
    const { params } = c.env;
    validateParams(params, PAGINATION);
    return respond(
      c,
      paginate(state, [...state.webhookEndpoints.values()], params, "/v1/webhook_endpoints"),
    );
  });
  app.get("/v1/events", (c) => {
    const { params } = c.env;
    validateParams(params, {
      ...PAGINATION,
      delivery_success: "boolean",
      type: "string",
      types: { list: "string" },
    });
    const type = readString(params, "type");
    const types = readList(params, "types").map(String);
    const matchesType = (t: string) =>
      (!type || (type.endsWith("*") ? t.startsWith(type.slice(0, -1)) : t === type)) &&
      (types.length === 0 || types.includes(t));
    const created = readCreatedRange(params);
    // Stripe lists events of the last 30 days only (https://docs.stripe.com/api/events/list).
    const oldest = state.now() - EVENT_RETENTION_SECONDS;
    const selected = events.events.filter((e) =>
      e.created >= oldest && created(e.created) && matchesType(e.type)
    );
    return respond(c, paginate(state, selected, params, "/v1/events"));
  });
  app.get("/v1/events/:id", (c) => {
    validateParams(c.env.params, {});
    const event = events.get(c.req.param("id"));
    if (!event) throw resourceMissing("event", c.req.param("id"));
    return respond(c, event);
  });

  app.notFound((c) => {
    throw unrecognizedUrl(c.req.method, new URL(c.req.url).pathname);
  });
  app.onError((error) => {
    if (!(error instanceof StripeApiError)) throw error;
    return errorResponse(error);
  });
  return app;
}

function createCheckoutSession(state: StripeState, params: FormParams): Stripe.Checkout.Session {
  const mode = readString(params, "mode") as Stripe.Checkout.Session.Mode;
  const uiMode = readString(params, "ui_mode") ?? "hosted";
  const lineItems = readList(params, "line_items");
  if (mode !== "setup" && lineItems.length === 0) throw missingParameter("line_items");
  const resolved = lineItems.map((raw, index) => {
    const item = (typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as FormParams;
    const priceId = readString(item, "price");
    if (!priceId) {
      if (item.price_data !== undefined) {
        throw invalidRequest("The Stripe double does not support line_items[][price_data].");
      }
      throw missingParameter(`line_items[${index}][price]`);
    }
    const quantity = readInteger(item, "quantity");
    if (quantity === undefined) throw missingParameter(`line_items[${index}][quantity]`);
    const price = state.prices.get(priceId);
    if (!price) throw resourceMissing("price", priceId, `line_items[${index}][price]`);
    if (mode === "payment" && price.type === "recurring") {
      throw invalidParameter(
        `line_items[${index}][price]`,
        "You specified `payment` mode but passed a recurring price. Either switch to " +
          "`subscription` mode or use only one-time prices.",
        "parameter_invalid_string",
      );
    }
    return {
      id: newId("li"),
      price: priceId,
      quantity,
      unitAmount: price.unit_amount ?? 0,
      price$: price,
    };
  });
  if (mode === "subscription" && !resolved.some((r) => r.price$.type === "recurring")) {
    throw invalidRequest(
      "You must provide at least one recurring price in `subscription` mode when using prices.",
      "line_items",
    );
  }
  if (uiMode === "hosted") {
    if (!readString(params, "success_url")) throw missingParameter("success_url");
    if (readString(params, "return_url")) {
      throw invalidParameter(
        "return_url",
        "`return_url` can only be used with ui_mode `embedded` or `custom`.",
      );
    }
  } else {
    if (readString(params, "success_url")) {
      throw invalidParameter(
        "success_url",
        `\`success_url\` cannot be used with ui_mode \`${uiMode}\`.`,
      );
    }
    if (
      !readString(params, "return_url") && readString(params, "redirect_on_completion") !== "never"
    ) {
      throw missingParameter("return_url");
    }
  }
  const customerId = readString(params, "customer");
  if (customerId && readString(params, "customer_email")) {
    throw invalidRequest("You may only specify one of these parameters: customer, customer_email.");
  }
  if (customerId && !state.customers.has(customerId)) {
    throw resourceMissing("customer", customerId, "customer");
  }
  if (mode === "subscription" && params.customer_creation !== undefined) {
    throw invalidParameter(
      "customer_creation",
      "`customer_creation` can only be used in `payment` mode.",
    );
  }
  checkMetadata(params.metadata);
  const subscriptionData = readObject(params, "subscription_data") ?? {};
  if (mode !== "subscription" && params.subscription_data !== undefined) {
    throw invalidParameter(
      "subscription_data",
      "You can only specify `subscription_data` in `subscription` mode.",
    );
  }
  checkMetadata(subscriptionData.metadata, "subscription_data[metadata]");
  const now = state.now();
  const expiresAt = readInteger(params, "expires_at") ?? now + 86_400;
  if (expiresAt < now + 1_800 || expiresAt > now + 86_400) {
    throw invalidParameter(
      "expires_at",
      "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
      "parameter_invalid_integer",
    );
  }
  const connectParams = destinationChargeOf(subscriptionData);
  if (connectParams) {
    if (!state.connectedMoney) {
      throw invalidRequest(
        "Only Stripe Connect platforms can work with other accounts.",
        "subscription_data",
      );
    }
    state.connectedMoney.checkDestination(connectParams);
  }
  const id = newId("cs_test");
  const total = resolved.reduce((sum, r) => sum + r.unitAmount * r.quantity, 0);
  const customer = customerId ? state.customers.get(customerId) : undefined;
  const selling = checkoutSellingParams(state, params, {
    mode,
    customer,
    currency: resolved[0]?.price$.currency ?? null,
    amount: total,
  });
  const session = fromTemplate<Stripe.Checkout.Session>("checkout.session");
  Object.assign(session, {
    id,
    created: now,
    expires_at: expiresAt,
    mode,
    ui_mode: uiMode,
    status: "open",
    payment_status: mode === "setup" ? "no_payment_required" : "unpaid",
    url: uiMode === "hosted" ? `${state.baseUrl}/__double/checkout/${id}` : null,
    client_secret: uiMode === "hosted" ? null : `${id}_secret_${newId("x").slice(3)}`,
    success_url: readString(params, "success_url") ?? null,
    cancel_url: readString(params, "cancel_url") ?? null,
    return_url: readString(params, "return_url"),
    customer: customerId ?? null,
    customer_email: readString(params, "customer_email") ?? null,
    customer_creation: customerId ? null : mode === "payment" ? "if_required" : "always",
    customer_details: customer
      ? {
        address: null,
        email: customer.email,
        name: customer.name,
        phone: null,
        tax_exempt: "none",
        tax_ids: [],
        business_name: null,
        individual_name: null,
      }
      : null,
    client_reference_id: readString(params, "client_reference_id") ?? null,
    metadata: mergeMetadata({}, params.metadata),
    locale: readString(params, "locale") ?? null,
    billing_address_collection: readString(params, "billing_address_collection") ?? null,
    currency: resolved[0]?.price$.currency ?? null,
    amount_subtotal: total,
    amount_total: total,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    payment_intent: null,
    subscription: null,
    invoice: null,
    after_expiration: null,
    consent: null,
    consent_collection: null,
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    collected_information: null,
    currency_conversion: null,
    payment_method_configuration_details: null,
    payment_method_types: readList(params, "payment_method_types").map(String).length
      ? readList(params, "payment_method_types").map(String)
      : ["card"],
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    managed_payments: null,
    adaptive_pricing: null,
    phone_number_collection: {
      enabled: readBoolean(readObject(params, "phone_number_collection") ?? {}, "enabled") ?? false,
    },
    automatic_tax: {
      enabled: readBoolean(readObject(params, "automatic_tax") ?? {}, "enabled") ?? false,
      liability: null,
      status: null,
      provider: null,
    },
    ...selling.session,
  });
  state.add(state.checkoutSessions, session);
  const billingMode = readString(readObject(subscriptionData, "billing_mode") ?? {}, "type");
  const destinationCharge = destinationChargeOf(subscriptionData);
  const trial = trialOf(subscriptionData);
  const paymentMethodCollection = readString(params, "payment_method_collection");
  if (paymentMethodCollection && mode !== "subscription") {
    throw invalidParameter(
      "payment_method_collection",
      "`payment_method_collection` can only be used in `subscription` mode.",
    );
  }
  state.checkoutRequests.set(id, {
    ...(destinationCharge ? { destinationCharge } : {}),
    ...(trial ? { trial } : {}),
    ...(paymentMethodCollection === "if_required" ? { paymentMethodCollection } : {}),
    lineItems: resolved.map(({ id, price, quantity }) => ({ id, price, quantity })),
    subscriptionMetadata: mergeMetadata({}, subscriptionData.metadata),
    subscriptionDescription: readString(subscriptionData, "description") ?? null,
    ...selling.request,
    billingMode: billingMode === "classic" || billingMode === "flexible" ? billingMode : null,
  });
  return session;
}

/**
 * A free trial from Checkout's `subscription_data`: `trial_period_days` (1 to 730, as Stripe
 * allows) with `trial_settings[end_behavior][missing_payment_method]` (default `create_invoice`).
 */
function trialOf(subscriptionData: FormParams): SubscriptionTrial | null {
  const days = readInteger(subscriptionData, "trial_period_days");
  if (days === undefined) return null;
  if (days < 1 || days > 730) {
    throw invalidParameter(
      "subscription_data[trial_period_days]",
      "The maximum number of trial period days is 730 (2 years).",
      "parameter_invalid_integer",
    );
  }
  const endBehavior = readObject(
    readObject(subscriptionData, "trial_settings") ?? {},
    "end_behavior",
  );
  const missing = readString(endBehavior ?? {}, "missing_payment_method");
  return {
    days,
    missingPaymentMethod: missing === "cancel" || missing === "pause" ? missing : "create_invoice",
  };
}

/** Connect's part of Checkout's `subscription_data`, or null when it has none. */
function destinationChargeOf(subscriptionData: FormParams): DestinationCharge | null {
  const destination = readString(
    readObject(subscriptionData, "transfer_data") ?? {},
    "destination",
  );
  const onBehalfOf = readString(subscriptionData, "on_behalf_of");
  const percent = readString(subscriptionData, "application_fee_percent");
  if (!destination && !onBehalfOf && percent === undefined) return null;
  return {
    destination: destination ?? null,
    onBehalfOf: onBehalfOf ?? null,
    applicationFeePercent: percent === undefined ? null : Number(percent),
  };
}

function createPortalSession(
  state: StripeState,
  params: FormParams,
): Stripe.BillingPortal.Session {
  const customerId = readString(params, "customer")!;
  if (!state.customers.has(customerId)) throw resourceMissing("customer", customerId, "customer");
  const configurationId = readString(params, "configuration");
  let configuration: Stripe.BillingPortal.Configuration | undefined;
  if (configurationId) {
    configuration = state.portalConfigurations.get(configurationId);
    if (!configuration) throw resourceMissing("configuration", configurationId, "configuration");
  } else {
    if (!state.portalConfigured) {
      throw invalidRequest(
        "No configuration provided and your test mode default configuration has not been " +
          "created. Provide a configuration or create your default by saving your customer " +
          "portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal.",
      );
    }
    configuration = [...state.portalConfigurations.values()].find((c) => c.is_default);
  }
  const returnUrl = readString(params, "return_url") ?? configuration?.default_return_url ?? null;
  if (!returnUrl) throw missingParameter("return_url");
  const onBehalfOf = readString(params, "on_behalf_of") ?? null;
  if (onBehalfOf !== null) {
    if (!state.connectedMoney) {
      throw invalidRequest("Only Stripe Connect platforms can work with other accounts.");
    }
    state.connectedMoney.account(onBehalfOf, "on_behalf_of");
  }
  const id = newId("bps");
  const session = fromTemplate<Stripe.BillingPortal.Session>("billing_portal.session");
  Object.assign(session, {
    id,
    created: state.now(),
    configuration: configuration?.id ?? null,
    customer: customerId,
    flow: null,
    livemode: false,
    locale: readString(params, "locale") ?? null,
    on_behalf_of: onBehalfOf,
    return_url: returnUrl,
    url: `${state.baseUrl}/__double/portal/${id}`,
  });
  return state.add(state.portalSessions, session);
}

/**
 * Applies the changes of `POST /v1/subscriptions/:id` (the caller emits one event for all) and
 * returns what to emit after that event (the invoice of a price change billed at once).
 */
function updateSubscription(
  state: StripeState,
  billing: Billing,
  subscription: Stripe.Subscription,
  params: FormParams,
): () => void {
  const ended = subscription.status === "canceled" || subscription.status === "incomplete_expired";
  const allowedWhenEnded = new Set(["metadata", "cancellation_details", "expand"]);
  if (ended && Object.keys(params).some((k) => !allowedWhenEnded.has(k))) {
    billing.refuseEnded(subscription);
  }
  subscription.metadata = mergeMetadata(subscription.metadata, params.metadata);
  if (params.description !== undefined) {
    subscription.description = readString(params, "description") ?? null;
  }
  const cancelAtPeriodEnd = readBoolean(params, "cancel_at_period_end");
  const cancelAtRaw = params.cancel_at;
  if (cancelAtPeriodEnd === true && typeof cancelAtRaw === "string" && cancelAtRaw !== "") {
    throw invalidRequest(
      "You cannot set both `cancel_at` and `cancel_at_period_end` on the same request.",
      "cancel_at",
    );
  }
  if (cancelAtPeriodEnd === true) {
    billing.scheduleCancel(subscription, { atPeriodEnd: billingModeOf(subscription) });
  } else if (cancelAtPeriodEnd === false && cancelAtRaw === undefined) {
    billing.unscheduleCancel(subscription);
  }
  if (cancelAtRaw === "") {
    billing.unscheduleCancel(subscription);
  } else if (typeof cancelAtRaw === "string") {
    const period = periodOf(subscription);
    const at = cancelAtRaw === "max_period_end"
      ? period.end
      : cancelAtRaw === "min_period_end"
      ? Math.min(...subscription.items.data.map((i) => i.current_period_end))
      : /^\d+$/.test(cancelAtRaw)
      ? Number(cancelAtRaw)
      : NaN;
    if (Number.isNaN(at)) {
      throw invalidParameter(
        "cancel_at",
        `Invalid timestamp: ${cancelAtRaw}`,
        "parameter_invalid_integer",
      );
    }
    if (at <= state.now()) {
      throw invalidParameter("cancel_at", "`cancel_at` must be in the future.");
    }
    billing.scheduleCancel(subscription, { at });
  }
  const details = readObject(params, "cancellation_details");
  if (details && subscription.cancellation_details) {
    if (details.comment !== undefined) {
      subscription.cancellation_details.comment = readString(details, "comment") ?? null;
    }
    if (details.feedback !== undefined) {
      subscription.cancellation_details.feedback = (readString(details, "feedback") ??
        null) as Stripe.Subscription.CancellationDetails.Feedback | null;
    }
  }
  if (params.pause_collection === "") {
    subscription.pause_collection = null;
  } else if (params.pause_collection !== undefined) {
    const pause = readObject(params, "pause_collection") ?? {};
    const behavior = readString(pause, "behavior");
    if (!behavior) throw missingParameter("pause_collection[behavior]");
    subscription.pause_collection = {
      behavior: behavior as Stripe.Subscription.PauseCollection.Behavior,
      resumes_at: readInteger(pause, "resumes_at") ?? null,
    };
  }
  if (params.default_payment_method !== undefined) {
    subscription.default_payment_method = readString(params, "default_payment_method") ?? null;
  }
  return changeItemPrices(billing, subscription, params);
}

/** `items[n][id]` with `items[n][price]`: each item's price change, billed as `proration_behavior` says. */
function changeItemPrices(
  billing: Billing,
  subscription: Stripe.Subscription,
  params: FormParams,
): () => void {
  const behavior = (readString(params, "proration_behavior") ?? "create_prorations") as
    | "create_prorations"
    | "always_invoice"
    | "none";
  const afterwards = readList(params, "items").map((entry, index) => {
    const item = entry as FormParams;
    const itemId = readString(item, "id");
    const priceId = readString(item, "price");
    if (!itemId) {
      throw invalidRequest(
        "The Stripe double only updates existing items: give items[][id] with items[][price].",
        `items[${index}][id]`,
      );
    }
    if (!priceId) return () => {};
    return billing.changeItemPrice(subscription, itemId, priceId, behavior);
  });
  return () => afterwards.forEach((emit) => emit());
}
