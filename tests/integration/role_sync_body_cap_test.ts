/**
 * role-sync checks its shared secret before it reads anything, then reads the body only up to its
 * cap: a caller with the secret cannot make the function buffer an unbounded body either.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { MAX_WAKE_BODY_BYTES } from "../../functions/role-sync/app.ts";
import { ROLE_SYNC_SECRET, withRoleSync } from "./role_sync_fixtures.ts";

const MB = 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;

/** A body of `totalBytes` produced only as it is read; `pulled` counts what was read. */
function countedBody(totalBytes: number) {
  const counter = { pulled: 0 };
  const chunk = new Uint8Array(CHUNK_BYTES).fill(0x20);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (counter.pulled >= totalBytes) return controller.close();
      counter.pulled += chunk.byteLength;
      controller.enqueue(chunk.slice());
    },
  }, { highWaterMark: 0 });
  return { stream, counter };
}

Deno.test("role-sync refuses a caller without the secret before reading the body", async () => {
  await withRoleSync(async (w) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await w.app.request("/role-sync", { method: "POST", body: stream });
    assertEquals(response.status, 401);
    assertEquals(counter.pulled, 0);
  });
});

Deno.test("role-sync cuts a streamed 200 MB body from a caller with the secret off at its cap", async () => {
  await withRoleSync(async (w) => {
    for (const headers of [{}, { "content-length": "20" }] as Record<string, string>[]) {
      const { stream, counter } = countedBody(200 * MB);
      const response = await w.app.request("/role-sync", {
        method: "POST",
        headers: { "x-rolepass-secret": ROLE_SYNC_SECRET, ...headers },
        body: stream,
      });
      assertEquals(response.status, 413);
      assert(String((await response.json()).error).startsWith("Cannot read the body"));
      assert(counter.pulled <= MAX_WAKE_BODY_BYTES + CHUNK_BYTES, `read ${counter.pulled} bytes`);
    }
    assertEquals(w.discord.requests().length, 0);
  });
});

Deno.test("role-sync refuses a Content-Length over its cap without reading the body", async () => {
  await withRoleSync(async (w) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await w.app.request("/role-sync", {
      method: "POST",
      headers: { "x-rolepass-secret": ROLE_SYNC_SECRET, "content-length": String(200 * MB) },
      body: stream,
    });
    assertEquals(response.status, 413);
    assertEquals(counter.pulled, 0);
  });
});
