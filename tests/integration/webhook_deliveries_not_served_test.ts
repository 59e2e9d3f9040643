/**
 * Signed deliveries the endpoint must not act on are acknowledged (200, so Stripe stops retrying)
 * and recorded as ignored with the reason: an event of the other mode than the key's, an event
 * of a Connect account, and an event whose object Stripe answers 404 for on the re-read. A real
 * dependency failure on the same re-read still answers 500.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type Stripe from "stripe";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import {
  postAll,
  startWebhookWorld,
  WEBHOOK_SECRET,
  type WebhookWorld,
} from "./webhook_harness.ts";

async function withWorld(fn: (world: WebhookWorld) => Promise<void>): Promise<void> {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

function only(events: Stripe.Event[], type: string): Stripe.Event {
  const matching = events.filter((event) => event.type === type);
  assertEquals(matching.length, 1, `exactly one ${type}`);
  return first(matching, `a ${type} event`);
}

function freshEventId(): string {
  return `evt_${crypto.randomUUID().replaceAll("-", "")}`;
}

async function purchase(world: WebhookWorld) {
  const member = await world.newMember();
  const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
  return { member, subscription, events: world.takeEvents() };
}

async function eventRow(world: WebhookWorld, eventId: string) {
  const [row] = await world.db.sql<
    {
      ignored: boolean;
      processed: boolean;
      ignored_reason: string | null;
      last_error: string | null;
    }[]
  >`
    select ignored, processed_at is not null as processed, ignored_reason, last_error
    from rolepass.stripe_events where id = ${eventId}`;
  return row ? { ...row } : row;
}

Deno.test("a live-mode event at a test-mode key is acknowledged, ignored with its reason and applies nothing", async () => {
  await withWorld(async (world) => {
    const { member, events } = await purchase(world);
    const live = { ...only(events, "checkout.session.completed"), livemode: true };
    const [body] = await postAll(world, [live]);
    assert(body, "body is missing");
    assertEquals(body.status, "ignored");
    const row = await eventRow(world, live.id);
    assert(row, "row is missing");
    assertEquals([row.ignored, row.processed, row.last_error], [true, true, null]);
    assertEquals(row.ignored_reason, "live-mode event, but the Stripe key is a test-mode key");
    assertEquals((await world.membership(member.membershipId)).entitled, false);

    const [again] = await postAll(world, [live]);
    assert(again, "again is missing");
    assertEquals(again.status, "duplicate");
  });
});

Deno.test("a test-mode event at a live-mode key is acknowledged and ignored", async () => {
  await withWorld(async (world) => {
    const { member, events } = await purchase(world);
    const completed = only(events, "checkout.session.completed");
    const liveApp = createApp({ ...world.deps, livemode: true });
    const body = eventBody(completed);
    const now = Math.floor(world.clock.now.getTime() / 1000);
    const response = await liveApp.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": await signPayload(body, WEBHOOK_SECRET, now) },
        body,
      }),
    );
    assertEquals(response.status, 200);
    assertEquals((await response.json()).status, "ignored");
    assertEquals(
      (await eventRow(world, completed.id))?.ignored_reason,
      "test-mode event, but the Stripe key is a live-mode key",
    );
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("an event of a Connect account is acknowledged, ignored with its reason and applies nothing", async () => {
  await withWorld(async (world) => {
    const { member, events } = await purchase(world);
    const connected = {
      ...only(events, "checkout.session.completed"),
      account: "acct_1OtherCommunity0001",
    };
    const [body] = await postAll(world, [connected]);
    assert(body, "body is missing");
    assertEquals(body.status, "ignored");
    const row = await eventRow(world, connected.id);
    assert(row, "row is missing");
    assertEquals([row.ignored, row.processed], [true, true]);
    assertEquals(
      row.ignored_reason,
      "event of Connect account acct_1OtherCommunity0001, which this deployment does not serve",
    );
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("a signed charge.refunded for a charge Stripe does not have is acknowledged and ignored, not 500", async () => {
  await withWorld(async (world) => {
    const { member, subscription, events } = await purchase(world);
    await postAll(world, events);
    world.stripeDouble.refundLatestCharge(subscription.id);
    const refunded = only(world.takeEvents(), "charge.refunded");
    const unknown = structuredClone(refunded);
    unknown.id = freshEventId();
    (unknown.data.object as Stripe.Charge).id = "ch_1NoSuchChargeAtStripe0";

    const response = await world.post(unknown);
    assertEquals(response.status, 200);
    assertEquals((await response.json()).status, "ignored");
    const row = await eventRow(world, unknown.id);
    assert(row, "row is missing");
    assertEquals([row.ignored, row.processed, row.last_error], [true, true, null]);
    assert(row.ignored_reason?.includes("ch_1NoSuchChargeAtStripe0"), row.ignored_reason ?? "");
    assertEquals((await world.membership(member.membershipId)).entitled, true);

    assertEquals(
      first(await postAll(world, [unknown]), "an item of (await postAll(world, [unknown]))").status,
      "duplicate",
    );
  });
});

Deno.test("Stripe failing with 500 on the charge re-read still answers 500 and leaves the event open", async () => {
  await withWorld(async (world) => {
    const { member, subscription, events } = await purchase(world);
    await postAll(world, events);
    world.stripeDouble.refundLatestCharge(subscription.id);
    const refunded = only(world.takeEvents(), "charge.refunded");
    // The SDK retries once on its own; both attempts fail.
    world.stripeDouble.inject({ method: "GET", path: /^\/v1\/charges\//, status: 500, times: 2 });
    const response = await world.post(refunded);
    assertEquals(response.status, 500);
    const row = await eventRow(world, refunded.id);
    assert(row, "row is missing");
    assertEquals([row.ignored, row.processed, row.ignored_reason], [false, false, null]);
    assertEquals((await world.membership(member.membershipId)).entitled, true);

    world.stripeDouble.clearFaults();
    await postAll(world, [refunded]);
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});
