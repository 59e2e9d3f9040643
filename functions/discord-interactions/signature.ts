/**
 * Discord's request signature: Ed25519 over the timestamp header followed by the raw body bytes,
 * checked with the application's public key
 * (https://discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers).
 */
import { verifyKey } from "discord-interactions";

/** Checks one request's signature; resolves to false for anything that is not a valid signature. */
export type SignatureVerifier = (
  rawBody: Uint8Array,
  signature: string,
  timestamp: string,
) => Promise<boolean>;

const SIGNATURE_PATTERN = /^[0-9a-fA-F]{128}$/;
const TIMESTAMP_PATTERN = /^[0-9]{1,20}$/;

/**
 * How far `X-Signature-Timestamp` may be from the function's clock, either way. Discord signs and
 * sends at once and wants the answer within 3 seconds, so minutes leave room for clock skew while
 * a captured request stops working soon; the stored interaction ids cover what is left.
 */
export const SIGNED_AT_TOLERANCE_SECONDS = 5 * 60;

/**
 * Whether `timestamp` (Unix seconds, as Discord sends it) lies within
 * {@link SIGNED_AT_TOLERANCE_SECONDS} of `now`. Anything that is not such a number is not fresh.
 */
export function isFreshSignatureTimestamp(timestamp: string, now: Date): boolean {
  if (!TIMESTAMP_PATTERN.test(timestamp)) return false;
  const ageSeconds = now.getTime() / 1000 - Number(timestamp);
  return Math.abs(ageSeconds) <= SIGNED_AT_TOLERANCE_SECONDS;
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * Creates a verifier for the application's public key (64 hex characters). The key is imported
 * into WebCrypto once, on first use, rather than on every request.
 */
export function createSignatureVerifier(publicKeyHex: string): SignatureVerifier {
  let key: Promise<CryptoKey> | null = null;
  const importKey = () =>
    crypto.subtle.importKey("raw", hexToBytes(publicKeyHex), { name: "Ed25519" }, false, [
      "verify",
    ]);
  return async (rawBody, signature, timestamp) => {
    if (!SIGNATURE_PATTERN.test(signature) || !TIMESTAMP_PATTERN.test(timestamp)) return false;
    key ??= importKey();
    // verifyKey is async in discord-interactions v4: without the await every request would pass.
    return await verifyKey(rawBody, signature, timestamp, await key);
  };
}
