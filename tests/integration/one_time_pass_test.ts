/**
 * One-time passes through the real stripe-webhook function and the Stripe double: Checkout in
 * payment mode (opened by the checkout function's own Stripe adapter) grants the plan's role for
 * the pass's duration or for life, the minute's sweep ends it when it runs out, a renewal extends
 * it, and a full refund or a dispute of its charge ends it at once per the guild's policy, with
 * the payment and the refund in the money ledger.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { openPassCheckout } from "./pass_checkout.ts";
import { syncSubscription } from "../../functions/_shared/subscription_sync.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const PASS_ROLE_ID = "440000000000000001";
const DAY_MS = 86_400_000;

interface PassPlan {
  id: string;
  priceId: string;
}

async function addPassPlan(world: WebhookWorld, access: "P30D" | "lifetime"): Promise<PassPlan> {
  const price = world.stripeDouble.createPrice({
    unitAmount: 3000,
    currency: "jpy",
    recurring: false,
    productName: access === "lifetime" ? "Lifetime pass" : "30-day pass",
  });
  const [row] = await world.db.sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval, access_kind, access_duration)
    values (${world.guildId}, ${price.id}, ${PASS_ROLE_ID},
      ${world.db.sql.json({ en: { name: "Pass", description: "" } })}, 3000, 'jpy', null,
      ${access === "lifetime" ? "lifetime" : "duration"},
      ${access === "lifetime" ? null : "30 days"}::interval)
    returning id`;
  assert(row, "plan row is missing");
  return { id: row.id, priceId: price.id };
}

/** A member who bought `plan` at Checkout (payment mode), with every event delivered. */
async function buyPass(
  world: WebhookWorld,
  plan: PassPlan,
  member?: { membershipId: string; customerId: string; discordUserId: string },
) {
  const buyer = member ?? await world.newMember();
  const opened = await openPassCheckout(world, plan.priceId, buyer);
  const paid = world.stripeDouble.completePayment(opened.id);
  await postAll(world, world.takeEvents());
  return { ...buyer, paid };
}

async function passRows(world: WebhookWorld, membershipId: string) {
  return await world.db.sql<
    { status: string; paid_at: Date; access_until: Date | null; stripe_charge_id: string }[]
  >`
    select status, paid_at, access_until, stripe_charge_id from rolepass.member_passes
    where membership_id = ${membershipId} order by paid_at, created_at`;
}

async function membershipOf(world: WebhookWorld, membershipId: string) {
  const [row] = await world.db.sql<
    {
      entitled: boolean;
      entitled_role_ids: string[];
      entitled_until: Date | null;
      subscription_live: boolean;
      revoked_reason: string | null;
      plan_id: string | null;
    }[]
  >`
    select entitled, entitled_role_ids::text[] as entitled_role_ids, entitled_until,
      subscription_live, revoked_reason, plan_id
    from rolepass.memberships where id = ${membershipId}`;
  assert(row, "membership is missing");
  return row;
}

async function roleJobs(world: WebhookWorld, membershipId: string) {
  return await world.db.sql<{ entitled: boolean; role_id: string | null; cause: string }[]>`
    select entitled, role_id, cause from rolepass.role_jobs
    where membership_id = ${membershipId} order by id`;
}

async function withWorld(fn: (world: WebhookWorld) => Promise<void>) {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

Deno.test("a 30-day pass bought at Checkout gives its role until it ends, and the ledger counts the payment", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "P30D");
    const buyer = await buyPass(world, plan);
    const [pass] = await passRows(world, buyer.membershipId);
    assert(pass, "the pass is recorded");
    assertEquals(pass.status, "active");
    assertEquals(pass.stripe_charge_id, buyer.paid.charge.id);
    assertEquals(pass.access_until?.getTime(), pass.paid_at.getTime() + 30 * DAY_MS);
    const membership = await membershipOf(world, buyer.membershipId);
    assertEquals(membership.entitled, true);
    assertEquals(membership.entitled_role_ids, [PASS_ROLE_ID]);
    assertEquals(membership.entitled_until?.getTime(), pass.access_until?.getTime());
    assertEquals(membership.subscription_live, false, "a pass is no subscription to manage");
    assertEquals(membership.plan_id, plan.id);
    const jobs = await roleJobs(world, buyer.membershipId);
    assertEquals(jobs.map((job) => [job.entitled, job.role_id]), [[true, PASS_ROLE_ID]]);
    const ledger = await world.db.sql<{ kind: string; amount: string; plan_id: string }[]>`
      select kind, amount::text, plan_id from rolepass.money_ledger`;
    assertEquals(ledger.map((row) => [row.kind, row.amount, row.plan_id]), [
      ["invoice_paid", "3000", plan.id],
    ]);
  });
});

Deno.test("the minute's sweep ends a pass when its time runs out, and a later sync does not bring it back", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "P30D");
    const buyer = await buyPass(world, plan);
    // Thirty days pass: the pass and the entitlement it stored are now in the past.
    await world.db.sql`
      update rolepass.member_passes set paid_at = paid_at - interval '31 days',
        access_until = access_until - interval '31 days'
      where membership_id = ${buyer.membershipId}`;
    await world.db.sql`
      update rolepass.memberships set entitled_until = now() - interval '1 day'
      where id = ${buyer.membershipId}`;
    await world.db.sql`select rolepass.sweep_role_jobs()`;
    const ended = await membershipOf(world, buyer.membershipId);
    assertEquals(ended.entitled, false);
    assertEquals(ended.entitled_role_ids, []);
    const jobs = await roleJobs(world, buyer.membershipId);
    assertEquals(jobs.map((job) => job.entitled), [true, false]);

    await syncSubscription(
      world.deps,
      { customerId: buyer.customerId },
      { cause: "reconcile", eventId: null },
    );
    assertEquals((await membershipOf(world, buyer.membershipId)).entitled, false);
  });
});

Deno.test("buying the pass again while it lives extends it from its end", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "P30D");
    const buyer = await buyPass(world, plan);
    await buyPass(world, plan, buyer);
    const [firstPass, renewal] = await passRows(world, buyer.membershipId);
    assert(firstPass?.access_until && renewal?.access_until, "both passes are recorded");
    assertEquals(renewal.access_until.getTime(), firstPass.access_until.getTime() + 30 * DAY_MS);
    const membership = await membershipOf(world, buyer.membershipId);
    assertEquals(membership.entitled_until?.getTime(), renewal.access_until.getTime());
  });
});

Deno.test("a lifetime pass holds the role for good", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "lifetime");
    const buyer = await buyPass(world, plan);
    const [pass] = await passRows(world, buyer.membershipId);
    assertEquals(pass?.access_until, null);
    const membership = await membershipOf(world, buyer.membershipId);
    assertEquals([membership.entitled, membership.entitled_until], [true, null]);
  });
});

Deno.test("a full refund of the pass's charge ends it at once, and the ledger records payment and refund", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "lifetime");
    const buyer = await buyPass(world, plan);
    world.stripeDouble.refundPayment(buyer.paid.paymentIntent.id);
    await postAll(world, world.takeEvents());
    assertEquals(first(await passRows(world, buyer.membershipId), "pass").status, "refunded");
    const membership = await membershipOf(world, buyer.membershipId);
    assertEquals([membership.entitled, membership.revoked_reason], [false, "refund"]);
    const jobs = await roleJobs(world, buyer.membershipId);
    assertEquals(jobs.map((job) => job.entitled), [true, false]);
    const ledger = await world.db.sql<{ kind: string; amount: string }[]>`
      select kind, amount::text from rolepass.money_ledger order by occurred_at, kind`;
    assertEquals(ledger.map((row) => [row.kind, row.amount]).sort(), [
      ["invoice_paid", "3000"],
      ["refund", "3000"],
    ]);
  });
});

Deno.test("a dispute of the pass's charge takes the role; winning it gives the role back", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "P30D");
    const buyer = await buyPass(world, plan);
    const dispute = world.stripeDouble.openDispute(buyer.paid.paymentIntent.id);
    await postAll(world, world.takeEvents());
    assertEquals(first(await passRows(world, buyer.membershipId), "pass").status, "disputed");
    const disputed = await membershipOf(world, buyer.membershipId);
    assertEquals([disputed.entitled, disputed.revoked_reason], [false, "dispute"]);
    world.stripeDouble.closeDispute(dispute.id, "won");
    await postAll(world, world.takeEvents());
    assertEquals(first(await passRows(world, buyer.membershipId), "pass").status, "active");
    assertEquals((await membershipOf(world, buyer.membershipId)).entitled, true);
  });
});

Deno.test("a pass's events in any order, twice, record one pass and one grant", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "P30D");
    const buyer = await world.newMember();
    const opened = await openPassCheckout(world, plan.priceId, buyer, "en");
    world.stripeDouble.completePayment(opened.id);
    const events = world.takeEvents();
    await postAll(world, [...events].reverse());
    await postAll(world, events);
    assertEquals((await passRows(world, buyer.membershipId)).length, 1);
    assertEquals((await roleJobs(world, buyer.membershipId)).length, 1);
    assertEquals((await membershipOf(world, buyer.membershipId)).entitled, true);
  });
});

Deno.test("a pass whose apply meets a newer read of its customer still grants the role", async () => {
  await withWorld(async (world) => {
    const plan = await addPassPlan(world, "lifetime");
    const buyer = await world.newMember();
    const opened = await openPassCheckout(world, plan.priceId, buyer);
    world.stripeDouble.completePayment(opened.id);
    const events = world.takeEvents();
    const completed = first(
      events.filter((e) => e.type === "checkout.session.completed"),
      "checkout.session.completed",
    );
    // The event's read is numbered when it arrives; its Stripe read of the session is held until
    // a sync of the same customer, numbered later, has been applied.
    const sessionPath = `/v1/checkout/sessions/${opened.id}`;
    world.stripeDouble.inject({ method: "GET", path: sessionPath, delayMs: 1_000, times: 1 });
    const delivery = world.post(completed);
    while (!world.stripeDouble.requests({ method: "GET", path: sessionPath }).length) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await syncSubscription(
      world.deps,
      { customerId: buyer.customerId },
      { cause: "reconcile", eventId: null },
    );
    const response = await delivery;
    assertEquals(response.status, 200, await response.text());

    assertEquals((await passRows(world, buyer.membershipId)).length, 1);
    const membership = await membershipOf(world, buyer.membershipId);
    assertEquals([membership.entitled, membership.entitled_role_ids], [true, [PASS_ROLE_ID]]);
  });
});

Deno.test("a dispute or refund whose events come before the pass's own is applied when the pass is recorded", async () => {
  for (const late of ["dispute", "refund", "won dispute"] as const) {
    await withWorld(async (world) => {
      const plan = await addPassPlan(world, "lifetime");
      const buyer = await world.newMember();
      const opened = await openPassCheckout(world, plan.priceId, buyer);
      const paid = world.stripeDouble.completePayment(opened.id);
      const purchase = world.takeEvents();
      if (late === "refund") {
        await world.stripe.refunds.create({ charge: paid.charge.id });
      } else {
        const dispute = world.stripeDouble.openDispute(paid.paymentIntent.id);
        if (late === "won dispute") world.stripeDouble.closeDispute(dispute.id, "won");
      }
      // Stripe's events of the refund or dispute arrive first; the pass's come after them.
      await postAll(world, world.takeEvents());
      await postAll(world, purchase);

      const [pass] = await passRows(world, buyer.membershipId);
      const membership = await membershipOf(world, buyer.membershipId);
      const expected = late === "won dispute"
        ? ["active", true]
        : [late === "refund" ? "refunded" : "disputed", false];
      assertEquals([pass?.status, membership.entitled], expected, late);
    });
  }
});
