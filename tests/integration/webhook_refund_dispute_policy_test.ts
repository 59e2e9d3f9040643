/**
 * The guild's refund and dispute policy, through the real webhook function with events signed by
 * the Stripe double: a full refund takes the role and cancels the subscription so nothing is
 * charged again, a partial refund keeps the role and is recorded, `revoke_only` gives the role back
 * with the next paid period, and a dispute takes the role until it is won (or, lost, cancels).
 */
import type Stripe from "stripe";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

interface Subscribed {
  membershipId: string;
  subscriptionId: string;
}

async function withWorld(
  policies: { refund?: string; dispute?: string },
  fn: (world: WebhookWorld, member: Subscribed) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld();
  try {
    if (policies.refund || policies.dispute) {
      await world.db.sql`
        update rolepass.guilds set
          refund_policy = coalesce(${policies.refund ?? null}, refund_policy),
          dispute_policy = coalesce(${policies.dispute ?? null}, dispute_policy)
        where id = ${world.guildId}`;
    }
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

/** The cancellations rolepass sent to Stripe for `subscriptionId`. */
function cancelRequests(world: WebhookWorld, subscriptionId: string) {
  return world.stripeDouble.requests({ method: "DELETE" })
    .filter((request) => request.path === `/v1/subscriptions/${subscriptionId}`);
}

function stripeStatus(world: WebhookWorld, subscriptionId: string): string {
  return (world.stripeDouble.get(subscriptionId) as Stripe.Subscription).status;
}

async function outcomes(world: WebhookWorld, membershipId: string) {
  const rows = await world.db.sql<Record<string, unknown>[]>`
    select stage, stripe_object_id, policy, role_effect, subscription_canceled,
      amount::integer as amount
    from rolepass.refund_dispute_outcomes where membership_id = ${membershipId}
    order by decided_at, stage`;
  return rows.map((row) => ({ ...row }));
}

async function refundedFully(
  world: WebhookWorld,
  member: Subscribed,
  refund: () => Promise<Stripe.Charge>,
): Promise<void> {
  const charge = await refund();
  const events = world.takeEvents();
  await postAll(world, events);
  const membership = await world.membership(member.membershipId);
  assertEquals([membership.entitled, membership.revoked_reason], [false, "refund"]);
  assertEquals(stripeStatus(world, member.subscriptionId), "canceled");
  const cancels = cancelRequests(world, member.subscriptionId);
  assertEquals(cancels.length, 1);
  assertEquals(
    first(cancels, "an item of cancels").idempotencyKey,
    `rolepass-cancel-after-${charge.id}`,
  );
  assertEquals(await outcomes(world, member.membershipId), [{
    stage: "full_refund",
    stripe_object_id: charge.id,
    policy: "revoke_and_cancel",
    role_effect: "revoked",
    subscription_canceled: true,
    amount: charge.amount,
  }]);

  // Stripe's retries and the cancellation's own events change nothing and cancel nothing again.
  await postAll(world, [...events, ...world.takeEvents()]);
  await postAll(world, events);
  assertEquals(cancelRequests(world, member.subscriptionId).length, 1);
  assertEquals((await world.membership(member.membershipId)).entitled, false);
}

Deno.test("a full refund made in the Dashboard revokes the role and cancels the subscription once", async () => {
  await withWorld({}, async (world, member) => {
    await refundedFully(world, member, () => {
      return Promise.resolve(world.stripeDouble.refundLatestCharge(member.subscriptionId).charge);
    });
  });
});

Deno.test("a full refund made through the API behaves as one made in the Dashboard", async () => {
  await withWorld({}, async (world, member) => {
    await refundedFully(world, member, async () => {
      const invoice = await world.stripe.invoices.list({ subscription: member.subscriptionId });
      const [payment] = (await world.stripe.invoicePayments.list({
        invoice: first(invoice.data, "an item of invoice.data").id,
      }))
        .data;
      assert(payment, "payment is missing");
      const paymentIntent = String(payment.payment.payment_intent);
      const refund = await world.stripe.refunds.create({ payment_intent: paymentIntent });
      return await world.stripe.charges.retrieve(String(refund.charge));
    });
  });
});

Deno.test("a partial refund keeps the role and the subscription, and is recorded with its amount", async () => {
  await withWorld({}, async (world, member) => {
    const { charge } = world.stripeDouble.refundLatestCharge(member.subscriptionId, {
      full: false,
      amount: 300,
    });
    await postAll(world, world.takeEvents());
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [true, null]);
    assertEquals(stripeStatus(world, member.subscriptionId), "active");
    assertEquals(cancelRequests(world, member.subscriptionId).length, 0);
    assertEquals(await outcomes(world, member.membershipId), [{
      stage: "partial_refund",
      stripe_object_id: charge.id,
      policy: "revoke_and_cancel",
      role_effect: "kept",
      subscription_canceled: false,
      amount: 300,
    }]);
  });
});

Deno.test("under revoke_only a full refund takes the role for its period and the next paid period gives it back", async () => {
  await withWorld({ refund: "revoke_only" }, async (world, member) => {
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    await postAll(world, world.takeEvents());
    let membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled, membership.revoked_reason], [
      "active",
      false,
      "refund",
    ]);
    assertEquals(cancelRequests(world, member.subscriptionId).length, 0);

    world.stripeDouble.advanceToPeriodEnd(member.subscriptionId, { outcome: "paid" });
    await postAll(world, world.takeEvents());
    membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled, membership.revoked_reason], [
      "active",
      true,
      null,
    ]);
  });
});

Deno.test("under revoke_only a renewal that fails does not give the role back", async () => {
  await withWorld({ refund: "revoke_only" }, async (world, member) => {
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    world.stripeDouble.advanceToPeriodEnd(member.subscriptionId, { outcome: "payment_failed" });
    await postAll(world, world.takeEvents());
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["past_due", false]);
  });
});

Deno.test("a dispute takes the role while open and a won dispute gives it back", async () => {
  await withWorld({}, async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    await postAll(world, world.takeEvents());
    let membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [false, "dispute"]);
    assertEquals(stripeStatus(world, member.subscriptionId), "active");

    world.stripeDouble.closeDispute(dispute.id, "won");
    await postAll(world, world.takeEvents());
    membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [true, null]);
    assertEquals(cancelRequests(world, member.subscriptionId).length, 0);
    const stages = (await outcomes(world, member.membershipId)).map((o) => o.role_effect);
    assertEquals(stages, ["revoked", "restored"]);
  });
});

Deno.test("a won dispute whose opening event arrives last still leaves the role in place", async () => {
  await withWorld({}, async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    const opened = only(world.takeEvents(), "charge.dispute.created");
    world.stripeDouble.closeDispute(dispute.id, "won");
    await postAll(world, [...world.takeEvents(), opened]);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("a lost dispute keeps the role revoked and cancels the subscription once", async () => {
  await withWorld({}, async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    await postAll(world, world.takeEvents());
    world.stripeDouble.closeDispute(dispute.id, "lost");
    const closed = world.takeEvents();
    await postAll(world, closed);
    await postAll(world, [...closed, ...world.takeEvents()]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled, membership.revoked_reason], [
      "canceled",
      false,
      "dispute",
    ]);
    const cancels = cancelRequests(world, member.subscriptionId);
    assertEquals(cancels.length, 1);
    assertEquals(
      first(cancels, "an item of cancels").idempotencyKey,
      `rolepass-cancel-after-${dispute.id}`,
    );
  });
});

Deno.test("under revoke_only a lost dispute keeps the subscription running", async () => {
  await withWorld({ dispute: "revoke_only" }, async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    world.stripeDouble.closeDispute(dispute.id, "lost");
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, false);
    assertEquals(stripeStatus(world, member.subscriptionId), "active");
    assert(cancelRequests(world, member.subscriptionId).length === 0);
  });
});

Deno.test("a guild that turns the old revoke_on_refund switch off gets the keep policy", async () => {
  await withWorld({}, async (world, member) => {
    await world.db
      .sql`update rolepass.guilds set revoke_on_refund = false where id = ${world.guildId}`;
    const [guild] = await world.db.sql`
      select refund_policy, dispute_policy from rolepass.guilds where id = ${world.guildId}`;
    assertEquals({ ...guild }, { refund_policy: "keep", dispute_policy: "revoke_and_cancel" });
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    assertEquals(stripeStatus(world, member.subscriptionId), "active");
  });
});
