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
