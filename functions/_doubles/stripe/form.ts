/**
 * Stripe's form encoding: `application/x-www-form-urlencoded` bodies (and query strings) whose keys
 * use bracket syntax for nesting, e.g. `line_items[0][price]=price_1`, `metadata[guild]=1`,
 * `expand[]=items.data.price.product`. The SDK sends arrays as `a[0]`, `a[1]`; curl users send
 * `a[]`. Both become arrays here.
 */

/** A parsed parameter value: Stripe sends every scalar as a string. */
export type FormValue = string | FormValue[] | FormParams;

/** Parsed parameters of one request. */
export interface FormParams {
  [key: string]: FormValue;
}

/** Keys whose children are free-form maps: numeric keys there stay keys, not array indexes. */
const MAP_KEYS = new Set(["metadata"]);

function decode(part: string): string {
  return decodeURIComponent(part.replace(/\+/g, " "));
}

/** Splits `a[b][0][]` into `["a", "b", "0", ""]`; a key without brackets is one segment. */
function splitKey(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const matcher = /\[([^\]]*)\]/g;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = matcher.exec(rest)) !== null) {
    if (match.index !== consumed || match[1] === undefined) return [key];
    segments.push(match[1]);
    consumed = matcher.lastIndex;
  }
  return consumed === rest.length ? segments : [key];
}

const APPEND = Symbol("append");

type Building = Map<string | typeof APPEND, Building | string> & {
  appended?: (Building | string)[];
};

function insert(node: Building, segments: string[], value: string): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  if (head === "") {
    node.appended ??= [];
    if (rest.length === 0) node.appended.push(value);
    else {
      const child: Building = new Map();
      insert(child, rest, value);
      node.appended.push(child);
    }
    return;
  }
  if (rest.length === 0) {
    node.set(head, value);
    return;
  }
  let child = node.get(head);
  if (typeof child !== "object") {
    child = new Map();
    node.set(head, child);
  }
  insert(child, rest, value);
}

function finish(node: Building | string, parentKey: string | null): FormValue {
  if (typeof node === "string") return node;
  const keys = [...node.keys()].filter((k): k is string => typeof k === "string");
  if (node.appended && keys.length === 0) {
    return node.appended.map((child) => finish(child, null));
  }
  const isArray = keys.length > 0 && !MAP_KEYS.has(parentKey ?? "") &&
    keys.every((k) => /^\d+$/.test(k));
  if (isArray) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => finish(node.get(k)!, null));
  }
  const result: FormParams = {};
  for (const key of keys) result[key] = finish(node.get(key)!, key);
  return result;
}

/**
 * Parses a form-encoded body or query string (without the leading `?`) into nested parameters.
 *
 * @param encoded the raw body text or `URL.search.slice(1)`.
 */
export function parseForm(encoded: string): FormParams {
  const root: Building = new Map();
  for (const pair of encoded.split("&")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? "" : decode(pair.slice(eq + 1));
    insert(root, splitKey(key), value);
  }
  return finish(root, null) as FormParams;
}

/** A stable text form of parameters, for comparing a replayed idempotent request with the first. */
export function canonicalParams(params: FormParams): string {
  const sortKeys = (value: FormValue): unknown => {
    if (typeof value === "string") return value;
    if (Array.isArray(value)) return value.map(sortKeys);
    return Object.fromEntries(
      Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sortKeys(v)]),
    );
  };
  return JSON.stringify(sortKeys(params));
}
