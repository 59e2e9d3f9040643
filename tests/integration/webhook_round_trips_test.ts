/**
 * What one webhook event costs the database, counted statement by statement on the app's own
 * client (postgres.js's `debug` hook sees every statement sent, `begin` and `commit` included).
 * Each round trip is a few hundred microseconds of a pool slot, and a statement sent from inside a
 * transaction keeps the connection idle in transaction while JavaScript runs between statements:
 * these tests pin the counts so that a later change cannot bring the round trips back.
 */
import postgres from "postgres";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import type Stripe from "stripe";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import {
  postAll,
  startWebhookWorld,
  WEBHOOK_SECRET,
  type WebhookWorld,
} from "./webhook_harness.ts";

/** The webhook's app on a client that records every statement it sends. */
function countingApp(world: WebhookWorld) {
  const statements: string[] = [];
  const sql = postgres(world.db.url, {
    prepare: false,
    max: 1,
    onnotice: () => {},
    debug: (_connection, query) => statements.push(query.replace(/\s+/g, " ").trim()),
  });
  const app = createApp({ ...world.deps, sql });
  // The connection's first query reads the database's array types once: not the event's.
  const warm = async () => {
    await sql`select 1`;
    statements.length = 0;
  };
  return { app, sql, statements, warm };
}

async function withSubscribedMember(
  fn: (
    world: WebhookWorld,
    member: { membershipId: string; subscriptionId: string },
  ) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    await fn(world, { membershipId: member.membershipId, subscriptionId: subscription.id });
  } finally {
    await world.close();
  }
}

/** Posts `event` to `app`, signed as Stripe signs it, and checks Stripe's 200. */
async function postTo(
  world: WebhookWorld,
  app: ReturnType<typeof createApp>,
  event: Stripe.Event,
): Promise<unknown> {
  const body = eventBody(event);
  const header = await signPayload(
    body,
    WEBHOOK_SECRET,
    Math.floor(world.clock.now.getTime() / 1000),
  );
  const response = await app.fetch(
    new Request("http://localhost/stripe-webhook", {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": header },
      body,
    }),
  );
  const answer = await response.json();
  assertEquals(response.status, 200, JSON.stringify(answer));
  return answer;
}

Deno.test("a webhook event that changes a membership takes at most 2 round trips to the database", async () => {
  await withSubscribedMember(async (world, member) => {
    await world.stripe.subscriptions.update(member.subscriptionId, { cancel_at_period_end: true });
    const [event] = world.takeEvents().filter((e) => e.type === "customer.subscription.updated");
    assert(event, "Stripe sent no customer.subscription.updated");
    const counting = countingApp(world);
    await counting.warm();
    try {
      const answer = await postTo(world, counting.app, event) as { changed?: boolean };
      assertEquals(answer.changed, true, JSON.stringify(answer));
      assert(
        counting.statements.length <= 2,
        `${counting.statements.length} round trips:\n${counting.statements.join("\n")}`,
      );
      assert((await world.membership(member.membershipId)).cancel_at, "the cancel was not applied");
    } finally {
      await counting.sql.end({ timeout: 5 });
    }
  });
});

Deno.test("a webhook event that changes nothing takes at most 2 round trips, none inside an open transaction", async () => {
  await withSubscribedMember(async (world, member) => {
    await world.stripe.subscriptions.update(member.subscriptionId, { metadata: { note: "x" } });
    const [event] = world.takeEvents().filter((e) => e.type === "customer.subscription.updated");
    assert(event, "Stripe sent no customer.subscription.updated");
    const counting = countingApp(world);
    await counting.warm();
    try {
      const answer = await postTo(world, counting.app, event) as { status?: string };
      assertEquals(answer.status, "applied", JSON.stringify(answer));
      assert(
        counting.statements.length <= 2,
        `${counting.statements.length} round trips:\n${counting.statements.join("\n")}`,
      );
      assert(
        !counting.statements.some((statement) => /^(begin|commit)\b/i.test(statement)),
        `a transaction spans statements:\n${counting.statements.join("\n")}`,
      );
    } finally {
      await counting.sql.end({ timeout: 5 });
    }
  });
});

Deno.test("a replayed webhook event takes one round trip and no Stripe call", async () => {
  await withSubscribedMember(async (world, member) => {
    await world.stripe.subscriptions.update(member.subscriptionId, { cancel_at_period_end: true });
    const [event] = world.takeEvents().filter((e) => e.type === "customer.subscription.updated");
    assert(event, "Stripe sent no customer.subscription.updated");
    assertEquals((await world.post(event)).status, 200);
    const counting = countingApp(world);
    await counting.warm();
    const stripeCallsBefore = world.stripeDouble.requests({}).length;
    try {
      const answer = await postTo(world, counting.app, event) as { status?: string };
      assertEquals(answer.status, "duplicate");
      assertEquals(counting.statements.length, 1, counting.statements.join("\n"));
      assertEquals(world.stripeDouble.requests({}).length, stripeCallsBefore);
    } finally {
      await counting.sql.end({ timeout: 5 });
    }
  });
});
