/**
 * Dependency failures while an event is processed: Stripe answering 500 or not answering in time,
 * and the database failing mid-transaction. Each leaves nothing half-applied and
 * the event unprocessed; Stripe's retry of the same event then finishes the work.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import type Stripe from "stripe";
import { startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

async function purchaseEvent(world: WebhookWorld) {
  const member = await world.newMember();
  world.stripeDouble.completeCheckout(member.sessionId);
  const event = world.takeEvents().find((e) => e.type === "checkout.session.completed")!;
  return { member, event };
}

async function eventRow(world: WebhookWorld, event: Stripe.Event) {
  const [row] = await world.db.sql<
    { processed_at: Date | null; attempts: number; last_error: string | null }[]
  >`select processed_at, attempts, last_error from rolepass.stripe_events where id = ${event.id}`;
  assert(row, "row is missing");
  return row;
}

async function assertNothingApplied(world: WebhookWorld, membershipId: string) {
  const membership = await world.membership(membershipId);
  assertEquals([membership.status, membership.entitled], [null, false]);
  const jobs = await world.db
    .sql`select id from rolepass.role_jobs where membership_id = ${membershipId}`;
  assertEquals(jobs.length, 0);
}

Deno.test("Stripe failing with 500 answers 500, applies nothing, and the retry finishes", async () => {
  const world = await startWebhookWorld();
  try {
    const { member, event } = await purchaseEvent(world);
    // The SDK retries once on its own; both attempts fail.
    world.stripeDouble.inject({ method: "GET", path: "/v1/subscriptions", status: 500, times: 2 });
    const failed = await world.post(event);
    assertEquals(failed.status, 500);
    await assertNothingApplied(world, member.membershipId);
    const row = await eventRow(world, event);
    assert(row, "row is missing");
    assertEquals([row.processed_at, row.attempts], [null, 1]);
    assert(row.last_error);

    const retried = await world.post(event);
    assertEquals(retried.status, 200);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    const done = await eventRow(world, event);
    assert(done, "done is missing");
    assert(done.processed_at);
    assertEquals([done.attempts, done.last_error], [2, null]);
  } finally {
    await world.close();
  }
});

Deno.test("Stripe timing out answers 500, applies nothing, and the retry finishes", async () => {
  const world = await startWebhookWorld({ stripeTimeoutMs: 200 });
  try {
    const { member, event } = await purchaseEvent(world);
    world.stripeDouble.inject({
      method: "GET",
      path: "/v1/subscriptions",
      delayMs: 1_000,
      times: 2,
    });
    const failed = await world.post(event);
    assertEquals(failed.status, 500);
    await assertNothingApplied(world, member.membershipId);
    assertEquals((await eventRow(world, event)).processed_at, null);

    world.stripeDouble.clearFaults();
    assertEquals((await world.post(event)).status, 200);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  } finally {
    await world.close();
  }
});

Deno.test("a database failure mid-event applies nothing, and the retry finishes", async () => {
  const world = await startWebhookWorld();
  try {
    const { member, event } = await purchaseEvent(world);
    // The Stripe re-read happens before the transaction, so hold the customer's lock from another
    // session: the function's transaction then waits on it, and its statement is cancelled as soon
    // as it shows up waiting (found by looking, not by a guessed sleep). Cancelling rather than
    // terminating: postgres.js 3.4.9 throws an uncaught socket error when its connection is
    // terminated during an active query.
    const holder = await world.db.sql.reserve();
    await holder`begin`;
    await holder`select pg_advisory_xact_lock(
      hashtextextended(${"stripe_customer:" + member.customerId}, 0))`;
    const pending = world.post(event);
    let killed: readonly unknown[] = [];
    try {
      for (let look = 0; look < 2_000 && killed.length === 0; look++) {
        killed = await world.db.sql`
          select pg_cancel_backend(pid) from pg_stat_activity
          where datname = current_database() and application_name = 'rolepass'
            and wait_event_type = 'Lock' and wait_event = 'advisory'`;
      }
    } finally {
      await holder`rollback`;
      holder.release();
    }
    assert(killed.length >= 1, "the function's transaction was found and cancelled");
    const failed = await pending;
    assertEquals(failed.status, 500);
    await assertNothingApplied(world, member.membershipId);
    const row = await eventRow(world, event);
    assert(!row?.processed_at);

    assertEquals((await world.post(event)).status, 200);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["active", true]);
    const jobs = await world.db
      .sql`select id from rolepass.role_jobs where membership_id = ${member.membershipId}`;
    assertEquals(jobs.length, 1);
  } finally {
    await world.close();
  }
});
