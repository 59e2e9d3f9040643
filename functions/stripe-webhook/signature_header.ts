/**
 * The `Stripe-Signature` header, checked before the body is read: a request without a
 * well-formed, recent signature is refused without buffering anything.
 * Format: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, with one `v1` per active endpoint secret
 * during a rotation and possibly other schemes (`v0` in test mode), which are ignored
 * (https://docs.stripe.com/webhooks#verify-manually).
 */

/** Far above a header carrying a signature for each secret of a rotation. */
const MAX_HEADER_LENGTH = 2048;

const TIMESTAMP = /^[0-9]{1,12}$/;
const V1_SIGNATURE = /^[0-9a-f]{64}$/;
const ENTRY = /^([a-z0-9]+)=(.*)$/;

/** Whether the header may hold a valid signature, and if not, why not. */
export type SignatureHeaderCheck = { ok: true } | { ok: false; problem: string };

/**
 * Checks the header's form and its timestamp's age in both directions (stripe-node only refuses
 * timestamps in the past; a signature dated in the future is no fresher than an old one).
 *
 * @param header the `Stripe-Signature` value, if any.
 * @param now the time of receipt.
 * @param toleranceSeconds how far from `now` the timestamp may be.
 */
export function checkSignatureHeader(
  header: string | undefined,
  now: Date,
  toleranceSeconds: number,
): SignatureHeaderCheck {
  if (!header) return { ok: false, problem: "header is missing" };
  if (header.length > MAX_HEADER_LENGTH) return { ok: false, problem: "header is too long" };
  const timestamps: string[] = [];
  let v1Count = 0;
  for (const entry of header.split(",")) {
    const [, scheme, value] = ENTRY.exec(entry) ?? [];
    if (value === undefined) return { ok: false, problem: "header is malformed" };
    if (scheme === "t") timestamps.push(value);
    if (scheme === "v1") {
      if (!V1_SIGNATURE.test(value)) return { ok: false, problem: "header is malformed" };
      v1Count++;
    }
  }
  const [timestamp] = timestamps;
  if (
    timestamps.length !== 1 || timestamp === undefined || !TIMESTAMP.test(timestamp) ||
    v1Count === 0
  ) {
    return { ok: false, problem: "header is malformed" };
  }
  const ageSeconds = Math.floor(now.getTime() / 1000) - Number(timestamp);
  if (Math.abs(ageSeconds) > toleranceSeconds) {
    return { ok: false, problem: "timestamp is outside the tolerance zone" };
  }
  return { ok: true };
}
