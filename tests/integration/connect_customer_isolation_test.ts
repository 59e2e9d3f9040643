/**
 * Platform mode: when a guild's member's customer also holds a subscription that pays another
 * account (made by hand on the platform account, or moved to another community's account), a
 * legitimate event of the member's own subscription re-reads the customer, and only the
 * subscription paying the guild's own account counts toward the member's role.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { type MemberWorld, withMemberWorld } from "./connect_member_world.ts";

const MEMBER = "200000000000000031";

async function membership(world: MemberWorld, guildId: string) {
  const [row] = await world.db.sql<
    { entitled: boolean; stripe_subscription_id: string | null; status: string | null }[]
  >`
    select entitled, stripe_subscription_id, status from rolepass.memberships
    where guild_id = ${guildId} and discord_user_id = ${MEMBER}`;
  return row;
}

/** A live subscription of the member's own customer, of the guild's price, paying `paidTo`. */
function foreignSubscription(
  world: MemberWorld,
  own: Stripe.Subscription,
  paidTo: string | null,
): Stripe.Subscription {
  const foreign = world.stripeDouble.createForeignSubscription({
    priceId: world.a.priceId,
    customerId: String(own.customer),
  });
  return paidTo ? world.stripeDouble.connect.redirectSubscription(foreign.id, paidTo) : foreign;
}

for (const [paidTo, label] of [["b", "another guild's account"], [null, "the platform alone"]]) {
  Deno.test(`a subscription of the member's customer paying ${label} grants no role`, async () => {
    await withMemberWorld(async (world) => {
      const own = await world.subscribe(world.a, MEMBER);
      assert.equal((await membership(world, world.a.guildId))?.entitled, true);
      foreignSubscription(world, own, paidTo === "b" ? world.b.accountId : null);

      // The member schedules their own cancel: that event is the guild's, and its re-read lists
      // both subscriptions. The own one still drives the membership.
      world.stripeDouble.cancelAtPeriodEnd(own.id);
      await world.deliver("customer.subscription.updated");
      const scheduled = await membership(world, world.a.guildId);
      assert.equal(scheduled?.entitled, true);
      assert.equal(scheduled?.stripe_subscription_id, own.id);

      // Once the own subscription ends, the live one paying elsewhere keeps no role.
      world.stripeDouble.cancelNow(own.id);
      await world.deliver("customer.subscription.deleted");
      const ended = await membership(world, world.a.guildId);
      assert.equal(ended?.stripe_subscription_id, own.id);
      assert.equal(ended?.status, "canceled");
      assert.equal(ended?.entitled, false);
    });
  });
}
