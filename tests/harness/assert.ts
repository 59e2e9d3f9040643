/**
 * Assertions for tests, from node:assert/strict (JSR's @std/assert is not reachable here).
 */
import { rejects } from "node:assert/strict";

export { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";

/** Asserts that `fn` rejects with an error of `type` whose message contains `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  includes: string,
  context = "",
): Promise<void> {
  await rejects(fn, (error: unknown) => {
    if (!(error instanceof type)) return false;
    if (!error.message.includes(includes)) {
      throw new Error(`${context}: expected "${includes}" in "${error.message}"`);
    }
    return true;
  }, context);
}

/**
 * The first of `items`, failing the test with a message that names `what` when there is none:
 * what a test reads as `rows[0]`, checked.
 */
export function first<T>(items: ArrayLike<T>, what: string): T {
  const item = items[0];
  if (item === undefined) throw new Error(`Expected ${what}, found none`);
  return item;
}
