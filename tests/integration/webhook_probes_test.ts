/**
 * What an attacker (or a confused proxy) can send to stripe-webhook: replays, signatures over
 * another body, several v1 entries, timestamps outside the tolerance in either direction,
 * malformed headers and bodies under valid signatures, odd paths and methods. Each gets a clear
 * answer, and nothing that is refused is recorded.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type Stripe from "stripe";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import {
  postAll,
  startWebhookWorld,
  WEBHOOK_SECRET,
  type WebhookWorld,
} from "./webhook_harness.ts";

async function withPurchase(
  fn: (world: WebhookWorld, event: Stripe.Event, membershipId: string) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = world.takeEvents().find((e) => e.type === "checkout.session.completed")!;
    await fn(world, event, member.membershipId);
  } finally {
    await world.close();
  }
}

function nowSeconds(world: WebhookWorld): number {
  return Math.floor(world.clock.now.getTime() / 1000);
}

async function send(
  world: WebhookWorld,
  body: string,
  signature: string | null,
  init: { method?: string; path?: string } = {},
): Promise<Response> {
  return await world.app.fetch(
    new Request(`http://localhost${init.path ?? "/stripe-webhook"}`, {
      method: init.method ?? "POST",
      headers: signature === null ? {} : { "stripe-signature": signature },
      body: init.method === "GET" || init.method === "HEAD" ? undefined : body,
    }),
  );
}

async function assertRefused(response: Response, status: number, error: string): Promise<void> {
  assertEquals(response.status, status);
  assertEquals((await response.json()).error, error);
}

async function assertNothingRecorded(world: WebhookWorld, membershipId: string): Promise<void> {
  assertEquals((await world.db.sql`select id from rolepass.stripe_events`).length, 0);
  assertEquals((await world.membership(membershipId)).entitled, false);
}

Deno.test("a replayed event, even re-signed later, changes nothing the second time", async () => {
  await withPurchase(async (world, event, membershipId) => {
    assertEquals(
      first(await postAll(world, [event]), "an item of (await postAll(world, [event]))").status,
      "applied",
    );
    const jobs = async () =>
      (await world.db.sql`select id from rolepass.role_jobs where membership_id = ${membershipId}`)
        .length;
    const before = await jobs();
    world.clock.now = new Date(world.clock.now.getTime() + 3_600_000);
    assertEquals(
      first(await postAll(world, [event]), "an item of (await postAll(world, [event]))").status,
      "duplicate",
    );
    assertEquals(await jobs(), before);
    const [row] = await world.db
      .sql`select attempts from rolepass.stripe_events where id = ${event.id}`;
    assert(row, "row is missing");
    assertEquals(row.attempts, 1);
  });
});

Deno.test("a signature over a different body is refused", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const body = eventBody(event);
    const signature = await signPayload(
      body.replace("complete", "c0mplete"),
      WEBHOOK_SECRET,
      nowSeconds(world),
    );
    const response = await send(world, body, signature);
    assertEquals(response.status, 400);
    assert(String((await response.json()).error).startsWith("Cannot verify Stripe signature: "));
    await assertNothingRecorded(world, membershipId);
  });
});

Deno.test("several v1 entries pass when one matches and fail when none does", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const body = eventBody(event);
    const t = nowSeconds(world);
    const good = (await signPayload(body, WEBHOOK_SECRET, t)).split(",")[1];
    const wrong = `v1=${"ab".repeat(32)}`;
    const none = await send(world, body, `t=${t},${wrong},${wrong},v0=${"cd".repeat(32)}`);
    assertEquals(none.status, 400);
    await assertNothingRecorded(world, membershipId);
    const one = await send(world, body, `t=${t},${wrong},${good},${wrong}`);
    assertEquals(one.status, 200);
  });
});

Deno.test("a timestamp outside the 300 s tolerance is refused in either direction", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const body = eventBody(event);
    for (const offset of [-301, 301, 86_400 * 365]) {
      const signature = await signPayload(body, WEBHOOK_SECRET, nowSeconds(world) + offset);
      await assertRefused(
        await send(world, body, signature),
        400,
        "Cannot verify Stripe signature: timestamp is outside the tolerance zone",
      );
    }
    await assertNothingRecorded(world, membershipId);
    const inside = await signPayload(body, WEBHOOK_SECRET, nowSeconds(world) + 299);
    assertEquals((await send(world, body, inside)).status, 200);
  });
});

Deno.test("a malformed signature header is refused before the body is read", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const body = eventBody(event);
    const t = nowSeconds(world);
    const hex = "ab".repeat(32);
    for (
      const header of [
        "garbage",
        `t=${t}`,
        `v1=${hex}`,
        `t=later,v1=${hex}`,
        `t=${t},t=${t},v1=${hex}`,
        `t=${t},v1=XYZ`,
        `t=${t},,v1=${hex}`,
        `t=${t},v1=${hex},`.padEnd(3000, "v"),
      ]
    ) {
      const response = await send(world, body, header);
      assertEquals(response.status, 400, header.slice(0, 40));
      assert(String((await response.json()).error).startsWith("Cannot verify Stripe signature: "));
    }
    await assertNothingRecorded(world, membershipId);
  });
});

Deno.test("a valid signature over something that is not an event is a 400 and records nothing", async () => {
  await withPurchase(async (world, _event, membershipId) => {
    const t = nowSeconds(world);
    for (
      const [body, error] of [
        ["{not json", "Cannot read the Stripe event: it is not JSON"],
        ["", "Cannot read the Stripe event: the body is empty"],
        ["null", null],
        ["[]", null],
        ['{"id":"evt_1","type":"invoice.paid"}', null],
        ['{"id":"not-an-event","type":"invoice.paid","data":{"object":{}}}', null],
      ] as const
    ) {
      const response = await send(world, body, await signPayload(body, WEBHOOK_SECRET, t));
      assertEquals(response.status, 400, body);
      const message = String((await response.json()).error);
      if (error) assertEquals(message, error);
      else assert(message.startsWith("Cannot read the Stripe event: "), message);
    }
    await assertNothingRecorded(world, membershipId);
  });
});

Deno.test("a valid signature over an unknown event type is acknowledged and recorded as ignored", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const unknown = { ...event, type: "rolepass.never.heard.of" } as unknown as Stripe.Event;
    const [body] = await postAll(world, [unknown]);
    assert(body, "body is missing");
    assertEquals(body.status, "ignored");
    const [row] = await world.db.sql`
      select ignored, ignored_reason from rolepass.stripe_events where id = ${event.id}`;
    assertEquals({ ...row }, {
      ignored: true,
      ignored_reason: "event type rolepass.never.heard.of is not handled",
    });
    assertEquals((await world.membership(membershipId)).entitled, false);
  });
});

Deno.test("other methods get 405 and other paths 404, as JSON, and record nothing", async () => {
  await withPurchase(async (world, event, membershipId) => {
    const body = eventBody(event);
    const signature = await signPayload(body, WEBHOOK_SECRET, nowSeconds(world));
    for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
      const response = await send(world, body, signature, { method });
      assertEquals(response.status, 405, method);
      assertEquals(response.headers.get("allow"), "POST");
      assertEquals((await response.json()).error, "Cannot handle this method: Stripe sends POST");
    }
    for (const path of ["/stripe-webhook/x", "/stripe-webhook/../role-sync", "/other", "/"]) {
      const response = await send(world, body, signature, { path });
      assertEquals(response.status, 404, path);
      assert(String((await response.json()).error).startsWith("Cannot find this path"), path);
    }
    await assertNothingRecorded(world, membershipId);
  });
});
