/**
 * The webhook re-reads Stripe before it opens its transaction: while Stripe takes its time, no
 * database connection sits "idle in transaction" (holding a pool slot and the customer's lock),
 * and a burst of events about one customer shares its re-reads.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

async function idleInTransaction(world: WebhookWorld): Promise<number> {
  const [row] = await world.db.sql<{ count: number }[]>`
    select count(*)::int as count from pg_stat_activity
    where datname = current_database() and state like 'idle in transaction%'`;
  assert(row, "row is missing");
  return row.count;
}

/** Waits until the double has received a delayed request it has not answered yet. */
async function untilHeld(world: WebhookWorld, path: string): Promise<void> {
  while (
    !world.stripeDouble.requests({ method: "GET", path })
      .some((request) => request.faulted && request.status === null)
  ) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("no connection is idle in transaction while Stripe delays the re-read", async () => {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = world.takeEvents().find((e) => e.type === "checkout.session.completed")!;
    world.stripeDouble.inject({
      method: "GET",
      path: "/v1/subscriptions",
      delayMs: 1_500,
      times: 1,
    });
    const answer = world.post(event);
    await untilHeld(world, "/v1/subscriptions");
    assertEquals(await idleInTransaction(world), 0);
    assertEquals((await answer).status, 200);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  } finally {
    await world.close();
  }
});

Deno.test("a burst of events about one customer shares its Stripe re-reads", async () => {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const events = world.takeEvents();
    assert(events.length >= 4, `expected a burst of events, got ${events.length}`);
    const listsBefore = world.stripeDouble.requests({ method: "GET", path: "/v1/subscriptions" })
      .length;
    // Hold the first re-read at Stripe, so that the rest of the burst surely arrives while it is
    // in flight, however loaded the machine is.
    world.stripeDouble.inject({
      method: "GET",
      path: "/v1/subscriptions",
      delayMs: 3_000,
      times: 1,
    });
    const answers = await Promise.all(events.map((event) => world.post(event)));
    assert(answers.every((answer) => answer.status === 200));
    const lists = world.stripeDouble.requests({ method: "GET", path: "/v1/subscriptions" })
      .length - listsBefore;
    // Events that arrive while a re-read is in flight share the next one: far fewer reads than
    // events (one per event before).
    assert(lists * 2 < events.length, `${events.length} events made ${lists} subscription reads`);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  } finally {
    await world.close();
  }
});

Deno.test("a membership changed by another writer while Stripe is read is decided again on its new state", async () => {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    for (const event of world.takeEvents()) assertEquals((await world.post(event)).status, 200);
    assertEquals((await world.membership(member.membershipId)).status, "active");

    await world.stripe.subscriptions.update(subscription.id, { metadata: { note: "renamed" } });
    const [event] = world.takeEvents().filter((e) => e.type === "customer.subscription.updated");
    assert(event, "Stripe sent no customer.subscription.updated");
    world.stripeDouble.inject({
      method: "GET",
      path: "/v1/subscriptions",
      delayMs: 1_500,
      times: 1,
    });
    const answer = world.post(event);
    await untilHeld(world, "/v1/subscriptions");
    // What the webhook read of the membership before Stripe answered is no longer true.
    await world.db.sql`
      update rolepass.memberships set status = 'past_due' where id = ${member.membershipId}`;
    assertEquals((await answer).status, 200);
    assertEquals((await world.membership(member.membershipId)).status, "active");
  } finally {
    await world.close();
  }
});
