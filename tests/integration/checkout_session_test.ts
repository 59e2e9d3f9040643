/**
 * Opening Checkout and the portal: one Stripe customer per member whatever the concurrency, the
 * ids Stripe carries back to the webhook, one open Checkout per member, and the portal for a member
 * who already subscribes.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  checkoutRecords,
  GUILD_ID,
  MEMBER_ID,
  ROLE_ID,
  SITE,
  withCheckoutWorld,
} from "./checkout_harness.ts";

Deno.test("Checkout gets the member's customer, locale, ids and the way back to the plan page", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ locale: "en" });
    const answer = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(answer.status, 200);
    assertEquals(answer.body.kind, "checkout");

    const records = await checkoutRecords(world.db);
    assertEquals(records.memberships.length, 1);
    const membership = records.memberships[0];
    assert(membership, "membership is missing");
    const customerId = membership.stripe_customer_id!;
    assert(customerId.startsWith("cus_"));

    const ids = {
      rolepass_guild_id: GUILD_ID,
      rolepass_discord_user_id: MEMBER_ID,
      rolepass_membership_id: membership.id,
    };
    const customer = await world.stripe.customers.retrieve(customerId);
    assert(!customer.deleted);
    assertEquals(customer.metadata, ids);
    const [customerRequest] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/customers",
    });
    assert(customerRequest, "customerRequest is missing");
    assertEquals(customerRequest.idempotencyKey, `rolepass-customer-${membership.id}`);

    const [request] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assert(request, "request is missing");
    assertEquals(request.params.mode, "subscription");
    assertEquals(request.params.customer, customerId);
    assertEquals(request.params.locale, "en");
    assertEquals(request.params.metadata, ids);
    assertEquals((request.params.subscription_data as Record<string, unknown>).metadata, ids);
    assertEquals(request.params.client_reference_id, `${GUILD_ID}_${MEMBER_ID}_${membership.id}`);
    assertEquals(
      request.params.success_url,
      `${SITE}/join/thanks?lang=en&session_id={CHECKOUT_SESSION_ID}`,
    );
    assertEquals(request.params.cancel_url, `${SITE}/join/cancelled?lang=en`);

    const [attempt] = records.attempts;
    assert(attempt, "attempt is missing");
    const session = await world.stripe.checkout.sessions.retrieve(attempt.stripe_session_id);
    assertEquals(session.url, answer.body.url);
    assertEquals(session.customer, customerId);
    assertEquals([attempt.kind, attempt.status, attempt.plan_id], [
      "checkout",
      "open",
      world.planId,
    ]);
    assertEquals(records.usedLinks, 1);
  });
});

Deno.test("concurrent clicks with one link make one customer and one session", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    const answers = await Promise.all(
      Array.from(
        { length: 8 },
        () => world.post("checkout-session", { token, planId: world.planId }),
      ),
    );
    assertEquals(answers.map((a) => a.status), Array(8).fill(200));
    assertEquals(new Set(answers.map((a) => a.body.url)).size, 1);
    assertEquals((await world.customers()).length, 1);
    assertEquals((await checkoutRecords(world.db)).attempts.length, 1);
  });
});

Deno.test("concurrent links of one member make exactly one customer and leave one session open", async () => {
  await withCheckoutWorld(async (world) => {
    const tokens = await Promise.all(Array.from({ length: 6 }, () => world.issueLink()));
    const answers = await Promise.all(
      tokens.map((token) => world.post("checkout-session", { token, planId: world.planId })),
    );
    assertEquals(answers.map((a) => a.status), Array(6).fill(200));
    assertEquals((await world.customers()).length, 1, "exactly one Stripe customer");
    const records = await checkoutRecords(world.db);
    assertEquals(records.memberships.length, 1);
    assertEquals(records.attempts.filter((a) => a.status === "open").length, 1);
    assertEquals(records.attempts.filter((a) => a.status === "expired").length, 5);
    const open = await world.stripe.checkout.sessions.list({ status: "open", limit: 100 });
    assertEquals(open.data.length, 1, "one open Checkout session on Stripe");
    assertEquals(
      first(open.data, "an item of open.data").id,
      records.attempts.find((a) => a.status === "open")!.stripe_session_id,
    );
  });
});

Deno.test("a second link reuses the member's customer and expires the first Checkout session", async () => {
  await withCheckoutWorld(async (world) => {
    const first = await world.post("checkout-session", {
      token: await world.issueLink(),
      planId: world.planId,
    });
    const second = await world.post("checkout-session", {
      token: await world.issueLink(),
      planId: world.planId,
    });
    assertEquals([first.status, second.status], [200, 200]);
    assert(first.body.url !== second.body.url);
    assertEquals((await world.customers()).length, 1);
    const [old, current] = (await checkoutRecords(world.db)).attempts;
    assert(current, "current is missing");
    assert(old, "old is missing");
    assertEquals([old.status, current.status], ["expired", "open"]);
    const stale = await world.stripe.checkout.sessions.retrieve(old.stripe_session_id);
    assertEquals(stale.status, "expired");
    const customerCreates = world.stripeDouble.requests({ method: "POST", path: "/v1/customers" });
    assertEquals(customerCreates.length, 1);
  });
});

Deno.test("a member whose earlier Checkout was paid is told to wait, not sold a second subscription", async () => {
  await withCheckoutWorld(async (world) => {
    await world.post("checkout-session", { token: await world.issueLink(), planId: world.planId });
    const [attempt] = (await checkoutRecords(world.db)).attempts;
    assert(attempt, "attempt is missing");
    world.stripeDouble.completeCheckout(attempt.stripe_session_id);
    // The webhook has not landed yet: the membership still says "not entitled".
    const answer = await world.post("checkout-session", {
      token: await world.issueLink(),
      planId: world.planId,
    });
    assertEquals([answer.status, answer.body.error.code], [409, "subscription_pending"]);
    const sessions = await world.stripe.checkout.sessions.list({ limit: 100 });
    assertEquals(sessions.data.length, 1, "no second Checkout session");
  });
});

async function entitleMember(world: Parameters<Parameters<typeof withCheckoutWorld>[0]>[0]) {
  const customer = world.stripeDouble.createCustomer({});
  const [membership] = await world.db.sql<{ id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, status,
      plan_id, entitled, entitled_role_id, subscription_live, change_cause)
    values (${GUILD_ID}, ${MEMBER_ID}, ${customer.id}, 'active', ${world.planId}, true, ${ROLE_ID},
      true, 'test')
    returning id`;
  assert(membership, "membership is missing");
  return { customerId: customer.id, membershipId: membership.id };
}

Deno.test("an entitled member who clicks subscribe is sent to the portal, not to a second Checkout", async () => {
  await withCheckoutWorld(async (world) => {
    const { customerId } = await entitleMember(world);
    const token = await world.issueLink({ locale: "en" });
    const view = await world.post("plan-view", { token });
    assertEquals(view.body.entitled, true);
    const answer = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(answer.status, 200);
    assertEquals(answer.body.kind, "portal");
    assertEquals(world.stripeDouble.requests({ path: "/v1/checkout/sessions" }).length, 0);
    const [portal] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/billing_portal/sessions",
    });
    assert(portal, "portal is missing");
    assertEquals(portal.params.customer, customerId);
    assertEquals(portal.params.return_url, `${SITE}/manage/done?lang=en`);
    assertEquals((await world.customers()).length, 1);
  });
});

Deno.test("a manage link opens the portal once; a repeat returns the same portal session", async () => {
  await withCheckoutWorld(async (world) => {
    const { customerId } = await entitleMember(world);
    const token = await world.issueLink({ purpose: "manage", locale: "ja" });
    const first = await world.post("portal-session", { token });
    const second = await world.post("portal-session", { token });
    assertEquals([first.status, second.status], [200, 200]);
    assertEquals(first.body.kind, "portal");
    assertEquals(second.body.url, first.body.url);
    const [attempt] = (await checkoutRecords(world.db)).attempts;
    assert(attempt, "attempt is missing");
    assertEquals(attempt.kind, "portal");
    const portal = await world.stripe.billingPortal.sessions.create({
      customer: customerId,
      return_url: SITE,
    });
    assert(portal.url !== first.body.url);
  });
});

Deno.test("a manage link of a member without a Stripe customer says there is nothing to manage", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ purpose: "manage" });
    const answer = await world.post("portal-session", { token });
    assertEquals([answer.status, answer.body.error.code], [404, "no_subscription"]);
    assertEquals(await checkoutRecords(world.db), { memberships: [], attempts: [], usedLinks: 0 });
  });
});
