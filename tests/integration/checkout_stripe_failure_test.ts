/**
 * When Stripe fails: a 502 the page can explain, and nothing recorded as done. The link stays
 * usable, so the member's retry works and reuses whatever Stripe did create.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { checkoutRecords, withCheckoutWorld } from "./checkout_harness.ts";

Deno.test("Stripe failing to create the customer: 502, no customer, the link still works", async () => {
  await withCheckoutWorld(async (world) => {
    world.stripeDouble.inject({ method: "POST", path: "/v1/customers", status: 500 });
    const token = await world.issueLink();
    const answer = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals([answer.status, answer.body.error.code], [502, "stripe_unavailable"]);
    const records = await checkoutRecords(world.db);
    assertEquals([records.attempts.length, records.usedLinks], [0, 0]);
    // Only the bare membership row stays: it keys the customer's idempotency for the retry.
    assertEquals(records.memberships.map((m) => m.stripe_customer_id), [null]);

    world.stripeDouble.clearFaults();
    const retry = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(retry.status, 200);
    assertEquals((await world.customers()).length, 1);
  });
});

Deno.test("Stripe failing to create the session: 502, no attempt, link unused, customer kept", async () => {
  await withCheckoutWorld(async (world) => {
    world.stripeDouble.inject({ method: "POST", path: "/v1/checkout/sessions", status: 503 });
    const token = await world.issueLink();
    const answer = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals([answer.status, answer.body.error.code], [502, "stripe_unavailable"]);
    const records = await checkoutRecords(world.db);
    assertEquals(records.attempts, []);
    assertEquals(records.usedLinks, 0);
    // The customer exists on Stripe, so the database says so: the next attempt reuses it.
    assertEquals(records.memberships.length, 1);
    const [customer] = await world.customers();
    assert(customer, "customer is missing");
    assertEquals(
      first(records.memberships, "an item of records.memberships").stripe_customer_id,
      customer.id,
    );

    world.stripeDouble.clearFaults();
    const retry = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(retry.status, 200);
    assertEquals((await world.customers()).length, 1, "the retry reused the customer");
    assertEquals((await checkoutRecords(world.db)).attempts.length, 1);
  });
});

Deno.test("a session created on Stripe whose answer was lost is returned, not duplicated, on retry", async () => {
  await withCheckoutWorld(async (world) => {
    // Stripe creates the session, then every answer is lost (the SDK's own retries included).
    world.stripeDouble.inject({
      method: "POST",
      path: "/v1/checkout/sessions",
      drop: true,
      dropPhase: "after",
    });
    const token = await world.issueLink();
    const lost = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals([lost.status, lost.body.error.code], [502, "stripe_unavailable"]);
    assertEquals((await checkoutRecords(world.db)).attempts, [], "nothing recorded as done");
    assertEquals((await checkoutRecords(world.db)).usedLinks, 0);

    world.stripeDouble.clearFaults();
    const retry = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(retry.status, 200);
    const sessions = await world.stripe.checkout.sessions.list({ limit: 100 });
    assertEquals(sessions.data.length, 1, "one session on Stripe");
    assertEquals(retry.body.url, first(sessions.data, "an item of sessions.data").url);
    const [attempt] = (await checkoutRecords(world.db)).attempts;
    assert(attempt, "attempt is missing");
    assertEquals(attempt.stripe_session_id, first(sessions.data, "an item of sessions.data").id);
  });
});

Deno.test("a portal that is not configured on Stripe is a 502 and uses nothing up", async () => {
  await withCheckoutWorld(async (world) => {
    const customer = world.stripeDouble.createCustomer({});
    await world.db.sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, change_cause)
      values ('110000000000000001', '220000000000000001', ${customer.id}, 'test')`;
    world.stripeDouble.configurePortal(false);
    const token = await world.issueLink({ purpose: "manage" });
    const answer = await world.post("portal-session", { token });
    assertEquals([answer.status, answer.body.error.code], [502, "stripe_unavailable"]);
    const records = await checkoutRecords(world.db);
    assertEquals([records.attempts.length, records.usedLinks], [0, 0]);
    const logged = world.logLines.map((line) => JSON.parse(line)).find((l) =>
      l.msg === "request failed"
    );
    assert(logged?.stripe?.type === "invalid_request_error", "the Stripe error type is logged");
  });
});

Deno.test("a database that is down is a 503, not a crash", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    await world.db.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and pid <> pg_backend_pid()`;
    await world.db.sql`alter table rolepass.link_tokens rename to link_tokens_gone`;
    const answer = await world.post("plan-view", { token });
    assertEquals([answer.status, answer.body.error.code], [503, "unavailable"]);
    await world.db.sql`alter table rolepass.link_tokens_gone rename to link_tokens`;
    assertEquals((await world.post("plan-view", { token })).status, 200);
  });
});

Deno.test("a customer created on Stripe whose answer was lost is reused by a link in another language", async () => {
  await withCheckoutWorld(async (world) => {
    world.stripeDouble.inject({
      method: "POST",
      path: "/v1/customers",
      drop: true,
      dropPhase: "after",
    });
    const ja = await world.post("checkout-session", {
      token: await world.issueLink({ locale: "ja" }),
      planId: world.planId,
    });
    assertEquals([ja.status, ja.body.error.code], [502, "stripe_unavailable"]);
    const records = await checkoutRecords(world.db);
    assertEquals(
      records.memberships.map((m) => m.stripe_customer_id),
      [null],
      "no customer recorded",
    );
    assertEquals((await world.customers()).length, 1, "but Stripe did create the customer");

    world.stripeDouble.clearFaults();
    const en = await world.post("checkout-session", {
      token: await world.issueLink({ locale: "en" }),
      planId: world.planId,
    });
    assertEquals(en.status, 200);
    const customers = await world.customers();
    assertEquals(customers.length, 1, "the same customer, replayed under its idempotency key");
    assertEquals(first(customers, "an item of customers").preferred_locales, ["en"]);
    assertEquals(
      first((await checkoutRecords(world.db)).memberships, "a row").stripe_customer_id,
      first(customers, "an item of customers").id,
    );
  });
});
