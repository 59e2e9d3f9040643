/**
 * Stripe-shaped object ids. Real ids are a type prefix plus a random base62 tail; the tail length
 * differs per type (`cus_` and `si_` are short, most others are 24 characters, Checkout Session ids
 * are long), so the double copies the lengths seen in Stripe's own fixtures.
 */

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Tail length per prefix, as in `fixtures3.json` (e.g. `cus_QXg1o8vcGmoR32` has 14). */
const TAIL_LENGTH: Record<string, number> = {
  cus: 14,
  si: 14,
  prod: 14,
  req: 14,
  cs_test: 58,
  inpay: 24,
};

function randomTail(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let tail = "";
  for (const byte of bytes) tail += ALPHABET[byte % ALPHABET.length];
  return tail;
}

/**
 * Returns a new id such as `sub_1Q...` for `prefix` ("sub"), or `cs_test_a1...` for "cs_test".
 *
 * @param prefix the Stripe type prefix without the trailing underscore.
 */
export function newId(prefix: string): string {
  const length = TAIL_LENGTH[prefix] ?? 24;
  // Most long Stripe ids start with "1" (a version digit); Checkout Session ids start with "a1".
  if (prefix === "cs_test") return `cs_test_a1${randomTail(length - 2)}`;
  if (length === 24) return `${prefix}_1${randomTail(23)}`;
  return `${prefix}_${randomTail(length)}`;
}

/** Returns a webhook signing secret in Stripe's format (`whsec_` and 32 characters). */
export function newWebhookSecret(): string {
  return `whsec_${randomTail(32)}`;
}
