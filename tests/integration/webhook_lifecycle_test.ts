/**
 * The stripe-webhook function against the real database and the Stripe double: every handled
 * event type, every status transition, scheduled cancels in both billing modes, past_due with and
 * without grace, refunds, disputes and subscriptions rolepass did not create.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type Stripe from "stripe";
import { type Member, postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const DAY = 86_400_000;

async function withWorld(
  options: Parameters<typeof startWebhookWorld>[0],
  fn: (world: WebhookWorld) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld(options);
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

/** A member whose Checkout was paid and whose purchase events were all delivered. */
async function subscribedMember(
  world: WebhookWorld,
  billingMode?: "classic" | "flexible",
): Promise<Member & { subscriptionId: string }> {
  const member = await world.newMember({ billingMode });
  const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
  await postAll(world, world.takeEvents());
  return { ...member, subscriptionId: subscription.id };
}

async function history(world: WebhookWorld, membershipId: string) {
  const rows = await world.db.sql<
    {
      cause: string;
      stripe_event_id: string | null;
      old_status: string | null;
      new_status: string | null;
      old_entitled: boolean | null;
      new_entitled: boolean | null;
    }[]
  >`
    select cause, stripe_event_id, old_status, new_status, old_entitled, new_entitled
    from rolepass.membership_history where membership_id = ${membershipId} order by id`;
  return rows.map((row) => ({ ...row }));
}

async function roleJobs(world: WebhookWorld, membershipId: string) {
  const rows = await world.db.sql<{ entitled: boolean; role_id: string | null; cause: string }[]>`
    select entitled, role_id, cause from rolepass.role_jobs
    where membership_id = ${membershipId} order by id`;
  return rows.map((row) => ({ ...row }));
}

function only(events: Stripe.Event[], type: string): Stripe.Event {
  const matching = events.filter((event) => event.type === type);
  assertEquals(matching.length, 1, `exactly one ${type}`);
  return first(matching, `a ${type} event`);
}

Deno.test("a paid Checkout grants the role once, with the event id in the history", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const events = world.takeEvents();
    const completed = only(events, "checkout.session.completed");
    const [first] = await postAll(world, [completed]);
    assert(first, "first is missing");
    assertEquals(first.status, "applied");
    await postAll(world, events.filter((event) => event !== completed));

    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["active", true]);
    assertEquals(membership.entitled_role_id, world.plan.roleId);
    assertEquals(membership.change_event_id, completed.id);
    const changes = await history(world, member.membershipId);
    const grant = changes.find((row) => row.new_entitled && !row.old_entitled)!;
    assertEquals(
      [grant.cause, grant.stripe_event_id, grant.old_status, grant.new_status],
      ["checkout.session.completed", completed.id, null, "active"],
    );
    assertEquals(await roleJobs(world, member.membershipId), [
      { entitled: true, role_id: world.plan.roleId, cause: completed.id },
    ]);
  });
});

Deno.test("each purchase event alone re-reads Stripe and grants the role", async () => {
  for (const type of ["customer.subscription.created", "invoice.paid"]) {
    await withWorld({}, async (world) => {
      const member = await world.newMember();
      world.stripeDouble.completeCheckout(member.sessionId);
      const event = only(world.takeEvents(), type);
      const [body] = await postAll(world, [event]);
      assert(body, "body is missing");
      assertEquals(body.status, "applied", type);
      const membership = await world.membership(member.membershipId);
      assertEquals([membership.entitled, membership.change_cause], [true, type]);
    });
  }
});

Deno.test("a declined first payment leaves the subscription incomplete and never grants", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId, {
      outcome: "payment_failed",
    });
    const events = world.takeEvents();
    only(events, "invoice.payment_failed");
    await postAll(world, events);
    let membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["incomplete", false]);

    world.stripeDouble.cancelNow(subscription.id);
    await postAll(world, world.takeEvents());
    membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["incomplete_expired", false]);
    assertEquals(await roleJobs(world, member.membershipId), []);
  });
});

Deno.test("a failed renewal without grace revokes at once and a successful retry grants again", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.failRenewal(member.subscriptionId);
    const failed = world.takeEvents();
    only(failed, "invoice.payment_failed");
    await postAll(world, failed);
    let membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["past_due", false]);
    assert(membership.past_due_since);

    world.stripeDouble.recoverRenewal(member.subscriptionId);
    await postAll(world, world.takeEvents());
    membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled, membership.past_due_since], [
      "active",
      true,
      null,
    ]);
    assertEquals((await roleJobs(world, member.membershipId)).map((job) => job.entitled), [
      true,
      false,
      true,
    ]);
  });
});

Deno.test("past_due inside the guild's grace keeps the role until the grace ends", async () => {
  await withWorld({ guild: { pastDueGrace: "7 days" } }, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.failRenewal(member.subscriptionId);
    const failed = world.takeEvents();
    const pastDueSince = new Date(
      first((await world.stripe.subscriptions.retrieve(member.subscriptionId)).items.data, "a row")
        .current_period_start * 1000,
    );
    world.clock.now = new Date(pastDueSince.getTime() + DAY);
    await postAll(world, failed);
    let membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["past_due", true]);
    assertEquals(membership.past_due_since, pastDueSince);
    assertEquals(membership.entitled_until, new Date(pastDueSince.getTime() + 7 * DAY));

    // Another retry fails after the grace has run out: the re-read revokes.
    world.clock.now = new Date(pastDueSince.getTime() + 8 * DAY);
    world.stripeDouble.failRenewal(member.subscriptionId);
    await postAll(world, world.takeEvents());
    membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.entitled_until], [false, null]);
  });
});

Deno.test("the cron sweep revokes a grace period that ran out without another event", async () => {
  await withWorld({ guild: { pastDueGrace: "7 days" } }, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.failRenewal(member.subscriptionId);
    const pastDueSince = new Date(
      first((await world.stripe.subscriptions.retrieve(member.subscriptionId)).items.data, "a row")
        .current_period_start * 1000,
    );
    world.clock.now = new Date(pastDueSince.getTime() + DAY);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);

    // The double's renewal lies a month ahead of the database's clock: bring the grace end into
    // the database's past, as the passing of time would.
    await world.db.sql`
      update rolepass.memberships set entitled_until = now() - interval '1 second'
      where id = ${member.membershipId}`;
    const { expired } = first(
      await world.db.sql<{ expired: number }[]>`
      select rolepass.expire_entitlements() as expired`,
      "a row",
    );
    assertEquals(expired, 1);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.change_cause], [false, "grace_period_ended"]);
    const jobs = await roleJobs(world, member.membershipId);
    assertEquals(jobs.at(-1), { entitled: false, role_id: null, cause: "grace_period_ended" });
    await world.db.sql`select rolepass.sweep_role_jobs()`;
  });
});

Deno.test("the end of dunning revokes, as unpaid or as canceled", async () => {
  for (const result of ["unpaid", "canceled"] as const) {
    await withWorld({ guild: { pastDueGrace: "14 days" } }, async (world) => {
      const member = await subscribedMember(world);
      world.stripeDouble.failRenewal(member.subscriptionId);
      world.stripeDouble.endDunning(member.subscriptionId, result);
      const events = world.takeEvents();
      if (result === "canceled") only(events, "customer.subscription.deleted");
      await postAll(world, events);
      const membership = await world.membership(member.membershipId);
      assertEquals([membership.status, membership.entitled], [result, false], result);
    });
  }
});

for (const mode of ["classic", "flexible"] as const) {
  Deno.test(`a scheduled cancel in ${mode} billing mode keeps the role until it takes effect`, async () => {
    await withWorld({}, async (world) => {
      const member = await subscribedMember(world, mode);
      const scheduled = world.stripeDouble.cancelAtPeriodEnd(member.subscriptionId);
      assertEquals(scheduled.cancel_at_period_end, mode === "classic");
      await postAll(world, world.takeEvents());
      let membership = await world.membership(member.membershipId);
      assertEquals([membership.status, membership.entitled], ["active", true]);
      assertEquals(membership.cancel_at, new Date(scheduled.cancel_at! * 1000));
      assertEquals(membership.entitled_until, membership.cancel_at);
      assertEquals(membership.cancel_at_period_end, mode === "classic");
      const recorded = (await history(world, member.membershipId)).at(-1)!;
      assertEquals([recorded.cause, recorded.new_entitled], [
        "customer.subscription.updated",
        true,
      ]);

      world.stripeDouble.advanceToPeriodEnd(member.subscriptionId);
      const ended = world.takeEvents();
      const deleted = only(ended, "customer.subscription.deleted");
      await postAll(world, ended);
      membership = await world.membership(member.membershipId);
      assertEquals([membership.status, membership.entitled], ["canceled", false]);
      assertEquals(membership.change_event_id, deleted.id);
    });
  });
}

Deno.test("renewing after a scheduled cancel clears it and keeps the role", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world, "flexible");
    world.stripeDouble.cancelAtPeriodEnd(member.subscriptionId);
    world.stripeDouble.keepSubscription(member.subscriptionId);
    await postAll(world, world.takeEvents());
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.cancel_at, membership.entitled_until], [
      true,
      null,
      null,
    ]);
  });
});

Deno.test("pausing revokes (paused event) and resuming grants again (resumed event)", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.pause(member.subscriptionId);
    const paused = only(world.takeEvents(), "customer.subscription.paused");
    await postAll(world, [paused]);
    assertEquals((await world.membership(member.membershipId)).status, "paused");
    assertEquals((await world.membership(member.membershipId)).entitled, false);

    world.stripeDouble.resume(member.subscriptionId);
    const resumed = only(world.takeEvents(), "customer.subscription.resumed");
    await postAll(world, [resumed]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["active", true]);
  });
});

Deno.test("under revoke_only a full refund revokes at once and is recorded in the history as 'refund'", async () => {
  await withWorld({}, async (world) => {
    await world.db
      .sql`update rolepass.guilds set refund_policy = 'revoke_only' where id = ${world.guildId}`;
    const member = await subscribedMember(world);
    const { charge } = world.stripeDouble.refundLatestCharge(member.subscriptionId);
    const refunded = only(world.takeEvents(), "charge.refunded");
    await postAll(world, [refunded]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled, membership.revoked_reason], [
      "active",
      false,
      "refund",
    ]);
    const recorded = (await history(world, member.membershipId)).at(-1)!;
    assertEquals([recorded.cause, recorded.stripe_event_id], ["refund", refunded.id]);
    const [revocation] = await world.db.sql`
      select reason, stripe_object_id from rolepass.stripe_subscription_revocations
      where stripe_subscription_id = ${member.subscriptionId}`;
    assertEquals({ ...revocation }, { reason: "refund", stripe_object_id: charge.id });

    // Later subscription events re-read an active subscription; the refund still holds.
    world.stripeDouble.cancelAtPeriodEnd(member.subscriptionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("a partial refund keeps the role", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.refundLatestCharge(member.subscriptionId, { full: false });
    await postAll(world, world.takeEvents());
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [true, null]);
  });
});

Deno.test("a full refund keeps the role when the guild turned revoke_on_refund off", async () => {
  await withWorld({ guild: { revokeOnRefund: false } }, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("a dispute revokes at once and is recorded as 'dispute'", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world);
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    const opened = only(world.takeEvents(), "charge.dispute.created");
    await postAll(world, [opened]);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason, membership.change_cause], [
      false,
      "dispute",
      "dispute",
    ]);
    const [revocation] = await world.db.sql`
      select stripe_object_id from rolepass.stripe_subscription_revocations
      where stripe_subscription_id = ${member.subscriptionId}`;
    assert(revocation, "revocation is missing");
    assertEquals(revocation.stripe_object_id, dispute.id);
  });
});

Deno.test("a dispute keeps the role when the guild turned revoke_on_dispute off", async () => {
  await withWorld({ guild: { revokeOnDispute: false } }, async (world) => {
    const member = await subscribedMember(world);
    world.stripeDouble.openDispute(member.subscriptionId);
    await postAll(world, world.takeEvents());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("a subscription rolepass did not create is ignored, recorded once and never attached", async () => {
  await withWorld({}, async (world) => {
    const member = await subscribedMember(world);
    const foreign = world.stripeDouble.createForeignSubscription({ priceId: world.plan.priceId });
    const events = world.takeEvents();
    const bodies = await postAll(world, events);
    assert(bodies.every((body) => body.status === "ignored"));
    const recorded = await world.db.sql`
      select id from rolepass.stripe_events
      where ignored and processed_at is not null and id = any(${events.map((e) => e.id)})`;
    assertEquals(recorded.length, events.length);
    const attached = await world.db.sql`
      select id from rolepass.memberships
      where stripe_customer_id = ${String(foreign.customer)}
        or stripe_subscription_id = ${foreign.id}`;
    assertEquals(attached.length, 0);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("a repeated event is a no-op and an unhandled type is acknowledged and counted", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const events = world.takeEvents();
    const completed = only(events, "checkout.session.completed");
    await postAll(world, [completed]);
    const before = await history(world, member.membershipId);
    const [again] = await postAll(world, [completed]);
    assert(again, "again is missing");
    assertEquals(again.status, "duplicate");
    assertEquals(await history(world, member.membershipId), before);

    const unhandled = only(events, "payment_intent.succeeded");
    const [ignored] = await postAll(world, [unhandled]);
    assert(ignored, "ignored is missing");
    assertEquals(ignored.status, "ignored");
    const [row] = await world.db.sql`
      select ignored, processed_at is not null as processed from rolepass.stripe_events
      where id = ${unhandled.id}`;
    assertEquals({ ...row }, { ignored: true, processed: true });
  });
});

Deno.test("bad signatures, old timestamps and bodies that are not events get 400 and change nothing", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = only(world.takeEvents(), "checkout.session.completed");
    const now = Math.floor(world.clock.now.getTime() / 1000);

    const wrongSecret = await world.post(event, { secret: "whsec_not_the_endpoint_secret" });
    const tooOld = await world.post(event, { timestamp: now - 301 });
    const missing = await world.app.fetch(
      new Request("http://localhost/stripe-webhook", { method: "POST", body: "{}" }),
    );
    const { signPayload } = await import("../../functions/_doubles/stripe/index.ts");
    const garbage = await world.app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: {
          "stripe-signature": await signPayload("not json", "whsec_rolepass_test_secret_0001", now),
        },
        body: "not json",
      }),
    );
    for (const [name, response] of Object.entries({ wrongSecret, tooOld, missing, garbage })) {
      assertEquals(response.status, 400, name);
      assert(String((await response.json()).error).startsWith("Cannot "));
    }
    assertEquals((await world.db.sql`select id from rolepass.stripe_events`).length, 0);
    assertEquals((await world.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("events signed with the previous secret are accepted during a rotation", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const event = only(world.takeEvents(), "checkout.session.completed");
    const response = await world.post(event, { secret: "whsec_rolepass_test_secret_0000" });
    assertEquals(response.status, 200);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("a legacy-shaped (2020-03-02) subscription event is understood", async () => {
  await withWorld({}, async (world) => {
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    world.takeEvents();
    const fixture = JSON.parse(
      await Deno.readTextFile(
        new URL(
          "../fixtures/stripe/stripe-sync-engine/subscription_updated.json",
          import.meta.url,
        ),
      ),
    );
    fixture.data.object.id = subscription.id;
    fixture.data.object.customer = member.customerId;
    const [body] = await postAll(world, [fixture]);
    assert(body, "body is missing");
    assertEquals(body.status, "applied");
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});
