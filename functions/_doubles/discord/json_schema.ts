/**
 * A validator for the subset of JSON Schema that Discord's OpenAPI description uses
 * (`type` incl. type lists, `properties`, `required`, `additionalProperties`, `enum`, `const`,
 * `oneOf`/`anyOf`/`allOf`, `$ref` to `#/components/...`, `items`, string and array lengths,
 * `pattern`, `minimum`/`maximum`, `maxProperties`, `uniqueItems`, OpenAPI 3.0 `nullable`).
 *
 * Errors come back path-addressed with Discord's own 50035 error codes, so the double can
 * answer exactly like Discord's form validation.
 *
 * Deliberate choices:
 * - Objects that list `properties` but say nothing about `additionalProperties` are closed
 *   when `strictUnknownFields` is on. Discord tends to ignore unknown fields silently; the
 *   double rejects them so a typo in production code fails a test instead of doing nothing.
 * - `oneOf` is treated as `anyOf`: Discord's unions overlap (two partial webhook bodies,
 *   `null` branches), and Discord itself marks them `x-discord-union`.
 * - An `integer` whose range exceeds what JSON numbers carry safely (64-bit bitfields such
 *   as `default_member_permissions`) also accepts a decimal string, which is how Discord
 *   documents and discord-api-types types those fields.
 *
 * @module
 */

import type { FieldErrorAt } from "./discord_errors.ts";

/** A JSON Schema node as found in the OpenAPI document. */
export type Schema = { [keyword: string]: unknown };

/** Options for {@linkcode SchemaValidator}. */
export interface SchemaValidatorOptions {
  /** Reject properties an object schema does not list. Default `true`. */
  strictUnknownFields?: boolean;
}

const SNOWFLAKE_PATTERN = "^(0|[1-9][0-9]*)$";

/** Validates JSON values against schemas of one OpenAPI document. */
export class SchemaValidator {
  #document: Schema;
  #strict: boolean;
  #patterns = new Map<string, RegExp>();

  /**
   * @param document the whole OpenAPI document, for resolving `$ref`s.
   * @param options validation options.
   */
  constructor(document: Schema, options: SchemaValidatorOptions = {}) {
    this.#document = document;
    this.#strict = options.strictUnknownFields ?? true;
  }

  /** Resolves a local `$ref` such as `#/components/schemas/SnowflakeType`. */
  resolve(ref: string): Schema {
    if (!ref.startsWith("#/")) throw new Error(`Cannot resolve $ref "${ref}": only local refs`);
    let node: unknown = this.#document;
    for (const part of ref.slice(2).split("/")) {
      node = (node as Schema | undefined)?.[part.replaceAll("~1", "/").replaceAll("~0", "~")];
    }
    if (node === undefined || node === null || typeof node !== "object") {
      throw new Error(`Cannot resolve $ref "${ref}": not in the document`);
    }
    return node as Schema;
  }

  /**
   * Validates `value` against `schema`.
   *
   * @param value the parsed JSON value.
   * @param schema the schema node.
   * @param path where `value` sits in the request body.
   * @returns the errors, empty when the value is valid.
   */
  validate(value: unknown, schema: Schema, path: (string | number)[] = []): FieldErrorAt[] {
    const node = this.#deref(schema);
    const errors: FieldErrorAt[] = [];
    const fail = (code: string, message: string, at = path) =>
      errors.push({ path: at, code, message });

    if (node.nullable === true && value === null) return errors;

    if (Array.isArray(node.allOf)) {
      for (const part of node.allOf as Schema[]) {
        errors.push(...this.#validateIgnoringUnknown(value, part, path));
      }
    }
    for (const keyword of ["oneOf", "anyOf"] as const) {
      const branches = node[keyword];
      if (Array.isArray(branches)) {
        const outcomes = (branches as Schema[]).map((b) => this.validate(value, b, path));
        if (!outcomes.some((o) => o.length === 0)) {
          errors.push(...outcomes.reduce((best, o) => (o.length < best.length ? o : best)));
        }
      }
    }

    if (node.type !== undefined && !this.#matchesType(value, node)) {
      const types = (Array.isArray(node.type) ? node.type : [node.type]) as string[];
      const [code, message] = typeError(value, types.filter((t) => t !== "null"), node);
      fail(code, message);
      return errors;
    }
    if (node.const !== undefined && value !== node.const) {
      fail("BASE_TYPE_CHOICES", `Value must be one of (${JSON.stringify(node.const)}).`);
    }
    if (Array.isArray(node.enum) && !node.enum.includes(value)) {
      const choices = node.enum.map((c) => JSON.stringify(c)).join(", ");
      fail("BASE_TYPE_CHOICES", `Value must be one of (${choices}).`);
    }

    if (typeof value === "string") this.#checkString(value, node, fail);
    if (typeof value === "number" || (typeof value === "string" && isWideInteger(node))) {
      checkRange(value, node, fail);
    }
    if (Array.isArray(value)) errors.push(...this.#checkArray(value, node, path));
    else if (isObject(value)) errors.push(...this.#checkObject(value, node, path));
    return errors;
  }

  #validateIgnoringUnknown(value: unknown, schema: Schema, path: (string | number)[]) {
    const strict = this.#strict;
    this.#strict = false;
    try {
      return this.validate(value, schema, path);
    } finally {
      this.#strict = strict;
    }
  }

  #deref(schema: Schema): Schema {
    let node = schema;
    for (let hops = 0; typeof node.$ref === "string"; hops++) {
      if (hops > 32) throw new Error(`Cannot resolve $ref "${node.$ref}": cycle`);
      node = this.resolve(node.$ref);
    }
    return node;
  }

  #matchesType(value: unknown, node: Schema): boolean {
    const types = (Array.isArray(node.type) ? node.type : [node.type]) as string[];
    return types.some((type) => {
      switch (type) {
        case "null":
          return value === null;
        case "string":
          return typeof value === "string";
        case "boolean":
          return typeof value === "boolean";
        case "number":
          return typeof value === "number" && Number.isFinite(value);
        case "integer":
          return (typeof value === "number" && Number.isInteger(value)) ||
            (typeof value === "string" && isWideInteger(node) && /^-?[0-9]+$/.test(value));
        case "array":
          return Array.isArray(value);
        case "object":
          return isObject(value);
        default:
          return true;
      }
    });
  }

  #checkString(value: string, node: Schema, fail: (code: string, message: string) => void) {
    const length = [...value].length;
    if (typeof node.maxLength === "number" && length > node.maxLength) {
      fail("BASE_TYPE_MAX_LENGTH", `Must be ${node.maxLength} or fewer in length.`);
    }
    if (typeof node.minLength === "number" && length < node.minLength) {
      fail("BASE_TYPE_MIN_LENGTH", `Must be ${node.minLength} or more in length.`);
    }
    if (typeof node.pattern === "string" && !this.#pattern(node.pattern).test(value)) {
      if (node.pattern === SNOWFLAKE_PATTERN) {
        fail("NUMBER_TYPE_COERCE", `Value "${value}" is not snowflake.`);
      } else fail("STRING_TYPE_REGEX", `String value did not match validation regex.`);
    }
  }

  #pattern(source: string): RegExp {
    let re = this.#patterns.get(source);
    if (!re) {
      re = new RegExp(source, "u");
      this.#patterns.set(source, re);
    }
    return re;
  }

  #checkArray(value: unknown[], node: Schema, path: (string | number)[]): FieldErrorAt[] {
    const errors: FieldErrorAt[] = [];
    if (typeof node.maxItems === "number" && value.length > node.maxItems) {
      errors.push({
        path,
        code: "BASE_TYPE_MAX_LENGTH",
        message: `Must be ${node.maxItems} or fewer in length.`,
      });
    }
    if (typeof node.minItems === "number" && value.length < node.minItems) {
      errors.push({
        path,
        code: "BASE_TYPE_MIN_LENGTH",
        message: `Must be ${node.minItems} or more in length.`,
      });
    }
    if (node.uniqueItems === true) {
      const seen = new Set(value.map((v) => JSON.stringify(v)));
      if (seen.size !== value.length) {
        errors.push({
          path,
          code: "LIST_ITEM_VALUE_DUPLICATE",
          message: "List items must be unique.",
        });
      }
    }
    if (isObject(node.items)) {
      value.forEach((item, i) =>
        errors.push(...this.validate(item, node.items as Schema, [...path, i]))
      );
    }
    return errors;
  }

  #checkObject(value: Record<string, unknown>, node: Schema, path: (string | number)[]) {
    const errors: FieldErrorAt[] = [];
    const properties = isObject(node.properties) ? node.properties as Record<string, Schema> : {};
    for (const name of Array.isArray(node.required) ? node.required as string[] : []) {
      if (value[name] === undefined) {
        errors.push({
          path: [...path, name],
          code: "BASE_TYPE_REQUIRED",
          message: "This field is required",
        });
      }
    }
    const known = this.#knownProperties(node);
    const extra = node.additionalProperties;
    for (const [name, child] of Object.entries(value)) {
      if (properties[name] !== undefined) {
        errors.push(...this.validate(child, properties[name], [...path, name]));
      } else if (isObject(extra)) {
        errors.push(...this.validate(child, extra, [...path, name]));
      } else if (
        extra === false ||
        (extra === undefined && this.#strict && known !== undefined && !known.has(name))
      ) {
        errors.push({
          path: [...path, name],
          code: "UNKNOWN_FIELD",
          message: "Field is not in Discord's OpenAPI description of this request body.",
        });
      }
    }
    const count = Object.keys(value).length;
    if (typeof node.maxProperties === "number" && count > node.maxProperties) {
      errors.push({
        path,
        code: "BASE_TYPE_MAX_LENGTH",
        message: `Must be ${node.maxProperties} or fewer in length.`,
      });
    }
    return errors;
  }

  /** Property names an object schema declares, including those of its `allOf` parts. */
  #knownProperties(node: Schema): Set<string> | undefined {
    const names = new Set<string>();
    let declares = false;
    const collect = (schema: Schema) => {
      const n = this.#deref(schema);
      if (isObject(n.properties)) {
        declares = true;
        for (const k of Object.keys(n.properties)) names.add(k);
      }
      if (Array.isArray(n.allOf)) (n.allOf as Schema[]).forEach(collect);
    };
    collect(node);
    return declares ? names : undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Integer fields wider than a JSON number can carry exactly (permission bitfields). */
function isWideInteger(node: Schema): boolean {
  const types = Array.isArray(node.type) ? node.type : [node.type];
  if (!types.includes("integer")) return false;
  return node.format === "int64" ||
    (typeof node.maximum === "number" && node.maximum > Number.MAX_SAFE_INTEGER);
}

function checkRange(
  value: number | string,
  node: Schema,
  fail: (code: string, message: string) => void,
) {
  const big = (
    n: unknown,
  ) => (typeof n === "number" && Number.isInteger(n) ? BigInt(n) : undefined);
  const asBig = typeof value === "string"
    ? BigInt(value)
    : Number.isInteger(value)
    ? BigInt(value)
    : undefined;
  const lessThan = (limit: number) =>
    asBig !== undefined && big(limit) !== undefined ? asBig < big(limit)! : Number(value) < limit;
  const greaterThan = (limit: number) =>
    asBig !== undefined && big(limit) !== undefined ? asBig > big(limit)! : Number(value) > limit;
  if (typeof node.minimum === "number" && lessThan(node.minimum)) {
    fail("NUMBER_TYPE_MIN", `Value should be greater than or equal to ${node.minimum}.`);
  }
  if (typeof node.maximum === "number" && greaterThan(node.maximum)) {
    fail("NUMBER_TYPE_MAX", `Value should be less than or equal to ${node.maximum}.`);
  }
}

function typeError(value: unknown, types: string[], node: Schema): [string, string] {
  const shown = typeof value === "string" ? value : JSON.stringify(value);
  if (value === null || value === undefined) {
    return ["BASE_TYPE_REQUIRED", "This field is required"];
  }
  switch (types[0]) {
    case "string":
      return ["BASE_TYPE_STRING", `Could not interpret "${shown}" as string.`];
    case "integer":
      return [
        "NUMBER_TYPE_COERCE",
        `Value "${shown}" is not ${node.format === "int64" ? "int64" : "int"}.`,
      ];
    case "number":
      return ["NUMBER_TYPE_COERCE", `Value "${shown}" is not a number.`];
    case "boolean":
      return ["BASE_TYPE_BOOLEAN", "Must be either true or false."];
    case "array":
      return ["BASE_TYPE_LIST", "Only iterables may be used in a ListType"];
    case "object":
      return ["DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"];
    default:
      return ["BASE_TYPE_INVALID", `Value "${shown}" has the wrong type.`];
  }
}
