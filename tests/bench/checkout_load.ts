/**
 * The member's clicks on the plan page, measured against local PostgreSQL and the Stripe double:
 *
 * - floor: one `select` round trip on the same pool (what no request can beat);
 * - plan view: `POST /checkout/plan-view` (token hash lookup, guild and plans, membership);
 * - plan page render: `GET /join/<token>` through the page's own app, checkout client answering
 *   from memory (HTML rendering alone);
 * - repeated subscribe: `POST /checkout/checkout-session` with a used link (row locks, the replay
 *   rules and Stripe's idempotent replay from the double: the double-click path).
 *
 * Run with `deno task bench checkout`: p50/p99 and requests per second, each next to the floor.
 */
import { createApp } from "../../functions/checkout/app.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import type { CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";
import { startStripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert } from "../harness/assert.ts";
import { peakMemoryLine } from "./process_memory.ts";

const GUILD_ID = "110000000000000001";
const MEMBER_ID = "220000000000000001";
const STRIPE_KEY = "sk_test_rolepassbench";
const example = JSON.parse(
  await Deno.readTextFile(new URL("../../supabase/plans.example.json", import.meta.url)),
);

setLogSink(() => {});
const db = await createTestDatabase();
const stripeDouble = await startStripeDouble({ secretKey: STRIPE_KEY });
const sql = createSql(db.url, { max: 5 });
const price = stripeDouble.createPrice({ unitAmount: 500, currency: "jpy", interval: "month" });
await db.sql`insert into rolepass.guilds (id, name, seller_notice)
  values (${GUILD_ID}, 'Rolepass Lounge', ${db.sql.json(example.guilds[0].seller_notice)})`;
const [plan] = await db.sql<{ id: string }[]>`
  insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
    currency, billing_interval)
  values (${GUILD_ID}, ${price.id}, '330000000000000001',
    ${db.sql.json(example.guilds[0].plans[0].display)}, 500, 'jpy', 'month')
  returning id`;
assert(plan, "plan is missing");
const token = newLinkToken();
await db.sql`insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id,
    locale, expires_at)
  values (${await hashLinkToken(token)}, 'join', ${GUILD_ID}, ${MEMBER_ID}, 'ja',
    now() + interval '1 day')`;

const checkout = createApp({
  sql,
  stripe: connectStripe(STRIPE_KEY, stripeDouble.url),
  publicSiteUrl: "https://plans.rolepass.test",
});
const post = (path: string, body: unknown) =>
  checkout.request(`/checkout/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const view = await (await post("plan-view", { token })).json();
const memoryClient: CheckoutClient = {
  planView: () => Promise.resolve({ ok: true, value: view }),
  checkoutSession: () => Promise.resolve({ ok: false, problem: "unavailable" }),
  portalSession: () => Promise.resolve({ ok: false, problem: "unavailable" }),
  completeCheckout: () => Promise.resolve({ ok: false, problem: "unavailable" }),
};
const page = createPlanPageApp({
  checkoutClient: memoryClient,
  publicSiteUrl: "https://plans.rolepass.test",
});
const first = await post("checkout-session", { token, planId: plan.id });
if (first.status !== 200) throw new Error(`setup: checkout-session answered ${first.status}`);
await first.body?.cancel();

async function expectOk(response: Response): Promise<void> {
  if (response.status !== 200) throw new Error(`answered ${response.status}`);
  await response.arrayBuffer();
}

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

/** Runs `fn` sequentially `runs` times after a warm-up; returns p50, p99 and requests per second. */
async function measure(runs: number, fn: () => Promise<void>) {
  for (let i = 0; i < 50; i++) await fn();
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  const elapsed = performance.now() - started;
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), rps: runs / elapsed * 1000 };
}

const RUNS = 1000;
try {
  const floor = await measure(RUNS, async () => {
    await sql`select 1`;
  });
  // [name, what it costs in round trips, figures]
  const rows: [string, string, Awaited<ReturnType<typeof measure>>][] = [
    ["floor: select 1", "1 db", floor],
    [
      "plan view (POST /checkout/plan-view)",
      "4 db",
      await measure(RUNS, async () => {
        await expectOk(await post("plan-view", { token }));
      }),
    ],
    [
      "plan page render (GET /join/<token>)",
      "0",
      await measure(RUNS, async () => {
        await expectOk(await page.request(`/join/${token}`));
      }),
    ],
    [
      "subscribe again, same session (replay)",
      "~10 db + 1 Stripe",
      await measure(RUNS, async () => {
        await expectOk(await post("checkout-session", { token, planId: plan.id }));
      }),
    ],
  ];
  console.log(`checkout, ${RUNS} sequential requests each, warm, local PostgreSQL + Stripe double`);
  for (const [name, trips, m] of rows) {
    console.log(
      `${name.padEnd(40)} ${trips.padEnd(18)} ${m.rps.toFixed(0).padStart(6)} req/s` +
        `  p50 ${m.p50.toFixed(2)} ms (${(m.p50 / floor.p50).toFixed(1)}x floor)` +
        `  p99 ${m.p99.toFixed(2)} ms`,
    );
  }
  console.log(
    await peakMemoryLine("checkout and plan-page apps, with the Stripe double and the load"),
  );
} finally {
  await sql.end({ timeout: 5 });
  await stripeDouble.close();
  await db.drop();
}
