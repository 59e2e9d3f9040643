/**
 * How the hot statements' costs move from 1,000 to 100,000 members.
 *
 * For each size a fresh migrated database is filled with bulk SQL (generate_series, triggers off):
 * guilds of 500 members, a year of history per member (4 membership history rows, 4 processed
 * Stripe events, 3 finished role jobs, a checkout attempt, an expired link token), and 1% of the
 * memberships past their grace period. Then, each statement inside a transaction that is rolled
 * back (so every sample sees the same rows), median of several samples:
 *
 * - claim: `claim_role_jobs(8, 60)` with one due job per member queued (a reconcile of everyone);
 * - sweep: `sweep_role_jobs()` (expiry, housekeeping, the due check and the wake-up);
 * - expiry: `expire_entitlements()` (one call, as the sweep makes it);
 * - health: the `role_job_queue_status` view, without and with that backlog;
 * - subscribe: `/subscribe`'s `open_subscribe_link` call for a member;
 * - webhook apply: the webhook's locked transaction for a re-read that changes a membership (claim
 *   the event under the customer's lock, `applyCustomerRead`), Stripe's read made beforehand;
 * - close: `close_period` of December for a guild with as many members as the size, with a
 *   year of money ledger (one paid invoice a member a month, 1% refunds, 0.5% ends a month) and
 *   January to November closed;
 *
 * each next to two floors measured in the same run on the same connection: `select 1` and a
 * primary-key lookup of a membership. Ratios are against `select 1`.
 *
 * `deno task bench scaling`; sizes from SCALING_SIZES (default "1000,10000,100000").
 */
import type postgres from "postgres";
import type {
  StripeEventEnvelope,
  SubscriptionSnapshot,
} from "../../functions/_core/stripe_shapes.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { claimEvent } from "../../functions/_shared/stripe_event_ledger.ts";
import {
  applyCustomerRead,
  customerLock,
  type SyncDeps,
  type Transaction,
} from "../../functions/_shared/subscription_sync.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";

const SIZES = (Deno.env.get("SCALING_SIZES") ?? "1000,10000,100000").split(",").map(Number);
const MEMBERS_PER_GUILD = 500;
/** Each statement gets about this long, within [MIN_SAMPLES, MAX_SAMPLES] samples. */
const BUDGET_MS = 3_000;
const MIN_SAMPLES = 5;
const MAX_SAMPLES = 200;

type Reserved = postgres.ReservedSql;

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const value = sorted[Math.floor(sorted.length / 2)];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

/** A statement's median time, and the buffers it touched per call (a cost no load changes). */
interface Figure {
  ms: number;
  /** Shared buffers hit or read per sample, nested statements included; NaN when not counted. */
  blocks: number;
}

/**
 * Times `statement` on `sql`, in a transaction rolled back after each sample, and counts the
 * buffers its statements touch through pg_stat_statements (preloaded by the benchmark cluster):
 * on a shared machine the time of a sample depends on the load, the buffers it touches do not.
 */
async function measure(
  sql: Reserved,
  statement: (sql: Reserved, sample: number) => Promise<unknown>,
  { rolledBack = true } = {},
): Promise<Figure> {
  const counted = await sql`select extensions.pg_stat_statements_reset()`.then(() => true)
    .catch(() => false);
  const samples: number[] = [];
  const started = performance.now();
  while (
    samples.length < MIN_SAMPLES ||
    (samples.length < MAX_SAMPLES && performance.now() - started < BUDGET_MS)
  ) {
    if (rolledBack) await sql`begin`;
    const t0 = performance.now();
    await statement(sql, samples.length);
    samples.push(performance.now() - t0);
    if (rolledBack) await sql`rollback`;
  }
  let blocks = Number.NaN;
  if (counted) {
    const [row] = await sql<{ blocks: number }[]>`
      select coalesce(sum(shared_blks_hit + shared_blks_read), 0)::float8 as blocks
      from extensions.pg_stat_statements
      where toplevel and dbid = (select oid from pg_database where datname = current_database())
        and query not like '%pg_stat_statements%'`;
    blocks = (row?.blocks ?? Number.NaN) / samples.length;
  }
  return { ms: median(samples), blocks };
}

async function fill(sql: postgres.Sql, members: number): Promise<void> {
  const guilds = Math.max(2, Math.ceil(members / MEMBERS_PER_GUILD));
  await sql.begin(async (tx) => {
    // Guilds and plans with their triggers (their defaults come from them); the bulk without.
    await tx`insert into rolepass.guilds (id, name)
      select (120000000000000000 + g)::text, 'Guild ' || g from generate_series(1, ${guilds}) g`;
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id,
        discord_role_ids, display, unit_amount, currency, billing_interval)
      select (120000000000000000 + g)::text, 'price_scale_' || g,
        (320000000000000000 + g)::text, array[(320000000000000000 + g)::text],
        '{"en": {"name": "Gold"}}'::jsonb, 500, 'jpy', 'month'
      from generate_series(1, ${guilds}) g`;
    // Every hundredth member is past due with a grace period that has just run out.
    await tx`insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
        stripe_subscription_id, plan_id, status, past_due_since, payment_standing, entitled,
        entitled_role_id, entitled_role_ids, entitled_until, current_period_end, created_at,
        subscription_live)
      select p.guild_id, (520000000000000000 + i)::text, 'cus_scale' || i, 'sub_scale' || i,
        p.id, case when i % 100 = 0 then 'past_due' else 'active' end,
        case when i % 100 = 0 then now() - interval '1 day' end,
        case when i % 100 = 0 then 'failed' else 'good' end, true, p.discord_role_id,
        p.discord_role_ids,
        case when i % 100 = 0 then now() - interval '1 minute' end,
        now() + interval '20 days', now() - interval '1 year', true
      from generate_series(1, ${members}) i
      join rolepass.plans p on p.stripe_price_id = 'price_scale_' || (1 + i % ${guilds})`;
    await tx`insert into rolepass.membership_history (membership_id, guild_id, discord_user_id,
        operation, cause, stripe_event_id, old_status, new_status, old_entitled, new_entitled,
        changes, changed_at)
      select m.id, m.guild_id, m.discord_user_id, 'UPDATE', 'evt_scale', 'evt_scale_' || n,
        'active', 'active', true, true,
        jsonb_build_object('current_period_end', jsonb_build_array(now(), now())),
        now() - make_interval(days => 90 * n)
      from rolepass.memberships m, generate_series(1, 4) n`;
    await tx`insert into rolepass.stripe_events (id, type, status, received_at, processed_at)
      select 'evt_scale_' || m.discord_user_id || '_' || n, 'invoice.paid', 'processed',
        now() - make_interval(days => 90 * n), now() - make_interval(days => 90 * n)
      from rolepass.memberships m, generate_series(1, 4) n`;
    await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, role_ids, cause, status, outcome, attempts, next_attempt_at, created_at, done_at)
      select m.id, m.guild_id, m.discord_user_id, true, m.entitled_role_id, m.entitled_role_ids,
        'evt_scale', 'done',
        'applied', 1, now() - make_interval(days => 120 * n),
        now() - make_interval(days => 120 * n), now() - make_interval(days => 120 * n)
      from rolepass.memberships m, generate_series(1, 3) n`;
    await tx`insert into rolepass.checkout_attempts (membership_id, kind, stripe_session_id, status,
        created_at, updated_at)
      select m.id, 'checkout', 'cs_scale_' || m.discord_user_id, 'completed',
        now() - interval '1 year', now() - interval '1 year'
      from rolepass.memberships m`;
    await tx`insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id,
        locale, expires_at, created_at)
      select extensions.digest(m.discord_user_id, 'sha256'), 'join', m.guild_id,
        m.discord_user_id, 'en', now() - interval '1 year' + interval '15 minutes',
        now() - interval '1 year'
      from rolepass.memberships m`;
  });
  await sql`vacuum analyze`;
}

const CLOSE_GUILD = "120000000000099999";

/**
 * A guild of `members` with a year of money ledger (as the monthly close benchmark seeds it), and
 * January to November 2025 closed, so December's close is the one to time.
 */
async function fillLedger(sql: postgres.Sql, members: number): Promise<void> {
  await sql`insert into rolepass.guilds (id, name) values (${CLOSE_GUILD}, 'Close guild')`;
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
      display, unit_amount, currency, billing_interval)
    values (${CLOSE_GUILD}, 'price_close', '320000000000099999', '{320000000000099999}',
      '{"en": {"name": "Close"}}'::jsonb, 980, 'jpy', 'month')
    returning id`;
  assert(plan, "the close guild's plan is missing");
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`
      insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind,
        stripe_object_id, stripe_customer_id, stripe_subscription_id, stripe_invoice_id,
        starts_subscription, amount, currency, occurred_at, fact_month, period_month)
      select ${CLOSE_GUILD}, ${plan.id}, 'price_close', 'invoice_paid', 'in_' || m || '_' || month,
        'cus_' || m, 'sub_' || m, 'in_' || m || '_' || month, month = 1, 980, 'jpy', paid_at,
        date_trunc('month', paid_at at time zone 'Asia/Tokyo')::date,
        date_trunc('month', paid_at at time zone 'Asia/Tokyo')::date
      from generate_series(1, ${members}) as m
      cross join generate_series(1, 12) as month
      cross join lateral (
        select (timestamp '2025-01-01' + (month - 1) * interval '1 month'
          + (m % 27) * interval '1 day' + (m % 86400) * interval '1 second')
          at time zone 'Asia/Tokyo' as paid_at
      ) t`;
    await tx`
      insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind,
        stripe_object_id, stripe_subscription_id, amount, currency, occurred_at, fact_month,
        period_month)
      select ${CLOSE_GUILD}, ${plan.id}, 'price_close', kind, prefix || m || '_' || month,
        'sub_' || m, amount, 'jpy', at, date_trunc('month', at at time zone 'Asia/Tokyo')::date,
        date_trunc('month', at at time zone 'Asia/Tokyo')::date
      from generate_series(1, ${members}) as m
      cross join generate_series(1, 12) as month
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
  for (let month = 1; month < 12; month++) {
    const closing = `2025-${String(month).padStart(2, "0")}-01`;
    const [closed] = await sql<{ outcome: string }[]>`
      select outcome from rolepass.close_period(${CLOSE_GUILD}, ${closing}::date)`;
    if (closed?.outcome !== "closed") throw new Error(`closing ${closing}: ${closed?.outcome}`);
  }
}

/**
 * The webhook's transaction for one event whose re-read changes the membership (a cancel at the
 * period end), as event_processing.ts runs it; the Stripe read is made up front, as the webhook
 * makes it before opening the transaction.
 */
async function webhookApply(
  sql: Reserved,
): Promise<(sql: Reserved, n: number) => Promise<unknown>> {
  const [member] = await sql<
    { customer: string; subscription: string; price: string; period_end: Date }[]
  >`
    select m.stripe_customer_id as customer, m.stripe_subscription_id as subscription,
      p.stripe_price_id as price, m.current_period_end as period_end
    from rolepass.memberships m join rolepass.plans p on p.id = m.plan_id
    where m.status = 'active' and not m.cancel_at_period_end
    order by m.discord_user_id limit 1`;
  assert(member, "an active member is missing");
  const deps: SyncDeps = {
    sql: sql as unknown as SyncDeps["sql"],
    stripe: undefined as unknown as SyncDeps["stripe"],
    now: () => new Date(),
    logger: createLogger("scaling-bench"),
  };
  return async (sql, n) => {
    const [seq] = await sql<
      { read_seq: string }[]
    >`select rolepass.start_stripe_read() as read_seq`;
    assert(seq, "start_stripe_read returned no row");
    const read = {
      customerId: member.customer,
      readSeq: seq.read_seq,
      subscriptions: [
        {
          id: member.subscription,
          customerId: member.customer,
          status: "active" as const,
          metadata: {},
          createdAt: new Date(Date.now() - 365 * 86_400_000),
          cancelAt: null,
          cancelAtPeriodEnd: true,
          currentPeriodEnd: member.period_end,
          currentPeriodStart: new Date(member.period_end.getTime() - 30 * 86_400_000),
          trialStart: null,
          priceIds: [member.price],
          destination: null,
          onBehalfOf: null,
          cancellationReason: null,
        } satisfies SubscriptionSnapshot,
      ],
    };
    const envelope: StripeEventEnvelope = {
      id: `evt_scale_apply_${n}`,
      type: "customer.subscription.updated",
      account: null,
      api_version: null,
      livemode: false,
      data: { object: {} },
    };
    // The reserved connection is already inside the sample's transaction.
    const tx = sql as unknown as Transaction;
    if (!await claimEvent(tx, envelope, customerLock(tx, member.customer))) {
      throw new Error("the event was claimed already");
    }
    const outcome = await applyCustomerRead(tx, deps, read, {
      cause: envelope.type,
      eventId: envelope.id,
    });
    if (outcome.result !== "applied" || !outcome.changed) {
      throw new Error(`the apply changed nothing: ${JSON.stringify(outcome)}`);
    }
  };
}

/** One due job per member: a reconcile of every member. */
async function queueBacklog(sql: postgres.Sql): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, role_ids, cause, next_attempt_at, created_at)
      select m.id, m.guild_id, m.discord_user_id, m.entitled, m.entitled_role_id,
        m.entitled_role_ids, 'reconcile',
        now() - interval '1 minute', now() - interval '1 minute'
      from rolepass.memberships m`;
  });
  await sql`vacuum analyze rolepass.role_jobs`;
}

/** `/subscribe`'s call, with the arguments the migrated function takes (they grew over time). */
async function subscribeCall(
  sql: Reserved,
): Promise<(sql: Reserved, n: number) => Promise<unknown>> {
  const [fn] = await sql<{ names: string[] }[]>`
    select proargnames as names from pg_proc
    where proname = 'open_subscribe_link' and pronamespace = 'rolepass'::regnamespace`;
  assert(fn, "fn is missing");
  const [member] = await sql<{ guild_id: string; discord_user_id: string }[]>`
    select guild_id, discord_user_id from rolepass.memberships order by discord_user_id limit 1`;
  assert(member, "member is missing");
  const values = (n: number): Record<string, unknown> => ({
    interaction_id: String(930000000000000000n + BigInt(n)),
    guild_id: member.guild_id,
    discord_user_id: member.discord_user_id,
    locale: "en",
    link_token_hash: crypto.getRandomValues(new Uint8Array(32)),
    link_token_ttl_seconds: 900,
    application_id: "940000000000000001",
    interaction_token: "bench-interaction-token",
    member_role_ids: [],
  });
  for (const name of fn.names) {
    if (!(name in values(0))) throw new Error(`open_subscribe_link takes ${name}: add it here`);
  }
  const call = fn.names.map((name, i) =>
    `${name} => $${i + 1}${name === "member_role_ids" ? "::text[]" : ""}`
  ).join(", ");
  return (sql, n) => {
    const args = values(n);
    return sql.unsafe(
      `select rolepass.open_subscribe_link(${call})`,
      fn.names.map((name) => args[name]) as postgres.ParameterOrJSON<never>[],
    );
  };
}

interface Row {
  members: number;
  figures: Record<string, Figure>;
}

const rows: Row[] = [];
for (const members of SIZES) {
  const db = await createTestDatabase();
  try {
    const t0 = performance.now();
    await fill(db.sql, members);
    console.log(`${members} members: filled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const sql = await db.sql.reserve();
    try {
      const { id } = first(
        await sql<{ id: string }[]>`select id from rolepass.memberships limit 1`,
        "a row",
      );
      const subscribe = await subscribeCall(sql);
      await sql`create extension if not exists pg_stat_statements with schema extensions`
        .catch(() => {});
      const figures: Record<string, Figure> = {};
      figures["select 1"] = await measure(sql, (s) => s`select 1`, { rolledBack: false });
      figures["pk lookup"] = await measure(
        sql,
        (s) => s`select * from rolepass.memberships where id = ${id}`,
        { rolledBack: false },
      );
      figures["sweep"] = await measure(sql, (s) => s`select rolepass.sweep_role_jobs()`);
      figures["expiry"] = await measure(sql, (s) => s`select rolepass.expire_entitlements()`);
      figures["health"] = await measure(
        sql,
        (s) => s`select * from rolepass.role_job_queue_status`,
        { rolledBack: false },
      );
      figures["subscribe"] = await measure(sql, subscribe);
      figures["webhook apply"] = await measure(sql, await webhookApply(sql));
      await fillLedger(db.sql, members);
      figures["close"] = await measure(
        sql,
        (s) => s`select outcome from rolepass.close_period(${CLOSE_GUILD}, '2025-12-01'::date)`,
      );
      await queueBacklog(db.sql);
      figures["claim(8)"] = await measure(
        sql,
        (s) => s`select * from rolepass.claim_role_jobs(8, 60)`,
      );
      figures["health+backlog"] = await measure(
        sql,
        (s) => s`select * from rolepass.role_job_queue_status`,
        { rolledBack: false },
      );
      rows.push({ members, figures });
    } finally {
      sql.release();
    }
  } finally {
    await db.drop();
  }
}

const names = Object.keys(rows[0]?.figures ?? {});
console.log(
  "\nmedian ms (ratio to `select 1` in the same run) / shared buffers touched per call",
);
console.log(["statement", ...rows.map((r) => `${r.members} members`)].join(" | "));
for (const name of names) {
  console.log([
    name,
    ...rows.map((r) => {
      const figure = r.figures[name];
      const floor = r.figures["select 1"];
      assert(figure !== undefined && floor !== undefined, `${name} and select 1 were measured`);
      return `${figure.ms.toFixed(3)} ms (${(figure.ms / floor.ms).toFixed(1)}x) / ` +
        `${figure.blocks.toFixed(0)} buffers`;
    }),
  ].join(" | "));
}
