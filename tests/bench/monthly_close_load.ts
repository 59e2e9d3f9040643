/**
 * The monthly close of a guild with 100,000 members and a year of history.
 *
 * Seeds the money ledger with generate_series (one paid invoice per member per month, 1% refunds
 * and 0.5% subscription ends a month), closes January to November, then times the close of
 * December (each attempt in a transaction that is rolled back, so every attempt does the full
 * work) against a floor measured in the same run: one index read of December's facts. Also
 * checks that the close scanned no table sequentially, and prints the ledger's size per member
 * per month (pg_total_relation_size over the rows written).
 */
import postgres from "postgres";
import { createSql } from "../../functions/_shared/db.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";

const MEMBERS = 100_000;
const MONTHS = 12;
const ATTEMPTS = 5;
const GUILD = "100000000000000777";

/** Thrown to roll a timed close back, so the next attempt closes the same month again. */
class RollBack extends Error {}

const db = await createTestDatabase();
// One connection, so the statistics this backend flushes are the ones read afterwards.
const sql = createSql(db.url, { max: 1 });
try {
  await sql`insert into rolepass.guilds (id, name) values (${GUILD}, 'Bench guild')`;
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval)
    values (${GUILD}, 'price_bench', '300000000000000777', ${sql.json({ en: { name: "Bench" } })},
      980, 'jpy', 'month')
    returning id`;
  assert(plan, "plan is missing");

  const seedStarted = performance.now();
  await sql.begin(async (tx) => {
    // Bulk seed: the placing trigger's result is written directly (every month is open here).
    await tx`set local session_replication_role = replica`;
    await tx`
      insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind,
        stripe_object_id, stripe_customer_id, stripe_subscription_id, stripe_invoice_id,
        starts_subscription, amount, currency, occurred_at, fact_month, period_month)
      select ${GUILD}, ${plan.id}, 'price_bench', 'invoice_paid', 'in_' || m || '_' || month,
        'cus_' || m, 'sub_' || m, 'in_' || m || '_' || month, month = 1, 980, 'jpy', paid_at,
        date_trunc('month', paid_at at time zone 'Asia/Tokyo')::date,
        date_trunc('month', paid_at at time zone 'Asia/Tokyo')::date
      from generate_series(1, ${MEMBERS}) as m
      cross join generate_series(1, ${MONTHS}) as month
      cross join lateral (
        select (timestamp '2025-01-01' + (month - 1) * interval '1 month'
          + (m % 27) * interval '1 day' + (m % 86400) * interval '1 second')
          at time zone 'Asia/Tokyo' as paid_at
      ) t`;
    await tx`
      insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind,
        stripe_object_id, stripe_subscription_id, amount, currency, occurred_at, fact_month,
        period_month)
      select ${GUILD}, ${plan.id}, 'price_bench', kind, prefix || m || '_' || month, 'sub_' || m,
        amount, 'jpy', at, date_trunc('month', at at time zone 'Asia/Tokyo')::date,
        date_trunc('month', at at time zone 'Asia/Tokyo')::date
      from generate_series(1, ${MEMBERS}) as m
      cross join generate_series(1, ${MONTHS}) as month
      cross join lateral (
        select (timestamp '2025-01-01' + (month - 1) * interval '1 month'
          + interval '27 days') at time zone 'Asia/Tokyo' as at
      ) t
      cross join lateral (values
        ('refund', 're_', 980, m % 100 = month),
        ('subscription_ended', 'sub_end_', 0, m % 200 = month)
      ) as f(kind, prefix, amount, chosen)
      where chosen`;
  });
  await sql`analyze rolepass.money_ledger`;
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  const { rows, bytes } = first(
    await sql<{ rows: number; bytes: number }[]>`
    select count(*)::integer as rows,
      pg_total_relation_size('rolepass.money_ledger')::float8 as bytes
    from rolepass.money_ledger`,
    "a row",
  );

  for (let month = 1; month < MONTHS; month++) {
    const first = `2025-${String(month).padStart(2, "0")}-01`;
    const [closed] = await sql`select outcome from rolepass.close_period(${GUILD}, ${first}::date)`;
    assert(closed, "closed is missing");
    if (closed.outcome !== "closed") throw new Error(`closing ${first}: ${closed.outcome}`);
  }

  const seqScans = async () => {
    await sql`select pg_stat_force_next_flush()`;
    const [row] = await sql<{ scans: number }[]>`
      select coalesce(sum(seq_scan), 0)::integer as scans from pg_stat_user_tables
      where relname in ('money_ledger', 'closed_period_figures')`;
    assert(row, "row is missing");
    return row.scans;
  };
  const elapsed = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const closeTimes: number[] = [];
  const floorTimes: number[] = [];
  const scansBefore = await seqScans();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    floorTimes.push(
      await elapsed(() =>
        sql`
        select currency, sum(amount) from rolepass.money_ledger
        where guild_id = ${GUILD}
          and occurred_at >= timestamptz '2025-12-01 00:00+09'
          and occurred_at < timestamptz '2026-01-01 00:00+09'
        group by currency`
      ),
    );
    closeTimes.push(
      await elapsed(() =>
        sql.begin(async (tx) => {
          const [closed] = await tx`
            select outcome from rolepass.close_period(${GUILD}, '2025-12-01'::date)`;
          assert(closed, "closed is missing");
          if (closed.outcome !== "closed") throw new Error(`closing 2025-12: ${closed.outcome}`);
          throw new RollBack();
        }).catch((error) => {
          if (!(error instanceof RollBack)) throw error;
        })
      ),
    );
  }
  const scansDuring = (await seqScans()) - scansBefore;

  if (Deno.env.get("CLOSE_EXPLAIN")) {
    // EXPLAIN ANALYZE of every statement inside the close, printed as PostgreSQL reports it.
    const plans: string[] = [];
    const explainSql = postgres(db.url, { max: 1, onnotice: (n) => plans.push(String(n.message)) });
    try {
      await explainSql.begin(async (tx) => {
        await tx.unsafe("load 'auto_explain'");
        await tx.unsafe("set local auto_explain.log_min_duration = 0");
        await tx.unsafe("set local auto_explain.log_analyze = on");
        await tx.unsafe("set local auto_explain.log_buffers = on");
        await tx.unsafe("set local auto_explain.log_nested_statements = on");
        await tx.unsafe("set local auto_explain.log_level = 'notice'");
        await tx`select outcome from rolepass.close_period(${GUILD}, '2025-12-01'::date)`;
        throw new RollBack();
      }).catch((error) => {
        if (!(error instanceof RollBack)) throw error;
      });
    } finally {
      await explainSql.end({ timeout: 5 });
    }
    console.log(plans.join("\n\n"));
  }

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
  const closeMs = median(closeTimes);
  assert(closeMs, "closeMs is missing");
  const floorMs = median(floorTimes);
  assert(floorMs, "floorMs is missing");
  console.log(`seeded ${rows.toLocaleString("en")} ledger rows in ${seedSeconds.toFixed(1)} s`);
  console.log(
    `ledger size: ${(bytes / 1024 / 1024).toFixed(1)} MiB, ` +
      `${(bytes / (MEMBERS * MONTHS)).toFixed(0)} bytes per member per month ` +
      `(pg_total_relation_size, table + indexes)`,
  );
  console.log(
    `close of 2025-12 (${MEMBERS.toLocaleString("en")} members, 11 months closed before): ` +
      `median ${closeMs.toFixed(0)} ms over ${ATTEMPTS}; floor (one index read of the month) ` +
      `${floorMs.toFixed(0)} ms; ratio ${(closeMs / floorMs).toFixed(2)}`,
  );
  console.log(
    `sequential scans of the ledger or closed figures during the timed closes: ${scansDuring}`,
  );
  if (scansDuring > 0) throw new Error("the close scanned the ledger sequentially");
} finally {
  await sql.end({ timeout: 5 });
  await db.drop();
}
