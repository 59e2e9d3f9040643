/**
 * stripe-webhook looks at the Stripe-Signature header before it reads the body, and reads the body
 * only up to its cap, whatever Content-Length says and however the body is streamed: a huge POST
 * costs the function no memory. Bodies are counted as the app pulls them from the stream.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import type Stripe from "stripe";
import { MAX_EVENT_BODY_BYTES } from "../../functions/stripe-webhook/app.ts";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import { startWebhookWorld, WEBHOOK_SECRET, type WebhookWorld } from "./webhook_harness.ts";

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

async function withWorld(fn: (world: WebhookWorld) => Promise<void>): Promise<void> {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

/** A signature header of the right form and time (over a body other than the one sent). */
async function wellFormedSignature(world: WebhookWorld): Promise<string> {
  return await signPayload("{}", WEBHOOK_SECRET, Math.floor(world.clock.now.getTime() / 1000));
}

async function postStream(
  world: WebhookWorld,
  body: ReadableStream<Uint8Array>,
  headers: Record<string, string>,
): Promise<Response> {
  return await world.app.fetch(
    new Request("http://localhost/stripe-webhook", { method: "POST", headers, body }),
  );
}

async function assertNothingRecorded(world: WebhookWorld): Promise<void> {
  assertEquals((await world.db.sql`select id from rolepass.stripe_events`).length, 0);
}

/** A real, paid Checkout's completion event, padded with an extra field to `bytes` or more. */
async function paddedPurchase(world: WebhookWorld, bytes: number) {
  const member = await world.newMember();
  world.stripeDouble.completeCheckout(member.sessionId);
  const event = world.takeEvents().find((e) => e.type === "checkout.session.completed")!;
  const padded = { ...event, padding: "x".repeat(bytes) } as Stripe.Event;
  const body = eventBody(padded);
  const now = Math.floor(world.clock.now.getTime() / 1000);
  return { member, body, signature: await signPayload(body, WEBHOOK_SECRET, now) };
}

Deno.test("a 200 MB unsigned POST is refused with 400 before any of its body is read", async () => {
  await withWorld(async (world) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await postStream(world, stream, { "content-type": "application/json" });
    assertEquals(response.status, 400);
    assertEquals(
      (await response.json()).error,
      "Cannot verify Stripe signature: header is missing",
    );
    assertEquals(counter.pulled, 0);
    await assertNothingRecorded(world);
  });
});

Deno.test("a streamed 200 MB POST without Content-Length is cut off at the cap with 413", async () => {
  await withWorld(async (world) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await postStream(world, stream, {
      "stripe-signature": await wellFormedSignature(world),
    });
    assertEquals(response.status, 413);
    assert(String((await response.json()).error).startsWith("Cannot read the Stripe event"));
    assert(counter.pulled <= MAX_EVENT_BODY_BYTES + CHUNK_BYTES, `read ${counter.pulled} bytes`);
    await assertNothingRecorded(world);
  });
});

Deno.test("a Content-Length that understates the body does not lift the cap", async () => {
  await withWorld(async (world) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await postStream(world, stream, {
      "stripe-signature": await wellFormedSignature(world),
      "content-length": "100",
    });
    assertEquals(response.status, 413);
    assert(counter.pulled <= MAX_EVENT_BODY_BYTES + CHUNK_BYTES, `read ${counter.pulled} bytes`);
    await assertNothingRecorded(world);
  });
});

Deno.test("a Content-Length over the cap is refused without reading the body", async () => {
  await withWorld(async (world) => {
    const { stream, counter } = countedBody(200 * MB);
    const response = await postStream(world, stream, {
      "stripe-signature": await wellFormedSignature(world),
      "content-length": String(200 * MB),
    });
    assertEquals(response.status, 413);
    assertEquals(counter.pulled, 0);
    await assertNothingRecorded(world);
  });
});

Deno.test("a correctly signed event over the cap is refused with 413 and changes nothing", async () => {
  await withWorld(async (world) => {
    const { member, body, signature } = await paddedPurchase(world, MAX_EVENT_BODY_BYTES);
    const response = await world.app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": signature },
        body,
      }),
    );
    assertEquals(response.status, 413);
    await assertNothingRecorded(world);
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("a correctly signed event a little under the cap is applied", async () => {
  await withWorld(async (world) => {
    const { member, body, signature } = await paddedPurchase(world, MAX_EVENT_BODY_BYTES - 64_000);
    assert(new TextEncoder().encode(body).byteLength <= MAX_EVENT_BODY_BYTES);
    const response = await world.app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": signature },
        body,
      }),
    );
    assertEquals(response.status, 200);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});
