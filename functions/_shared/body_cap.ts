/**
 * Reads a request body up to a cap, counting the bytes as they arrive.
 *
 * Hono's `bodyLimit` trusts a Content-Length header when no Transfer-Encoding is present; this
 * reader refuses an over-cap Content-Length at once and counts the streamed bytes whatever the
 * headers say, so neither a lying Content-Length nor a chunked body buffers more than the cap.
 */

/** The body's bytes, or the news that it is larger than the cap. */
export type CappedBody = { ok: true; bytes: Uint8Array } | { ok: false; reason: "too_large" };

/**
 * Reads `request`'s body, giving up (and cancelling the stream) as soon as it exceeds `maxBytes`.
 *
 * @param request the incoming request; its body is consumed.
 * @param maxBytes the largest body accepted.
 * @returns the bytes read, or `{ ok: false, reason: "too_large" }`.
 */
export async function readCappedBody(request: Request, maxBytes: number): Promise<CappedBody> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > maxBytes) {
    request.body?.cancel().catch(() => {});
    return { ok: false, reason: "too_large" };
  }
  if (!request.body) return { ok: true, bytes: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      return { ok: false, reason: "too_large" };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}
