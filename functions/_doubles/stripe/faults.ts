/**
 * Fault injection: rules that make matching requests slow, fail with a chosen status and body, or
 * lose their connection, for a number of times or until cleared.
 */

/** A fault rule. */
export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Exact path (`/v1/customers`) or a pattern tested against the path. */
  path: string | RegExp;
  /** Answer with this status instead of handling the request. */
  status?: number;
  /** Body of that answer (JSON-encoded unless a string); Stripe's body for the status by default. */
  body?: unknown;
  /** Extra response headers, e.g. `{"stripe-should-retry": "false"}`. */
  headers?: Record<string, string>;
  /** Wait this long before answering (or before handling, when no status is given). */
  delayMs?: number;
  /** Close the connection without an answer. */
  drop?: boolean;
  /**
   * With `drop`: "before" (default) loses the request before it is handled; "after" handles it
   * (state changes, events, idempotency record) and then loses the answer, like a timeout.
   */
  dropPhase?: "before" | "after";
  /** How many requests the rule applies to (unlimited when absent). */
  times?: number;
}

/** A rule in the JSON form the HTTP control API accepts (`path` as string or `{regex}`). */
export interface FaultRuleJson extends Omit<FaultRule, "path"> {
  path: string | { regex: string; flags?: string };
}

/** Converts the HTTP control API's JSON form into a rule. */
export function faultRuleFromJson(json: FaultRuleJson): FaultRule {
  const path = typeof json.path === "string"
    ? json.path
    : new RegExp(json.path.regex, json.path.flags);
  return { ...json, path };
}

interface ActiveRule extends FaultRule {
  id: number;
  hits: number;
}

/** The active fault rules of a double. */
export class FaultInjector {
  private rules: ActiveRule[] = [];
  private nextId = 1;

  /** Adds a rule; returns its id. Later rules are checked first. */
  add(rule: FaultRule): number {
    const id = this.nextId++;
    this.rules.unshift({ ...rule, id, hits: 0 });
    return id;
  }

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
  }

  /** Takes the first rule matching the request (counting it), or null. */
  take(method: string, path: string): FaultRule | null {
    for (const rule of this.rules) {
      if (rule.method && rule.method.toUpperCase() !== method) continue;
      const matches = typeof rule.path === "string" ? rule.path === path : rule.path.test(path);
      if (!matches) continue;
      rule.hits += 1;
      if (rule.times !== undefined && rule.hits >= rule.times) {
        this.rules = this.rules.filter((r) => r.id !== rule.id);
      }
      return rule;
    }
    return null;
  }
}
