/**
 * Charge ids are plain strings to Stripe: charges of some payment methods are `py_...`, and
 * Stripe may change any prefix. A refund or a dispute of such a charge lands like any other.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type Stripe from "stripe";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

async function withPyChargeMember(
  fn: (
    world: WebhookWorld,
    member: { membershipId: string; subscriptionId: string },
  ) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld();
  try {
    world.stripeDouble.setChargeIdPrefix("py");
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    await fn(world, { membershipId: member.membershipId, subscriptionId: subscription.id });
  } finally {
    await world.close();
  }
}

function only(events: Stripe.Event[], type: string): Stripe.Event {
  const matching = events.filter((event) => event.type === type);
  assertEquals(matching.length, 1, `exactly one ${type}`);
  return first(matching, `a ${type} event`);
}

async function revocation(world: WebhookWorld, subscriptionId: string) {
  const [row] = await world.db.sql<{ reason: string; stripe_object_id: string }[]>`
    select reason, stripe_object_id from rolepass.stripe_subscription_revocations
    where stripe_subscription_id = ${subscriptionId}`;
  return row ? { ...row } : row;
}

Deno.test("a full refund of a py_ charge revokes the role", async () => {
  await withPyChargeMember(async (world, member) => {
    const { charge } = world.stripeDouble.refundLatestCharge(member.subscriptionId);
    assert(charge.id.startsWith("py_"), charge.id);
    await postAll(world, [only(world.takeEvents(), "charge.refunded")]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [false, "refund"]);
    assertEquals(await revocation(world, member.subscriptionId), {
      reason: "refund",
      stripe_object_id: charge.id,
    });
  });
});

Deno.test("a dispute of a py_ charge revokes the role", async () => {
  await withPyChargeMember(async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    assert(String(dispute.charge).startsWith("py_"), String(dispute.charge));
    await postAll(world, [only(world.takeEvents(), "charge.dispute.created")]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [false, "dispute"]);
    assertEquals(await revocation(world, member.subscriptionId), {
      reason: "dispute",
      stripe_object_id: dispute.id,
    });
  });
});
