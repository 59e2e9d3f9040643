/**
 * `expand[]`: replaces ids in a response by the objects they name, following dotted paths through
 * nested objects and lists (`items.data.price.product`, `data.customer` on list responses), as
 * https://docs.stripe.com/expand describes. Some properties are "includable": absent unless
 * expanded (Checkout `line_items`, invoice `payments`).
 */
import type Stripe from "stripe";
import { StripeApiError } from "./errors.ts";
import { listOf } from "./objects.ts";
import type { StripeState } from "./state.ts";

type Json = Record<string, unknown>;

/** Stripe refuses expansions deeper than four levels. */
const MAX_DEPTH = 4;

function cannotExpand(path: string): StripeApiError {
  return new StripeApiError(400, {
    type: "invalid_request_error",
    message: `This property cannot be expanded (${path}).`,
  }, false);
}

/** The Checkout line items (`item` objects) of a session. */
export function checkoutLineItems(
  state: StripeState,
  sessionId: string,
): Stripe.ApiList<Stripe.LineItem> {
  const request = state.checkoutRequests.get(sessionId);
  const items = (request?.lineItems ?? []).map(({ id, price: priceId, quantity }) => {
    const price = state.prices.get(priceId)!;
    const product = state.products.get(String(price.product));
    const amount = (price.unit_amount ?? 0) * quantity;
    return {
      id,
      object: "item",
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: product?.name ?? null,
      metadata: {},
      price: structuredClone(price),
      quantity,
    } as unknown as Stripe.LineItem;
  });
  return listOf(items, `/v1/checkout/sessions/${sessionId}/line_items`);
}

function includable(state: StripeState, object: Json, key: string): unknown {
  if (object.object === "checkout.session" && key === "line_items") {
    return checkoutLineItems(state, String(object.id));
  }
  if (object.object === "invoice" && key === "payments") {
    const payments = [...state.invoicePayments.values()].filter((p) => p.invoice === object.id);
    return listOf(structuredClone(payments), `/v1/invoice_payments?invoice=${object.id}`);
  }
  return undefined;
}

function expandAt(state: StripeState, value: unknown, segments: string[], path: string): unknown {
  const [key, ...rest] = segments;
  if (key === undefined || value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => expandAt(state, v, segments, path));
  if (typeof value !== "object") throw cannotExpand(path);
  const object = value as Json;
  let child = key in object ? object[key] : includable(state, object, key);
  if (child === undefined) throw cannotExpand(path);
  if (typeof child === "string") {
    const found = state.find(child);
    if (!found) throw cannotExpand(path);
    child = structuredClone(found);
  } else if (rest.length === 0 && (typeof child !== "object")) {
    throw cannotExpand(path);
  }
  object[key] = expandAt(state, child, rest, path);
  return object;
}

/**
 * Returns a copy of `object` with every path of `paths` expanded, or `object` itself when `paths`
 * is empty (the answer is serialized at once, so nothing needs the copy, which cost most of the
 * double's CPU on a plain read).
 *
 * @throws StripeApiError 400 for a path that names no expandable property.
 */
export function expand<T>(state: StripeState, object: T, paths: string[]): T {
  if (paths.length === 0) return object;
  let result: unknown = structuredClone(object);
  for (const path of paths) {
    const segments = path.split(".");
    if (segments.length > MAX_DEPTH + (segments[0] === "data" ? 1 : 0)) {
      throw new StripeApiError(400, {
        type: "invalid_request_error",
        message: `You cannot expand more than ${MAX_DEPTH} levels of a property. Property: ${path}`,
      }, false);
    }
    result = expandAt(state, result, segments, path);
  }
  return result as T;
}
