/**
 * The Stripe double's Events API lists as Stripe's does: the `created` filters, newest first in
 * pages with `starting_after` and `has_more`, and only the last 30 days.
 */
import assert from "node:assert/strict";
import Stripe from "stripe";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";

const SECRET_KEY = "sk_test_double_events";
const DAY = 86_400_000;

async function withDouble(
  fn: (double: StripeDouble, stripe: Stripe, clock: { now: number }) => Promise<void>,
): Promise<void> {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const double = await startStripeDouble({ secretKey: SECRET_KEY, clock: () => clock.now });
  const stripe = new Stripe(SECRET_KEY, {
    host: "127.0.0.1",
    port: double.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
  try {
    await fn(double, stripe, clock);
  } finally {
    await double.close();
  }
}

/** One customer.created event per day, from `days` days ago to today. */
async function oneEventADay(stripe: Stripe, clock: { now: number }, days: number) {
  const start = clock.now;
  for (let day = 0; day < days; day++) {
    clock.now = start + day * DAY;
    await stripe.customers.create({});
  }
  return clock.now;
}

Deno.test("events are filtered by created[gte] and created[lt] in Unix seconds", async () => {
  await withDouble(async (_double, stripe, clock) => {
    const start = clock.now;
    await oneEventADay(stripe, clock, 5);
    const from = (start + 1 * DAY) / 1000;
    const to = (start + 3 * DAY) / 1000;
    const listed = await stripe.events.list({ created: { gte: from, lt: to }, limit: 100 });
    assert.deepEqual(listed.data.map((e) => e.created), [from + 86_400, from]);
    const exact = await stripe.events.list({ created: from });
    assert.equal(exact.data.length, 1);
    const after = await stripe.events.list({ created: { gt: from, lte: to } });
    assert.deepEqual(after.data.map((e) => e.created), [to, from + 86_400]);
  });
});

Deno.test("events older than 30 days are no longer listed", async () => {
  await withDouble(async (_double, stripe, clock) => {
    const start = clock.now;
    await oneEventADay(stripe, clock, 35);
    const listed = await stripe.events.list({ limit: 100 });
    assert.equal(listed.data.length, 31);
    assert.ok(listed.data.every((e) => e.created * 1000 >= clock.now - 30 * DAY));
    const old = await stripe.events.list({ created: { lt: (start + 4 * DAY) / 1000 } });
    assert.equal(old.data.length, 0);
  });
});

Deno.test("events page newest first with starting_after until has_more is false", async () => {
  await withDouble(async (_double, stripe, clock) => {
    await oneEventADay(stripe, clock, 7);
    const seen: number[] = [];
    let startingAfter: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await stripe.events.list({
        limit: 3,
        ...(startingAfter ? { starting_after: startingAfter } : {}),
      });
      assert(page, "page is missing");
      seen.push(...page.data.map((e) => e.created));
      if (!page.has_more) break;
      const last = page.data.at(-1);
      assert(last, "a page with more after it is not empty");
      startingAfter = last.id;
    }
    assert.equal(seen.length, 7);
    assert.deepEqual(seen, [...seen].sort((a, b) => b - a));
  });
});

Deno.test("a malformed created filter is refused as Stripe refuses it", async () => {
  await withDouble(async (_double, stripe) => {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      stripe.events.list({ created: { gte: "soon" } as any }),
      (error: Stripe.errors.StripeError) => error.statusCode === 400,
    );
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      stripe.events.list({ created: { after: 5 } as any }),
      (error: Stripe.errors.StripeError) => error.statusCode === 400,
    );
  });
});

Deno.test("the control side reads events from a place on, oldest first, as copies", async () => {
  await withDouble(async (double, stripe, clock) => {
    await oneEventADay(stripe, clock, 3);
    const all = double.events();
    assert.equal(all.length, 3);
    const later = double.events({ from: 1 });
    assert.deepEqual(later.map((e) => e.id), all.slice(1).map((e) => e.id));
    assert.deepEqual(double.events({ from: 3 }), []);
    const customer = all[0]?.data.object as Stripe.Customer;
    await stripe.customers.update(customer.id, { metadata: { note: "vip" } });
    assert.deepEqual(
      double.events({ from: 3, type: "customer.created" }),
      [],
      "the type filter applies to the events from the place on",
    );
    assert.equal(double.events({ from: 3, type: "customer.updated" }).length, 1);
    const [copy] = double.events({ from: 0 });
    if (copy) copy.type = "customer.updated";
    assert.equal(double.events()[0]?.type, "customer.created");
  });
});
