/**
 * An OpenAPI document as a request checker: which path templates and methods exist, which
 * operation a request is, and whether its path parameters, query and JSON body are what the
 * document accepts. The double compiles its own routes with it; tests pass in Discord's own
 * description, compiled the same way.
 *
 * @module
 */

import type { FieldErrorAt } from "./discord_errors.ts";
import { type Schema, SchemaValidator, type SchemaValidatorOptions } from "./json_schema.ts";

/** HTTP methods an OpenAPI path item can describe. */
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** One OpenAPI operation, with the parameters of its path item merged in. */
export interface Operation {
  /** Discord's `operationId`, e.g. `add_guild_member_role`. */
  operationId: string;
  /** Upper-case HTTP method. */
  method: string;
  /** The path template, e.g. `/guilds/{guild_id}/members/{user_id}/roles/{role_id}`. */
  template: string;
  /** Path and query parameters. */
  parameters: Parameter[];
  /** The JSON request body schema, if the operation takes one. */
  jsonBody?: Schema;
  /** Content types the operation accepts for its body. */
  bodyContentTypes: string[];
  /** Whether the body is required. */
  bodyRequired: boolean;
  /** Whether a bot token is required (no anonymous `{}` alternative in `security`). */
  requiresAuth: boolean;
}

/** An OpenAPI parameter of a path or query. */
export interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required: boolean;
  schema: Schema;
}

/** The outcome of matching a method and path against the spec. */
export type RouteMatch =
  | { kind: "operation"; operation: Operation; params: Record<string, string> }
  | { kind: "unknown-path" }
  | { kind: "unknown-method"; template: string; allowed: string[] };

interface TrieNode {
  literals: Map<string, TrieNode>;
  param?: { name: string; node: TrieNode };
  template?: string;
  operations?: Map<string, Operation>;
}

/** A compiled OpenAPI document: route matching plus request validation. */
export class OpenApiSpec {
  #root: TrieNode = { literals: new Map() };
  #validator: SchemaValidator;
  /** Number of operations in the document. */
  readonly operationCount: number;

  /**
   * @param document the parsed OpenAPI document.
   * @param options schema validation options.
   */
  constructor(document: Schema, options: SchemaValidatorOptions = {}) {
    this.#validator = new SchemaValidator(document, options);
    let count = 0;
    const paths = (document.paths ?? {}) as Record<string, Schema>;
    for (const [template, item] of Object.entries(paths)) {
      const node = this.#insert(template);
      node.template = template;
      node.operations = new Map();
      const shared = (item.parameters ?? []) as Schema[];
      for (const method of METHODS) {
        const op = item[method] as Schema | undefined;
        if (!op) continue;
        node.operations.set(method.toUpperCase(), this.#compile(template, method, op, shared));
        count++;
      }
    }
    this.operationCount = count;
  }

  /** Finds the operation for `method` and `path` (the part after `/api/v10`). */
  match(method: string, path: string): RouteMatch {
    const segments = path.split("/").slice(1).map((s) => safeDecode(s));
    const params: Record<string, string> = {};
    const node = this.#walk(this.#root, segments, 0, params);
    if (!node?.operations) return { kind: "unknown-path" };
    const operation = node.operations.get(method.toUpperCase());
    if (!operation) {
      return {
        kind: "unknown-method",
        template: node.template!,
        allowed: [...node.operations.keys()],
      };
    }
    return { kind: "operation", operation, params };
  }

  /** Checks path parameters against their schemas (`SnowflakeType` and friends). */
  checkPathParams(operation: Operation, params: Record<string, string>): FieldErrorAt[] {
    const errors: FieldErrorAt[] = [];
    for (const p of operation.parameters) {
      if (p.in !== "path" || params[p.name] === undefined) continue;
      errors.push(...this.#validator.validate(params[p.name], p.schema, [p.name]));
    }
    return errors;
  }

  /** Checks query parameters: unknown names, and values that do not coerce to their schema. */
  checkQuery(operation: Operation, query: URLSearchParams): FieldErrorAt[] {
    const errors: FieldErrorAt[] = [];
    const declared = new Map(
      operation.parameters.filter((p) => p.in === "query").map((p) => [p.name, p]),
    );
    for (const [name, raw] of query) {
      const p = declared.get(name);
      if (!p) {
        errors.push({
          path: [name],
          code: "UNKNOWN_FIELD",
          message: "Query parameter is not in Discord's OpenAPI description of this route.",
        });
        continue;
      }
      errors.push(
        ...this.#validator.validate(coerceQueryValue(raw, p.schema, this.#validator), p.schema, [
          name,
        ]),
      );
    }
    for (const p of declared.values()) {
      if (p.required && !query.has(p.name)) {
        errors.push({
          path: [p.name],
          code: "BASE_TYPE_REQUIRED",
          message: "This field is required",
        });
      }
    }
    return errors;
  }

  /** Validates a parsed JSON body against the operation's request body schema. */
  checkJsonBody(operation: Operation, body: unknown): FieldErrorAt[] {
    if (!operation.jsonBody) return [];
    return this.#validator.validate(body, operation.jsonBody, []);
  }

  #insert(template: string): TrieNode {
    let node = this.#root;
    for (const segment of template.split("/").slice(1)) {
      const param = /^\{(.+)\}$/.exec(segment)?.[1];
      if (param !== undefined) {
        node.param ??= { name: param, node: { literals: new Map() } };
        node = node.param.node;
      } else {
        let next = node.literals.get(segment);
        if (!next) {
          next = { literals: new Map() };
          node.literals.set(segment, next);
        }
        node = next;
      }
    }
    return node;
  }

  /** Depth-first walk that prefers literal segments (`@me`, `@original`) over parameters. */
  #walk(
    node: TrieNode,
    segments: string[],
    index: number,
    params: Record<string, string>,
  ): TrieNode | undefined {
    const segment = segments[index];
    if (segment === undefined) return node.operations ? node : undefined;
    const literal = node.literals.get(segment);
    if (literal) {
      const found = this.#walk(literal, segments, index + 1, params);
      if (found) return found;
    }
    if (node.param && segment !== "") {
      const found = this.#walk(node.param.node, segments, index + 1, params);
      if (found) {
        params[node.param.name] = segment;
        return found;
      }
    }
    return undefined;
  }

  #compile(template: string, method: string, op: Schema, shared: Schema[]): Operation {
    const parameters = [...shared, ...((op.parameters ?? []) as Schema[])].map((p) => ({
      name: String(p.name),
      in: p.in as Parameter["in"],
      required: p.required === true,
      schema: (p.schema ?? {}) as Schema,
    }));
    const body = op.requestBody as Schema | undefined;
    const content = (body?.content ?? {}) as Record<string, Schema>;
    const security = (op.security ?? []) as Schema[];
    return {
      operationId: String(op.operationId),
      method: method.toUpperCase(),
      template,
      parameters,
      jsonBody: content["application/json"]?.schema as Schema | undefined,
      bodyContentTypes: Object.keys(content),
      bodyRequired: body?.required === true,
      requiresAuth: security.length > 0 && !security.some((s) => Object.keys(s).length === 0),
    };
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Query strings carry text; coerce it to what the schema expects before validating. */
function coerceQueryValue(raw: string, schema: Schema, validator: SchemaValidator): unknown {
  const node = typeof schema.$ref === "string" ? validator.resolve(schema.$ref) : schema;
  const types = (Array.isArray(node.type) ? node.type : [node.type]) as unknown[];
  if (types.includes("boolean")) {
    if (raw === "true" || raw === "True" || raw === "1") return true;
    if (raw === "false" || raw === "False" || raw === "0") return false;
    return raw;
  }
  if ((types.includes("integer") || types.includes("number")) && /^-?[0-9.]+$/.test(raw)) {
    const n = Number(raw);
    // A query value is text: Discord reads integers there as 64-bit, so a snowflake in
    // List Guild Members' `after` (typed plain "integer" in the description) is accepted.
    return Number.isInteger(n) || types.includes("number") ? n : raw;
  }
  return raw;
}
