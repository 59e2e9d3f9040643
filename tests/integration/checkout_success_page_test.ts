/**
 * The thank-you page's sync: `POST /checkout/checkout-complete {sessionId}` brings the membership
 * up to date from Stripe without waiting for the webhook. No Stripe event is delivered in these
 * tests: whatever changes, the success page alone changed it.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type { TestDatabase } from "../harness/database.ts";
import {
  checkoutRecords,
  type CheckoutWorld,
  MEMBER_ID,
  ROLE_ID,
  withCheckoutWorld,
} from "./checkout_harness.ts";

/** Opens Checkout for the member the way the plan page does and returns the session id. */
async function openCheckout(world: CheckoutWorld): Promise<string> {
  const token = await world.issueLink({ locale: "en" });
  const answer = await world.post("checkout-session", { token, planId: world.planId });
  assertEquals(answer.status, 200);
  const [attempt] = (await checkoutRecords(world.db)).attempts;
  assert(attempt, "attempt is missing");
  return attempt.stripe_session_id;
}

/** What the success page may change: the membership, its history and the role jobs. */
async function membershipRecords(db: TestDatabase) {
  const memberships = await db.sql<
    {
      id: string;
      status: string | null;
      entitled: boolean;
      entitled_role_id: string | null;
      stripe_subscription_id: string | null;
      change_cause: string;
    }[]
  >`select id, status, entitled, entitled_role_id, stripe_subscription_id, change_cause
    from rolepass.memberships order by created_at`;
  const history = await db.sql<{ cause: string; new_entitled: boolean | null }[]>`
    select cause, new_entitled from rolepass.membership_history order by id`;
  const roleJobs = await db.sql<
    { discord_user_id: string; entitled: boolean; role_id: string | null; cause: string }[]
  >`select discord_user_id, entitled, role_id, cause from rolepass.role_jobs order by id`;
  return {
    memberships: [...memberships],
    history: [...history],
    roleJobs: [...roleJobs],
  };
}

Deno.test("the success page alone entitles the member and queues the role job, before any webhook", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    const { subscription } = world.stripeDouble.completeCheckout(sessionId);
    assertEquals(world.stripeDouble.deliveries(), [], "no event was delivered");
    const before = await membershipRecords(world.db);
    assertEquals([
      first(before.memberships, "an item of before.memberships").entitled,
      before.roleJobs.length,
    ], [false, 0]);

    const answer = await world.post("checkout-complete", { sessionId });
    assertEquals(answer.status, 200);
    assertEquals(answer.body, { status: "granting" });

    const after = await membershipRecords(world.db);
    const [membership] = after.memberships;
    assert(membership, "membership is missing");
    assertEquals(membership.status, "active");
    assertEquals(membership.entitled, true);
    assertEquals(membership.entitled_role_id, ROLE_ID);
    assertEquals(membership.stripe_subscription_id, subscription.id);
    assertEquals(membership.change_cause, "checkout_success_page");
    assertEquals(after.roleJobs, [{
      discord_user_id: MEMBER_ID,
      entitled: true,
      role_id: ROLE_ID,
      cause: "checkout_success_page",
    }]);
    assertEquals(after.history.at(-1), { cause: "checkout_success_page", new_entitled: true });
    const [attempt] = (await checkoutRecords(world.db)).attempts;
    assert(attempt, "attempt is missing");
    assertEquals(attempt.status, "completed");
    // The sync re-read the customer's subscriptions from Stripe, as the webhook does.
    assertEquals(
      world.stripeDouble.requests({ method: "GET", path: "/v1/subscriptions" }).length,
      1,
    );
  });
});

Deno.test("a replayed success page (reload, back button) changes nothing more", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId);
    const first = await world.post("checkout-complete", { sessionId });
    const once = await membershipRecords(world.db);
    const replays = await Promise.all(
      Array.from({ length: 4 }, () => world.post("checkout-complete", { sessionId })),
    );
    for (const answer of [first, ...replays]) {
      assertEquals([answer.status, answer.body], [200, { status: "granting" }]);
    }
    const again = await membershipRecords(world.db);
    assertEquals(again, once, "no second history row, no second role job");
    assertEquals(again.roleJobs.length, 1);
  });
});

Deno.test("a payment not yet confirmed answers 'processing' and entitles nothing", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId, { outcome: "payment_failed" });
    const before = await membershipRecords(world.db);
    const answer = await world.post("checkout-complete", { sessionId });
    assertEquals(answer.status, 200);
    assertEquals(answer.body, { status: "processing" });
    assertEquals(await membershipRecords(world.db), before);
    assertEquals(first((await checkoutRecords(world.db)).attempts, "a row").status, "open");
  });
});

Deno.test("forged, unknown and malformed session ids change nothing", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId);
    // A real, paid session on the same Stripe account that rolepass did not open.
    const stranger = world.stripeDouble.createCustomer({});
    const foreign = await world.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: stranger.id,
      line_items: [{ price: world.priceId, quantity: 1 }],
      success_url: "https://elsewhere.test/done",
    });
    world.stripeDouble.completeCheckout(foreign.id);
    const before = await membershipRecords(world.db);
    const attemptsBefore = (await checkoutRecords(world.db)).attempts;
    world.stripeDouble.clearRequests();

    const cases: [unknown, number, string][] = [
      [{ sessionId: foreign.id }, 404, "not_found"],
      [{ sessionId: `cs_test_a1${"Z".repeat(56)}` }, 404, "not_found"],
      [{ sessionId: "not-a-session" }, 400, "invalid_request"],
      [{ sessionId: `${sessionId}' or '1'='1` }, 400, "invalid_request"],
      [{}, 400, "invalid_request"],
      ["{not json", 400, "invalid_request"],
    ];
    for (const [body, status, code] of cases) {
      const answer = await world.post("checkout-complete", body);
      assertEquals([answer.status, answer.body.error.code], [status, code], JSON.stringify(body));
    }
    assertEquals(world.stripeDouble.requests(), [], "an unrecorded id never reaches Stripe");
    assertEquals(await membershipRecords(world.db), before);
    assertEquals((await checkoutRecords(world.db)).attempts, attemptsBefore);
  });
});

Deno.test("a recorded session whose Stripe copy belongs to someone else is refused", async () => {
  await withCheckoutWorld(async (world) => {
    await openCheckout(world);
    const stranger = world.stripeDouble.createCustomer({});
    const foreign = await world.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: stranger.id,
      line_items: [{ price: world.priceId, quantity: 1 }],
      success_url: "https://elsewhere.test/done",
      metadata: { rolepass_membership_id: crypto.randomUUID() },
    });
    world.stripeDouble.completeCheckout(foreign.id);
    // A record pointing at that session (a corrupted or tampered row): Stripe's metadata decides.
    const [membership] = (await checkoutRecords(world.db)).memberships;
    assert(membership, "membership is missing");
    await world.db.sql`
      insert into rolepass.checkout_attempts (membership_id, kind, stripe_session_id, status)
      values (${membership.id}, 'checkout', ${foreign.id}, 'completed')`;
    const before = await membershipRecords(world.db);

    const answer = await world.post("checkout-complete", { sessionId: foreign.id });
    assertEquals([answer.status, answer.body.error.code], [404, "not_found"]);
    assertEquals(await membershipRecords(world.db), before);
    const attempt = (await checkoutRecords(world.db)).attempts.find((a) =>
      a.stripe_session_id === foreign.id
    );
    assertEquals(attempt?.status, "completed");
    const { completion } = first(
      await world.db.sql<{ completion: string | null }[]>`
      select completion from rolepass.checkout_attempts where stripe_session_id = ${foreign.id}`,
      "a row",
    );
    assertEquals(completion, null, "nothing recorded as the thank-you page's answer");
    assert(world.logLines.some((line) => line.includes("not the recorded one")));
  });
});

Deno.test("Stripe failing during the success page's sync is a 502 and leaves the membership as it was", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId);
    const before = await membershipRecords(world.db);
    world.stripeDouble.inject({ method: "GET", path: "/v1/subscriptions", status: 500, times: 5 });
    const answer = await world.post("checkout-complete", { sessionId });
    assertEquals([answer.status, answer.body.error.code], [502, "stripe_unavailable"]);
    assertEquals(await membershipRecords(world.db), before);
    world.stripeDouble.clearFaults();
    const retried = await world.post("checkout-complete", { sessionId });
    assertEquals([retried.status, retried.body], [200, { status: "granting" }]);
  });
});

/** Stripe API requests the double received, as `METHOD path`. */
function stripeCalls(world: CheckoutWorld): string[] {
  return world.stripeDouble.requests().map((request) => `${request.method} ${request.path}`);
}

Deno.test("fifty calls for a completed session cost Stripe only the first call's reads, and say only 'granting'", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId);
    world.stripeDouble.clearRequests();

    const first = await world.post("checkout-complete", { sessionId });
    assertEquals([first.status, first.body], [200, { status: "granting" }]);
    const firstCalls = stripeCalls(world);
    assert(firstCalls.length > 0, "the first call reads the session and the subscription");
    const afterFirst = await membershipRecords(world.db);

    const sequential = [];
    for (let i = 0; i < 25; i++) {
      sequential.push(await world.post("checkout-complete", { sessionId }));
    }
    const concurrent = await Promise.all(
      Array.from({ length: 24 }, () => world.post("checkout-complete", { sessionId })),
    );
    for (const answer of [...sequential, ...concurrent]) {
      assertEquals([answer.status, answer.body], [200, { status: "granting" }]);
    }
    assertEquals(stripeCalls(world), firstCalls, "no Stripe request after the first call");
    assertEquals(await membershipRecords(world.db), afterFirst);
    const [attempt] = await world.db.sql<{ status: string; completion: string }[]>`
      select status, completion from rolepass.checkout_attempts`;
    assertEquals({ ...attempt }, { status: "completed", completion: "granting" });
  });
});

Deno.test("fifty concurrent first calls for a completed session ask Stripe once", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.completeCheckout(sessionId);
    world.stripeDouble.clearRequests();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => world.post("checkout-complete", { sessionId })),
    );
    for (const answer of answers) {
      assertEquals(answer.status, 200);
      assertEquals(Object.keys(answer.body), ["status"]);
    }
    assert(answers.some((answer) => answer.body.status === "granting"));
    const sessionReads = stripeCalls(world).filter((call) =>
      call === `GET /v1/checkout/sessions/${sessionId}`
    );
    assertEquals(sessionReads.length, 1, stripeCalls(world).join("\n"));
    assertEquals((await membershipRecords(world.db)).roleJobs.length, 1);
  });
});

Deno.test("an open session is re-read from Stripe at most once per window, however often it is asked", async () => {
  let now = Date.now();
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    world.stripeDouble.clearRequests();
    const sessionReads = () =>
      stripeCalls(world).filter((call) => call === `GET /v1/checkout/sessions/${sessionId}`)
        .length;

    for (let i = 0; i < 50; i++) {
      const answer = await world.post("checkout-complete", { sessionId });
      assertEquals([answer.status, answer.body], [200, { status: "processing" }]);
    }
    assertEquals(sessionReads(), 1);
    assertEquals(stripeCalls(world).length, 1);

    // The member pays; a reload after the window sees it and grants the role.
    world.stripeDouble.completeCheckout(sessionId);
    now += 9_000;
    assertEquals((await world.post("checkout-complete", { sessionId })).body, {
      status: "processing",
    });
    assertEquals(sessionReads(), 1, "still inside the window");
    now += 1_000;
    assertEquals((await world.post("checkout-complete", { sessionId })).body, {
      status: "granting",
    });
    assertEquals(sessionReads(), 2);
  }, { now: () => new Date(now) });
});

Deno.test("after completion the answer tells nothing of the member's later standing", async () => {
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    const { subscription } = world.stripeDouble.completeCheckout(sessionId);
    assertEquals((await world.post("checkout-complete", { sessionId })).body, {
      status: "granting",
    });
    await world.stripe.subscriptions.cancel(subscription.id);
    await world.db.sql`update rolepass.memberships set status = 'canceled', entitled = false,
      change_cause = 'test'`;
    world.stripeDouble.clearRequests();
    const later = await world.post("checkout-complete", { sessionId });
    assertEquals([later.status, later.body], [200, { status: "granting" }]);
    assertEquals(stripeCalls(world), []);
  });
});

Deno.test("an expired session is asked about once, then answered from the database", async () => {
  let now = Date.now();
  await withCheckoutWorld(async (world) => {
    const sessionId = await openCheckout(world);
    await world.stripe.checkout.sessions.expire(sessionId);
    world.stripeDouble.clearRequests();
    for (let i = 0; i < 3; i++) {
      assertEquals((await world.post("checkout-complete", { sessionId })).body, {
        status: "processing",
      });
      now += 60_000;
    }
    assertEquals(stripeCalls(world), [`GET /v1/checkout/sessions/${sessionId}`]);
    assertEquals(first((await checkoutRecords(world.db)).attempts, "a row").status, "expired");
  }, { now: () => new Date(now) });
});
