/**
 * Refund and dispute events are re-read from Stripe like every other event, through the real
 * webhook and the Stripe double: what the role and the subscription become follows what Stripe
 * says of the charge and the dispute when the event is handled, never what the event's payload
 * said when it was sent (a late event carries an old payload; any event may be the only one that
 * arrives).
 */
import type Stripe from "stripe";
import { assertEquals } from "../harness/assert.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

interface Subscribed {
  membershipId: string;
  subscriptionId: string;
}

async function withSubscriber(fn: (world: WebhookWorld, member: Subscribed) => Promise<void>) {
  const world = await startWebhookWorld();
  try {
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    await fn(world, { membershipId: member.membershipId, subscriptionId: subscription.id });
  } finally {
    await world.close();
  }
}

function ofType(events: Stripe.Event[], type: string): Stripe.Event[] {
  return events.filter((event) => event.type === type);
}

/** `event` as Stripe sent it, with its object's `status` saying `status` instead. */
function sayingStatus(event: Stripe.Event, status: string): Stripe.Event {
  const copy = structuredClone(event);
  (copy.data.object as unknown as { status: string }).status = status;
  return copy;
}

function cancels(world: WebhookWorld, subscriptionId: string) {
  return world.stripeDouble.requests({ method: "DELETE" })
    .filter((request) => request.path === `/v1/subscriptions/${subscriptionId}`);
}

async function state(world: WebhookWorld, member: Subscribed) {
  const membership = await world.membership(member.membershipId);
  const subscription = world.stripeDouble.get(member.subscriptionId) as Stripe.Subscription;
  return {
    entitled: membership.entitled,
    revokedReason: membership.revoked_reason,
    stripeStatus: subscription.status,
    cancels: cancels(world, member.subscriptionId).length,
  };
}

Deno.test("a lost dispute's closing event alone, saying 'won': revoked, cancelled", async () => {
  await withSubscriber(async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    world.stripeDouble.closeDispute(dispute.id, "lost");
    const [closed] = ofType(world.takeEvents(), "charge.dispute.closed");
    const stale = sayingStatus(closed!, "won");
    await postAll(world, [stale]);
    await postAll(world, [stale, ...world.takeEvents()]);
    assertEquals(await state(world, member), {
      entitled: false,
      revokedReason: "dispute",
      stripeStatus: "canceled",
      cancels: 1,
    });
  });
});

Deno.test("a won dispute's closing event, alone and saying 'lost', keeps the role", async () => {
  await withSubscriber(async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    world.stripeDouble.closeDispute(dispute.id, "won");
    const [closed] = ofType(world.takeEvents(), "charge.dispute.closed");
    await postAll(world, [sayingStatus(closed!, "lost")]);
    assertEquals(await state(world, member), {
      entitled: true,
      revokedReason: null,
      stripeStatus: "active",
      cancels: 0,
    });
  });
});

Deno.test("an opening event handled after the dispute was won changes nothing", async () => {
  await withSubscriber(async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    const [opened] = ofType(world.takeEvents(), "charge.dispute.created");
    world.stripeDouble.closeDispute(dispute.id, "won");
    world.takeEvents();
    await postAll(world, [opened!]);
    assertEquals(await state(world, member), {
      entitled: true,
      revokedReason: null,
      stripeStatus: "active",
      cancels: 0,
    });
  });
});

Deno.test("a partial refund's event, late after the rest was refunded, reads as full", async () => {
  await withSubscriber(async (world, member) => {
    world.stripeDouble.refundLatestCharge(member.subscriptionId, { full: false, amount: 100 });
    const [partial] = ofType(world.takeEvents(), "charge.refunded");
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    world.takeEvents();
    await postAll(world, [partial!]);
    await postAll(world, world.takeEvents());
    assertEquals(await state(world, member), {
      entitled: false,
      revokedReason: "refund",
      stripeStatus: "canceled",
      cancels: 1,
    });
  });
});

Deno.test("a refund event saying 'in full', when Stripe says in part, keeps the role", async () => {
  await withSubscriber(async (world, member) => {
    const { charge } = world.stripeDouble.refundLatestCharge(member.subscriptionId, {
      full: false,
      amount: 100,
    });
    const [event] = ofType(world.takeEvents(), "charge.refunded");
    const full = structuredClone(event!);
    Object.assign(full.data.object, { refunded: true, amount_refunded: charge.amount });
    await postAll(world, [full]);
    assertEquals(await state(world, member), {
      entitled: true,
      revokedReason: null,
      stripeStatus: "active",
      cancels: 0,
    });
  });
});
