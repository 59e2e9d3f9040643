/**
 * Request-parameter rules per endpoint: which keys Stripe accepts, what kind of value each takes,
 * and typed readers for handlers. Stripe rejects any key it does not know with `parameter_unknown`
 * naming the full bracket path (`subscription_data[foo]`), so every endpoint lists its keys here.
 */
import { invalidParameter, missingParameter, unknownParameter } from "./errors.ts";
import type { FormParams, FormValue } from "./form.ts";

/**
 * What a parameter accepts: a scalar kind, an enum (array of allowed strings), a nested object
 * (`{ key: spec }`), a list (`{ list: spec }`), a free-form string map (`"map"`, e.g. metadata) or
 * anything (`"any"`, for parameters the double accepts but ignores the shape of).
 */
export type ParamSpec =
  | "string"
  | "integer"
  | "boolean"
  | "map"
  | "any"
  | readonly string[]
  | { readonly list: ParamSpec }
  | { readonly [key: string]: ParamSpec };

/** The keys of an endpoint. */
export type EndpointSpec = { readonly [key: string]: ParamSpec };

function isList(spec: ParamSpec): spec is { readonly list: ParamSpec } {
  return typeof spec === "object" && !Array.isArray(spec) && "list" in spec &&
    Object.keys(spec).length === 1;
}

function pathOf(parent: string, key: string): string {
  return parent === "" ? key : `${parent}[${key}]`;
}

function check(value: FormValue, spec: ParamSpec, path: string): void {
  if (spec === "any") return;
  // An empty string unsets an optional value everywhere in Stripe's v1 API.
  if (value === "") return;
  if (spec === "map") {
    if (typeof value === "string" || Array.isArray(value)) {
      throw invalidParameter(path, `Invalid object`, "parameter_invalid_empty");
    }
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== "string") throw invalidParameter(pathOf(path, k), "Invalid string");
    }
    return;
  }
  if (spec === "string") {
    if (typeof value !== "string") throw invalidParameter(path, "Invalid string");
    return;
  }
  if (spec === "integer") {
    if (typeof value !== "string" || !/^-?\d+$/.test(value)) {
      throw invalidParameter(
        path,
        `Invalid integer: ${String(value)}`,
        "parameter_invalid_integer",
      );
    }
    return;
  }
  if (spec === "boolean") {
    if (value !== "true" && value !== "false") {
      throw invalidParameter(path, `Invalid boolean: ${String(value)}`);
    }
    return;
  }
  if (Array.isArray(spec)) {
    if (typeof value !== "string" || !spec.includes(value)) {
      throw invalidParameter(
        path,
        `Invalid ${path}: must be one of ${spec.join(", ")}`,
        "parameter_invalid_string",
      );
    }
    return;
  }
  if (isList(spec)) {
    if (!Array.isArray(value)) throw invalidParameter(path, "Invalid array");
    value.forEach((item, index) => check(item, spec.list, pathOf(path, String(index))));
    return;
  }
  if (typeof value === "string" || Array.isArray(value)) {
    throw invalidParameter(path, "Invalid object", "parameter_invalid_empty");
  }
  checkObject(value, spec as EndpointSpec, path);
}

function checkObject(params: FormParams, spec: EndpointSpec, path: string): void {
  for (const key of Object.keys(params)) {
    if (!(key in spec)) throw unknownParameter(pathOf(path, key));
  }
  for (const [key, value] of Object.entries(params)) {
    const expected = spec[key];
    if (expected === undefined) throw unknownParameter(pathOf(path, key));
    check(value, expected, pathOf(path, key));
  }
}

/**
 * Checks `params` against an endpoint's keys and required parameters (top-level names) and throws
 * the StripeApiError Stripe would answer with. `expand` is accepted on every endpoint.
 */
export function validateParams(
  params: FormParams,
  spec: EndpointSpec,
  required: readonly string[] = [],
): void {
  checkObject(params, { expand: { list: "string" }, ...spec }, "");
  for (const key of required) {
    if (params[key] === undefined || params[key] === "") throw missingParameter(key);
  }
}

/** The string at `key`, or undefined when absent or empty. */
export function readString(params: FormParams, key: string): string | undefined {
  const value = params[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The integer at `key`, or undefined. */
export function readInteger(params: FormParams, key: string): number | undefined {
  const value = readString(params, key);
  return value === undefined ? undefined : Number(value);
}

/** The boolean at `key`, or undefined. */
export function readBoolean(params: FormParams, key: string): boolean | undefined {
  const value = readString(params, key);
  return value === undefined ? undefined : value === "true";
}

/** The nested object at `key`, or undefined. */
export function readObject(params: FormParams, key: string): FormParams | undefined {
  const value = params[key];
  return typeof value === "object" && !Array.isArray(value) ? value : undefined;
}

/** The list at `key` (empty when absent). */
export function readList(params: FormParams, key: string): FormValue[] {
  const value = params[key];
  return Array.isArray(value) ? value : [];
}

/** The `expand[]` paths of a request. */
export function readExpand(params: FormParams): string[] {
  return readList(params, "expand").filter((v): v is string => typeof v === "string");
}

/**
 * Applies a metadata parameter the way Stripe does: keys are merged into the existing map, an empty
 * value deletes its key, and `metadata=""` clears the whole map.
 */
export function mergeMetadata(
  current: Record<string, string>,
  value: FormValue | undefined,
): Record<string, string> {
  if (value === undefined) return current;
  if (value === "") return {};
  if (typeof value !== "object" || Array.isArray(value)) return current;
  const next = { ...current };
  for (const [k, v] of Object.entries(value)) {
    if (v === "") delete next[k];
    else if (typeof v === "string") next[k] = v;
  }
  return next;
}

/**
 * Stripe's metadata limits (https://docs.stripe.com/metadata): 50 keys, keys up to 40 characters,
 * values up to 500 characters, no square brackets in keys.
 */
export function checkMetadata(value: FormValue | undefined, param = "metadata"): void {
  if (typeof value !== "object" || Array.isArray(value)) return;
  const keys = Object.keys(value);
  if (keys.length > 50) {
    throw invalidParameter(
      param,
      `Invalid ${param}: ${param} can have up to 50 keys, but you passed in ${keys.length} keys.`,
    );
  }
  for (const key of keys) {
    if (key.length > 40) {
      throw invalidParameter(
        `${param}[${key}]`,
        `Metadata keys can have up to 40 characters, but you passed in a key that is ` +
          `${key.length} characters. Invalid key: '${key}'.`,
      );
    }
    const v = value[key];
    if (typeof v === "string" && v.length > 500) {
      throw invalidParameter(
        `${param}[${key}]`,
        `Metadata values can have up to 500 characters, but you passed in a value that is ` +
          `${v.length} characters. Invalid value: '${v.slice(0, 40)}...'.`,
      );
    }
  }
}
