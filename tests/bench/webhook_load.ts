/**
 * stripe-webhook load: events per second and p50/p99 per event, with the Stripe double on
 * loopback and the real database, next to a floor measured in the same run: the HMAC check of
 * the same signed body plus one transaction recording an event id. Target: >= 300 events/s and
 * p99 within 3x the floor's.
 *
 * Every measured event is a handled type with a fresh id, so each one is verified, re-reads the
 * customer's subscriptions from the double and runs the locked transaction. One at a time, floor
 * and webhook events alternate, so both see the same load on a shared machine: measured one block
 * after the other, the p99 ratio mostly compared two moments of the machine. Run with
 * `deno task bench webhook` (or `deno run -A tests/bench/webhook_load.ts` with DATABASE_URL set).
 */
import Stripe from "stripe";
import type { Stripe as StripeTypes } from "stripe";
import { eventBody, signPayload } from "../doubles/stripe/index.ts";
import { postAll, startWebhookWorld, WEBHOOK_SECRET } from "../integration/webhook_harness.ts";

const MEMBERS = 100;
const SEQUENTIAL_EVENTS = 1_000;
const CONCURRENT_EVENTS = 1_500;
const CONCURRENCY = 16;

/** Times `floor` and `webhook` one event at a time, alternating, so drift hits both alike. */
async function measureInterleaved(
  count: number,
  floor: (index: number) => Promise<void>,
  webhook: (index: number) => Promise<void>,
): Promise<{ floor: Measured; webhook: Measured }> {
  const samples = { floor: [] as number[], webhook: [] as number[] };
  const time = async (one: (index: number) => Promise<void>, index: number, into: number[]) => {
    const t0 = performance.now();
    await one(index);
    into.push(performance.now() - t0);
  };
  for (let index = 0; index < count; index++) {
    // Which one goes first alternates too, so neither always runs right after the other.
    if (index % 2 === 0) {
      await time(floor, index, samples.floor);
      await time(webhook, index, samples.webhook);
    } else {
      await time(webhook, index, samples.webhook);
      await time(floor, index, samples.floor);
    }
  }
  const summary = (latencies: number[]): Measured => ({
    perSecond: 1000 / (latencies.reduce((sum, value) => sum + value, 0) / latencies.length),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  });
  return { floor: summary(samples.floor), webhook: summary(samples.webhook) };
}

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function measure(
  count: number,
  concurrency: number,
  one: (index: number) => Promise<void>,
): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const index = next++;
      const t0 = performance.now();
      await one(index);
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  return {
    perSecond: count / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

const world = await startWebhookWorld();
try {
  const templates: StripeTypes.Event[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    const events = world.takeEvents();
    await postAll(world, events);
    templates.push(
      events.find((e) =>
        e.type === "customer.subscription.updated" ||
        e.type === "customer.subscription.created"
      )!,
    );
  }

  let counter = 0;
  const signedRequest = async (index: number) => {
    const event = { ...templates[index % templates.length], id: `evt_bench${++counter}x${index}` };
    const body = eventBody(event as StripeTypes.Event);
    const header = await signPayload(body, WEBHOOK_SECRET, Math.floor(Date.now() / 1000));
    return { body, header, id: event.id };
  };

  const verifier = new Stripe("sk_test_bench");
  const crypto = Stripe.createSubtleCryptoProvider();
  const floorOne = async (index: number) => {
    const { body, header, id } = await signedRequest(index);
    await verifier.webhooks.constructEventAsync(body, header, WEBHOOK_SECRET, 300, crypto);
    await world.appSql.begin(async (tx) => {
      await tx`insert into public.stripe_events (id, type, processed_at)
        values (${"evt_floor" + id.slice(3)}, 'bench.floor', now())`;
    });
  };
  const webhookOne = async (index: number) => {
    const { body, header } = await signedRequest(index);
    const response = await world.app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": header },
        body,
      }),
    );
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
    await response.body?.cancel();
  };

  // Warm both paths up before measuring.
  await measure(50, 4, floorOne);
  await measure(50, 4, webhookOne);

  const sequential = await measureInterleaved(SEQUENTIAL_EVENTS, floorOne, webhookOne);
  const floorSequential = sequential.floor;
  const webhookSequential = sequential.webhook;
  const floorLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, floorOne);
  const webhookLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, webhookOne);

  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.log(`stripe-webhook load (${MEMBERS} customers, Stripe double on loopback)`);
  console.table({
    "floor, one at a time": {
      "events/s": Math.round(floorSequential.perSecond),
      p50: ms(floorSequential.p50),
      p99: ms(floorSequential.p99),
    },
    "webhook, one at a time": {
      "events/s": Math.round(webhookSequential.perSecond),
      p50: ms(webhookSequential.p50),
      p99: ms(webhookSequential.p99),
    },
    [`floor, ${CONCURRENCY} concurrent`]: {
      "events/s": Math.round(floorLoad.perSecond),
      p50: ms(floorLoad.p50),
      p99: ms(floorLoad.p99),
    },
    [`webhook, ${CONCURRENCY} concurrent`]: {
      "events/s": Math.round(webhookLoad.perSecond),
      p50: ms(webhookLoad.p50),
      p99: ms(webhookLoad.p99),
    },
  });
  const ratio = webhookSequential.p99 / floorSequential.p99;
  console.log(
    `webhook throughput ${Math.round(webhookLoad.perSecond)} events/s (target >= 300): ` +
      (webhookLoad.perSecond >= 300 ? "met" : "NOT met"),
  );
  console.log(
    `webhook p99 / floor p99 (one at a time) = ${ratio.toFixed(2)}x (target <= 3x): ` +
      (ratio <= 3 ? "met" : "NOT met"),
  );
} finally {
  await world.close();
}
