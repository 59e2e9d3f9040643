/**
 * The Stripe event ledger's one explicit status, driven through the real webhook app and database:
 * received events end processed, ignored or failed, a failure retried ends processed, and the
 * table refuses a status that disagrees with the older columns.
 */
import { assert, assertEquals, assertRejects } from "../harness/assert.ts";
import type Stripe from "stripe";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

async function withWorld(fn: (world: WebhookWorld) => Promise<void>): Promise<void> {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

async function ledgerRow(world: WebhookWorld, eventId: string) {
  const [row] = await world.db.sql<
    { status: string; processed: boolean; ignored: boolean; failed: boolean }[]
  >`
    select status, processed_at is not null as processed, ignored,
      last_error is not null as failed
    from rolepass.stripe_events where id = ${eventId}`;
  return row ? { ...row } : row;
}

function completedCheckout(events: Stripe.Event[]): Stripe.Event {
  const event = events.find((e) => e.type === "checkout.session.completed");
  if (!event) throw new Error("the double emitted no checkout.session.completed");
  return event;
}

Deno.test("an applied event is processed, and its replay leaves it so", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = completedCheckout(world.takeEvents());
    await postAll(world, [event]);
    const expected = { status: "processed", processed: true, ignored: false, failed: false };
    assertEquals(await ledgerRow(world, event.id), expected);
    const [again] = await postAll(world, [event]);
    assert(again, "again is missing");
    assertEquals(again.status, "duplicate");
    assertEquals(await ledgerRow(world, event.id), expected);
  });
});

Deno.test("an event acknowledged without being applied is ignored", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const live = { ...completedCheckout(world.takeEvents()), livemode: true };
    await postAll(world, [live]);
    assertEquals(await ledgerRow(world, live.id), {
      status: "ignored",
      processed: true,
      ignored: true,
      failed: false,
    });
  });
});

Deno.test("a failed event is failed until Stripe's retry processes it", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = completedCheckout(world.takeEvents());
    // The SDK retries once on its own; both attempts fail.
    world.stripeDouble.inject({ method: "GET", path: "/v1/subscriptions", status: 500, times: 2 });
    assertEquals((await world.post(event)).status, 500);
    assertEquals(await ledgerRow(world, event.id), {
      status: "failed",
      processed: false,
      ignored: false,
      failed: true,
    });
    assertEquals((await world.post(event)).status, 200);
    assertEquals(await ledgerRow(world, event.id), {
      status: "processed",
      processed: true,
      ignored: false,
      failed: false,
    });
  });
});

Deno.test("the ledger refuses a status that disagrees with processed_at, ignored or last_error", async () => {
  await withWorld(async (world) => {
    const insert = (status: string, processed: boolean, ignored: boolean, error: string | null) =>
      world.db.sql`
        insert into rolepass.stripe_events (id, type, status, processed_at, ignored, last_error)
        values (${"evt_" + crypto.randomUUID().replaceAll("-", "")}, 'invoice.paid', ${status},
          ${processed ? new Date() : null}, ${ignored}, ${error})`;
    await assertRejects(
      () => insert("processed", false, false, null),
      Error,
      "stripe_events_status_matches_processed_at",
    );
    await assertRejects(
      () => insert("received", true, false, null),
      Error,
      "stripe_events_status_matches_processed_at",
    );
    await assertRejects(
      () => insert("processed", true, true, null),
      Error,
      "stripe_events_status_matches_ignored",
    );
    await assertRejects(
      () => insert("failed", false, false, null),
      Error,
      "stripe_events_failed_has_error",
    );
    await assertRejects(() => insert("lost", false, false, null), Error, "stripe_events_status");
  });
});
