/**
 * stripe-webhook load: events per second and p50/p99 per event, with the Stripe double on
 * loopback and the real database, next to a floor measured in the same run: the HMAC check of
 * the same signed body plus one transaction recording an event id. Target: >= 300 events/s and
 * p99 within 3x the floor's.
 *
 * The Stripe double runs in a Deno subprocess of its own (stripe_double_server.ts), seeded over
 * its HTTP control API under `/__double`, and is killed at the end whatever happens. Real Stripe
 * is a remote service: its work is not done on the function's CPU. In process, the double's own
 * work for each re-read (parsing the request, building and serializing the subscription list)
 * ran on the same event loop as the function and, on a 2-core machine, was charged to the
 * webhook's latency; only the round trip over loopback belongs to it. (The webhook world still
 * starts its own in-process double; nothing here talks to it, so it stays idle.)
 *
 * Every measured event is a handled type with a fresh id, so each one is verified, re-reads the
 * customer's subscriptions from the double and runs the locked transaction; every other one follows
 * a change made in Stripe beforehand (untimed), so its apply changes the membership and writes
 * history. The whole measurement runs WEBHOOK_RUNS times (5) and medians are printed; `deno task
 * bench` gives it a durable cluster (fsync and synchronous commit on). One at a time, floor
 * and webhook events alternate, so both see the same load on a shared machine: measured one block
 * after the other, the p99 ratio mostly compared two moments of the machine. Run with
 * `deno task bench webhook` (or `deno run -A tests/bench/webhook_load.ts` with DATABASE_URL set).
 */
import Stripe from "stripe";
import type { Stripe as StripeTypes } from "stripe";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { createStripeClient, createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { eventBody, signPayload } from "../../functions/_doubles/stripe/index.ts";
import {
  startCheckout,
  startWebhookWorld,
  WEBHOOK_SECRET,
} from "../integration/webhook_harness.ts";
import { first } from "../harness/assert.ts";

const MEMBERS = 100;
const SEQUENTIAL_EVENTS = 1_000;
const CONCURRENT_EVENTS = 1_500;
const CONCURRENCY = 16;
const RUNS = Number(Deno.env.get("WEBHOOK_RUNS") ?? "5");

/** Times `floor` and `webhook` one event at a time, alternating, so drift hits both alike. */
async function measureInterleaved(
  count: number,
  floor: (index: number) => Promise<void>,
  webhook: (index: number) => Promise<void>,
  prepare: (index: number) => Promise<void>,
): Promise<{ floor: Measured; webhook: Measured }> {
  const samples = { floor: [] as number[], webhook: [] as number[] };
  const time = async (one: (index: number) => Promise<void>, index: number, into: number[]) => {
    if (one === webhook) await prepare(index);
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
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

async function measure(
  count: number,
  concurrency: number,
  one: (index: number) => Promise<void>,
  prepare?: (index: number) => Promise<void>,
): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  let preparing = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const index = next++;
      if (prepare) {
        // The change is Stripe's, made before the event is sent: not the webhook's time.
        const p0 = performance.now();
        await prepare(index);
        preparing += performance.now() - p0;
      }
      const t0 = performance.now();
      await one(index);
      latencies.push(performance.now() - t0);
    }
  }));
  // Preparation ran concurrently on `concurrency` lanes; only each lane's share is taken out.
  const seconds = (performance.now() - started - preparing / concurrency) / 1000;
  return {
    perSecond: count / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** A Stripe double running in a subprocess; `close` kills it. */
interface RemoteDouble {
  url: string;
  control<T>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

async function startRemoteDouble(): Promise<RemoteDouble> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", new URL("./stripe_double_server.ts", import.meta.url).href],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await stdin.close().catch(() => {});
    await child.status;
  };
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the Stripe double subprocess ended early: ${text}`);
      text += value;
    }
    await reader.cancel();
    const { url } = JSON.parse(text.slice(0, text.indexOf("\n"))) as { url: string };
    const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${url}/__double${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const result = await response.json();
      if (!response.ok) {
        throw new Error(`${method} /__double${path}: ${response.status} ${JSON.stringify(result)}`);
      }
      return result as T;
    };
    return { url, control, close };
  } catch (error) {
    await close();
    throw error;
  }
}

let remote: RemoteDouble | undefined;
let world: Awaited<ReturnType<typeof startWebhookWorld>> | undefined;
try {
  remote = await startRemoteDouble();
  const double = remote;
  world = await startWebhookWorld();
  const { db, guildId } = world;
  // The function as the world builds it, but re-reading from the out-of-process double.
  const stripe = createStripeClient("sk_test_rolepass", double.url, { timeoutMs: 2_000 });
  const app = createApp({ ...world.deps, stripe: createStripeGateway(stripe) });
  const appSql = world.appSql;

  // The world's plan, moved to a price of the remote double.
  const price = await double.control<{ id: string }>("POST", "/prices", {
    unitAmount: 980,
    currency: "jpy",
    interval: "month",
  });
  await db.sql`update rolepass.plans set stripe_price_id = ${price.id} where id = ${world.plan.id}`;

  let eventCursor = 0;
  const takeEvents = async () => {
    const all = await double.control<StripeTypes.Event[]>("GET", "/events");
    const fresh = all.slice(eventCursor);
    eventCursor = all.length;
    return fresh;
  };
  const clock = world.clock;
  const post = async (event: StripeTypes.Event) => {
    const body = eventBody(event);
    const header = await signPayload(body, WEBHOOK_SECRET, Math.floor(clock.now.getTime() / 1000));
    const response = await app.fetch(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": header },
        body,
      }),
    );
    const answer = await response.text();
    if (response.status !== 200) {
      throw new Error(`${event.type} ${event.id} answered ${response.status}: ${answer}`);
    }
  };

  const templates: StripeTypes.Event[] = [];
  for (let i = 0; i < MEMBERS; i++) {
    // A member who went to Checkout, as the webhook world's newMember makes one.
    const discordUserId = String(200_000_000_000_000_000n + BigInt(i));
    const { session } = await startCheckout(db.sql, stripe, guildId, discordUserId, price.id);
    await double.control("POST", `/checkout/${session.id}/complete`, { outcome: "paid" });
    const events = await takeEvents();
    for (const event of events) await post(event);
    templates.push(
      events.find((e) =>
        e.type === "customer.subscription.updated" ||
        e.type === "customer.subscription.created"
      )!,
    );
  }

  let counter = 0;
  // Signed at `now`: the floor verifies against the real clock, the app against the world's clock
  // (a fixed time), and five runs outlast Stripe's 300 s tolerance between the two.
  const signedRequest = async (index: number, now = Date.now()) => {
    const event = { ...templates[index % templates.length], id: `evt_bench${++counter}x${index}` };
    const body = eventBody(event as StripeTypes.Event);
    const header = await signPayload(body, WEBHOOK_SECRET, Math.floor(now / 1000));
    return { body, header, id: event.id };
  };

  const verifier = new Stripe("sk_test_bench");
  const crypto = Stripe.createSubtleCryptoProvider();
  const floorOne = async (index: number) => {
    const { body, header, id } = await signedRequest(index);
    await verifier.webhooks.constructEventAsync(body, header, WEBHOOK_SECRET, 300, crypto);
    await appSql.begin(async (tx) => {
      await tx`insert into rolepass.stripe_events (id, type, status, processed_at)
        values (${"evt_floor" + id.slice(3)}, 'bench.floor', 'processed', now())`;
    });
  };
  // Every other event follows a change in Stripe (cancel at period end, toggled), so its re-read
  // changes the membership; the others change nothing.
  const cancelling = new Map<string, boolean>();
  const changeInStripe = async (index: number) => {
    if (index % 2 === 0) return;
    const template = first(templates.slice(index % templates.length), "an event template");
    const subscription = template.data.object as { id: string };
    const cancel = !cancelling.get(subscription.id);
    cancelling.set(subscription.id, cancel);
    await stripe.subscriptions.update(subscription.id, { cancel_at_period_end: cancel });
  };
  const historyRows = async () => {
    const row = first(
      await db.sql<{ n: number }[]>`
      select count(*)::int as n from rolepass.membership_history where operation = 'UPDATE'`,
      "a count",
    );
    return row.n;
  };

  const webhookOne = async (index: number) => {
    const { body, header } = await signedRequest(index, clock.now.getTime());
    const response = await app.fetch(
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

  const runs: {
    floorSequential: Measured;
    webhookSequential: Measured;
    floorLoad: Measured;
    webhookLoad: Measured;
  }[] = [];
  const historyBefore = await historyRows();
  for (let run = 0; run < RUNS; run++) {
    const sequential = await measureInterleaved(
      SEQUENTIAL_EVENTS,
      floorOne,
      webhookOne,
      changeInStripe,
    );
    const floorLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, floorOne);
    const webhookLoad = await measure(CONCURRENT_EVENTS, CONCURRENCY, webhookOne, changeInStripe);
    const one = {
      floorSequential: sequential.floor,
      webhookSequential: sequential.webhook,
      floorLoad,
      webhookLoad,
    };
    runs.push(one);
    console.log(
      `run ${run + 1}: webhook ${Math.round(webhookLoad.perSecond)} events/s ` +
        `(floor ${Math.round(floorLoad.perSecond)}), p99 one at a time ` +
        `${(one.webhookSequential.p99 / one.floorSequential.p99).toFixed(2)}x the floor's`,
    );
  }
  const changed = (await historyRows()) - historyBefore;
  console.log(`memberships changed by measured events: ${changed} history rows`);
  // The median run by webhook throughput, each figure its own median across the runs.
  const medianOf = (pick: (run: (typeof runs)[number]) => number) => {
    const median = [...runs.map(pick)].sort((a, b) => a - b)[runs.length >> 1];
    if (median === undefined) throw new Error("Cannot take a median of no runs");
    return median;
  };
  const medianMeasured = (pick: (run: (typeof runs)[number]) => Measured): Measured => ({
    perSecond: medianOf((run) => pick(run).perSecond),
    p50: medianOf((run) => pick(run).p50),
    p99: medianOf((run) => pick(run).p99),
  });
  const floorSequential = medianMeasured((run) => run.floorSequential);
  const webhookSequential = medianMeasured((run) => run.webhookSequential);
  const floorLoad = medianMeasured((run) => run.floorLoad);
  const webhookLoad = medianMeasured((run) => run.webhookLoad);

  const ms = (value: number) => `${value.toFixed(2)} ms`;
  console.log(
    `stripe-webhook load (${MEMBERS} customers, Stripe double in a subprocess on loopback, ` +
      `durable database unless DATABASE_URL says otherwise), median of ${RUNS} runs`,
  );
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
  const ratio = medianOf((run) => run.webhookSequential.p99 / run.floorSequential.p99);
  console.log(
    `webhook throughput ${Math.round(webhookLoad.perSecond)} events/s (target >= 300): ` +
      (webhookLoad.perSecond >= 300 ? "met" : "NOT met"),
  );
  console.log(
    `webhook p99 / floor p99 (one at a time) = ${ratio.toFixed(2)}x (target <= 3x): ` +
      (ratio <= 3 ? "met" : "NOT met"),
  );
} finally {
  try {
    await world?.close();
  } finally {
    await remote?.close();
  }
}
