/**
 * Platform mode's monthly close records both sides of the money (issue 15 item 5): what members
 * paid (money_ledger) and what the community ended up with (connect_money_movements: transfers net
 * of reversals, platform fees net of fee refunds, per currency). A movement's month is its Stripe
 * `created` in the guild's accounting time zone; one that arrives after the close counts in the
 * next open month as an adjustment and the closed month stays byte-for-byte as it was; another
 * guild's movements never count; a standalone guild's close prints what it always printed.
 */
import type postgres from "postgres";
import { assert, assertEquals, assertRejects } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { closedConnectFigures, closeMonth, runClose } from "../../functions/_cli/close.ts";

const CONNECT_REPORT = new URL("../../sql/reports/connect_monthly_close.sql", import.meta.url);

const GUILD_A = "100000000000000001";
const GUILD_B = "100000000000000002";
const GUILD_STANDALONE = "100000000000000003";
const ACCOUNT = { [GUILD_A]: "acct_a1", [GUILD_B]: "acct_b1" } as Record<string, string>;

type Kind = "transfer" | "transfer_reversal" | "application_fee" | "application_fee_refund";

async function addGuild(sql: postgres.Sql, guildId: string, platform: boolean): Promise<string> {
  await sql`insert into rolepass.guilds (id, name) values (${guildId}, ${"Guild " + guildId})`;
  if (platform) {
    await sql`
      insert into rolepass.guild_stripe_accounts (guild_id, stripe_account_id, charges_enabled)
      values (${guildId}, ${ACCOUNT[guildId] ?? ""}, true)`;
  }
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval)
    values (${guildId}, ${"price_" + guildId}, ${"3" + guildId.slice(1)},
      ${sql.json({ en: { name: "Gold" } })}, 1000, 'jpy', 'month')
    returning id`;
  assert(plan, "plan is missing");
  return plan.id;
}

function paid(sql: postgres.Sql, guildId: string, planId: string, id: string, at: string) {
  return sql`
    insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind, stripe_object_id,
      amount, currency, occurred_at, fact_month, period_month)
    values (${guildId}, ${planId}, ${"price_" + guildId}, 'invoice_paid', ${id}, 1000, 'jpy',
      ${at}, '1970-01-01', '1970-01-01')`;
}

/** As the webhook writes a movement: it never names a period (the trigger places it). */
function move(
  sql: postgres.Sql,
  guildId: string,
  kind: Kind,
  id: string,
  amount: number,
  at: string,
  currency = "jpy",
) {
  return sql`
    insert into rolepass.connect_money_movements (guild_id, stripe_account_id, kind,
      stripe_object_id, amount, currency, occurred_at)
    values (${guildId}, ${ACCOUNT[guildId] ?? ""}, ${kind}, ${id}, ${amount}, ${currency}, ${at})
    on conflict (kind, stripe_object_id) do nothing`;
}

/** Runs the task and returns its exit code and everything it printed. */
async function task(url: string, flags: Record<string, string | boolean>) {
  const printed: string[] = [];
  const code = await runClose(flags, { DATABASE_URL: url }, {
    out: (text) => printed.push(text),
    error: (text) => printed.push(text),
  });
  return { code, text: printed.join("\n") };
}

/** Everything the close stored for a month, as text. */
async function stored(sql: postgres.Sql, guildId: string, month: string): Promise<string> {
  const [row] = await sql<{ snapshot: string }[]>`
    select jsonb_build_object(
      'period', (select to_jsonb(c) from rolepass.closed_periods c
        where c.guild_id = ${guildId} and c.month = ${month}::date),
      'figures', (select jsonb_agg(to_jsonb(f) order by f.row_kind, f.fact_month, f.plan_id,
          f.currency) from rolepass.closed_period_figures f
        where f.guild_id = ${guildId} and f.month = ${month}::date),
      'connect', (select jsonb_agg(to_jsonb(f) order by f.row_kind, f.fact_month, f.currency)
        from rolepass.closed_period_connect_figures f
        where f.guild_id = ${guildId} and f.month = ${month}::date)
    )::text as snapshot`;
  assert(row, "snapshot is missing");
  return row.snapshot;
}

const JPY_LINE =
  "Community's side (Connect) 2025-10, JPY: transfers 3000 - reversals 500 = 2500; " +
  "platform fees 300 - fee refunds 50 = 250";
const USD_LINE =
  "Community's side (Connect) 2025-10, USD: transfers 12.99 - reversals 0.00 = 12.99; " +
  "platform fees 1.30 - fee refunds 0.00 = 1.30";

Deno.test("a platform close freezes the community's side of the month, per currency", async () => {
  await withTestDatabase(async ({ sql, url }) => {
    const planA = await addGuild(sql, GUILD_A, true);
    const planB = await addGuild(sql, GUILD_B, true);
    await paid(sql, GUILD_A, planA, "in_a1", "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a1", 1000, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a2", 2000, "2025-10-10T00:00:00Z");
    await move(sql, GUILD_A, "transfer_reversal", "trr_a1", 500, "2025-10-12T00:00:00Z");
    await move(sql, GUILD_A, "application_fee", "fee_a1", 100, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "application_fee", "fee_a2", 200, "2025-10-10T00:00:00Z");
    await move(sql, GUILD_A, "application_fee_refund", "fr_a1", 50, "2025-10-12T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a3", 1299, "2025-10-13T00:00:00Z", "usd");
    await move(sql, GUILD_A, "application_fee", "fee_a3", 130, "2025-10-13T00:00:00Z", "usd");
    // 1 November 00:30 in Tokyo, the guild's accounting time zone: November's, not October's.
    await move(sql, GUILD_A, "transfer", "tr_a4", 4000, "2025-10-31T15:30:00Z");
    // Another community's money of the same month counts nowhere in A's close.
    await paid(sql, GUILD_B, planB, "in_b1", "2025-10-05T00:00:00Z");
    await move(sql, GUILD_B, "transfer", "tr_b1", 7777, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_B, "application_fee", "fee_b1", 777, "2025-10-05T00:00:00Z");

    const closed = await task(url, { guild: GUILD_A, month: "2025-10" });
    assertEquals(closed, {
      code: 0,
      text: ["2025-10 is closed in Asia/Tokyo", JPY_LINE, USD_LINE].join("\n"),
    });
    const csv = await task(url, { guild: GUILD_A, month: "2025-10", export: true, connect: true });
    assertEquals(
      csv.text,
      "guild_id,month,row_kind,fact_month,currency,transfers_minor,transfers," +
        "transfer_reversals_minor,transfer_reversals,net_transfers_minor,net_transfers," +
        "application_fees_minor,application_fees,application_fee_refunds_minor," +
        "application_fee_refunds,net_application_fees_minor,net_application_fees\r\n" +
        `${GUILD_A},2025-10,period,2025-10,jpy,3000,3000,500,500,2500,2500,300,300,50,50,` +
        "250,250\r\n" +
        `${GUILD_A},2025-10,period,2025-10,usd,1299,12.99,0,0.00,1299,12.99,130,1.30,0,0.00,130,` +
        "1.30\r\n",
    );

    // Frozen: nobody changes the figures, nor the movements they were made from.
    await assertRejects(
      () => sql`update rolepass.closed_period_connect_figures set transfers = 0`,
      Error,
      "A closed period never changes",
    );
    await assertRejects(
      () => sql`delete from rolepass.closed_period_connect_figures`,
      Error,
      "A closed period never changes",
    );
    await assertRejects(
      () =>
        sql`update rolepass.connect_money_movements set amount = 1
          where stripe_object_id = 'tr_a1'`,
      Error,
      "append-only",
    );
    await assertRejects(
      () => sql`update rolepass.connect_money_movements set period_month = '2025-11-01'`,
      Error,
      "append-only",
    );

    // B's own close holds B's money only, and A's close is unchanged by it.
    const before = await stored(sql, GUILD_A, "2025-10-01");
    assertEquals((await closeMonth(sql, GUILD_B, "2025-10-01")).outcome, "closed");
    assertEquals(
      (await closedConnectFigures(sql, GUILD_B, "2025-10-01"))?.map((row) => [
        row.guildId,
        row.currency,
        row.netTransfers,
        row.netApplicationFees,
      ]),
      [[GUILD_B, "jpy", 7777n, 777n]],
    );
    assertEquals(await stored(sql, GUILD_A, "2025-10-01"), before);
  });
});

Deno.test("a movement that arrives after the close counts in the next open month", async () => {
  await withTestDatabase(async ({ sql, url }) => {
    const planA = await addGuild(sql, GUILD_A, true);
    await paid(sql, GUILD_A, planA, "in_a1", "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a1", 1000, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "application_fee", "fee_a1", 100, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a2", 4000, "2025-11-03T00:00:00Z");
    assertEquals((await task(url, { guild: GUILD_A, month: "2025-10" })).code, 0);
    const before = await stored(sql, GUILD_A, "2025-10-01");
    const csvBefore = await task(url, {
      guild: GUILD_A,
      month: "2025-10",
      export: true,
      connect: true,
    });
    const membersCsvBefore = await task(url, { guild: GUILD_A, month: "2025-10", export: true });

    // October's refund, reversed on Stripe in October but delivered after the close.
    await move(sql, GUILD_A, "transfer_reversal", "trr_a1", 300, "2025-10-20T00:00:00Z");
    await move(sql, GUILD_A, "application_fee_refund", "fr_a1", 30, "2025-10-20T00:00:00Z");
    await move(sql, GUILD_A, "transfer_reversal", "trr_a1", 300, "2025-10-20T00:00:00Z");
    assertEquals(
      [
        ...await sql`
        select stripe_object_id, fact_month::text, period_month::text, is_adjustment
        from rolepass.connect_money_movements order by stripe_object_id`,
      ],
      [
        { stripe_object_id: "fee_a1", fact_month: "2025-10-01", period_month: "2025-10-01" },
        { stripe_object_id: "fr_a1", fact_month: "2025-10-01", period_month: "2025-11-01" },
        { stripe_object_id: "tr_a1", fact_month: "2025-10-01", period_month: "2025-10-01" },
        { stripe_object_id: "tr_a2", fact_month: "2025-11-01", period_month: "2025-11-01" },
        { stripe_object_id: "trr_a1", fact_month: "2025-10-01", period_month: "2025-11-01" },
      ].map((row) => ({ ...row, is_adjustment: row.period_month !== row.fact_month })),
    );

    // Closing October again changes nothing; its stored output and exports are byte-for-byte
    // what they were.
    assertEquals((await closeMonth(sql, GUILD_A, "2025-10-01")).outcome, "already_closed");
    assertEquals(await stored(sql, GUILD_A, "2025-10-01"), before);
    assertEquals(
      await task(url, { guild: GUILD_A, month: "2025-10", export: true, connect: true }),
      csvBefore,
    );
    assertEquals(
      await task(url, { guild: GUILD_A, month: "2025-10", export: true }),
      membersCsvBefore,
    );

    // December cannot be closed while November, which has money, is open.
    const refused = await task(url, { guild: GUILD_A, month: "2025-12" });
    assertEquals(refused, {
      code: 1,
      text: "Cannot close 2025-12: 2025-11 has activity and is still open; close 2025-11 first",
    });

    const november = await task(url, { guild: GUILD_A, month: "2025-11" });
    assertEquals(november, {
      code: 0,
      text: [
        "2025-11 is closed in Asia/Tokyo",
        "Community's side (Connect) 2025-11, JPY: transfers 4000 - reversals 0 = 4000; " +
        "platform fees 0 - fee refunds 0 = 0",
        "Community's side (Connect) 2025-11, adjustment for 2025-10, JPY: transfers 0 - " +
        "reversals 300 = -300; platform fees 0 - fee refunds 30 = -30",
      ].join("\n"),
    });
    assertEquals(await stored(sql, GUILD_A, "2025-10-01"), before);
  });
});

Deno.test("a standalone guild's close prints and stores what it always did", async () => {
  await withTestDatabase(async ({ sql, url }) => {
    const plan = await addGuild(sql, GUILD_STANDALONE, false);
    await addGuild(sql, GUILD_A, true);
    await paid(sql, GUILD_STANDALONE, plan, "in_s1", "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_a1", 1000, "2025-10-05T00:00:00Z");
    assertEquals(await task(url, { guild: GUILD_STANDALONE, month: "2025-10" }), {
      code: 0,
      text: "2025-10 is closed in Asia/Tokyo",
    });
    assertEquals(await closedConnectFigures(sql, GUILD_STANDALONE, "2025-10-01"), []);
    const csv = await task(url, { guild: GUILD_STANDALONE, month: "2025-10", export: true });
    assertEquals(csv.text.split("\r\n").slice(1), [
      `${GUILD_STANDALONE},2025-10,period,2025-10,${plan},price_${GUILD_STANDALONE},Gold,jpy,` +
      "1000,1000,0,0,0,0,1000,1000,0,0,0,0,0",
      "",
    ]);
  });
});

Deno.test("the community-side report shows closed months as frozen and open ones as they stand", async () => {
  await withTestDatabase(async ({ sql, url }) => {
    await addGuild(sql, GUILD_A, true);
    await addGuild(sql, GUILD_B, true);
    await move(sql, GUILD_A, "transfer", "tr_r1", 1000, "2025-10-05T00:00:00Z");
    await move(sql, GUILD_A, "application_fee", "fee_r1", 100, "2025-10-05T00:00:00Z");
    assertEquals((await task(url, { guild: GUILD_A, month: "2025-10" })).code, 0);
    // After the close: a reversal of October's transfer, and November's own money.
    await move(sql, GUILD_A, "transfer_reversal", "trr_r1", 300, "2025-10-20T00:00:00Z");
    await move(sql, GUILD_A, "transfer", "tr_r2", 2000, "2025-11-05T00:00:00Z");
    await move(sql, GUILD_A, "application_fee", "fee_r2", 200, "2025-11-05T00:00:00Z");
    await move(sql, GUILD_B, "transfer", "tr_rb", 5000, "2025-10-05T00:00:00Z");

    const rows = await sql.unsafe(await Deno.readTextFile(CONNECT_REPORT));
    assertEquals(
      rows.filter((row) => row.guild_id === GUILD_A).map((row) => [
        row.month,
        row.status,
        row.row_kind,
        row.fact_month,
        row.currency,
        Number(row.net_transfers),
        Number(row.net_application_fees),
      ]),
      [
        ["2025-10", "closed", "period", "2025-10", "jpy", 1000, 100],
        ["2025-11", "open", "period", "2025-11", "jpy", 2000, 200],
        ["2025-11", "open", "adjustment", "2025-10", "jpy", -300, 0],
      ],
    );
    assertEquals(
      rows.filter((row) => row.guild_id === GUILD_B).map((row) => [row.month, row.status]),
      [["2025-10", "open"]],
    );
  });
});
