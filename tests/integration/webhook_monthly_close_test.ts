/**
 * The money ledger and the monthly close through the real webhook: Stripe's facts (paid
 * invoices, refunds, disputes, ends) reach the ledger with Stripe's amounts and times, a closed
 * month never changes, a late fact becomes an adjustment of the next month, and the close and
 * refund tasks work on top of it. The Stripe double's clock sets Stripe's times.
 */
import { closedFigures, closeMonth, runClose } from "../../functions/_cli/close.ts";
import { refundLastPayment } from "../../functions/_cli/refund.ts";
import { assert, assertEquals, assertRejects } from "../harness/assert.ts";
import { postAll, startCheckout, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const REPORT = new URL("../../sql/reports/monthly_close.sql", import.meta.url);

/** A world whose Stripe and app clocks both read `time.now`. */
async function startWorld(guild: { revokeOnRefund?: boolean } = {}) {
  const time = { now: Date.parse("2025-10-10T01:00:00Z") };
  const world = await startWebhookWorld({ double: { clock: () => time.now }, guild });
  const at = (iso: string) => {
    time.now = Date.parse(iso);
    world.clock.now = new Date(time.now);
  };
  at("2025-10-10T01:00:00Z");
  return { world, at };
}

async function subscribe(world: WebhookWorld, priceId = world.plan.priceId) {
  const discordUserId = String(400_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1e9)));
  const { row, customer, session } = await startCheckout(
    world.db.sql,
    world.stripe,
    world.guildId,
    discordUserId,
    priceId,
  );
  const { subscription } = world.stripeDouble.completeCheckout(session.id);
  await postAll(world, world.takeEvents());
  return {
    membershipId: row.id,
    customerId: customer.id,
    discordUserId,
    subscriptionId: subscription.id,
  };
}

async function figures(world: WebhookWorld, month: string) {
  const rows = await closedFigures(world.db.sql, world.guildId, `${month}-01`);
  return (rows ?? []).map((row) => ({
    rowKind: row.rowKind,
    factMonth: row.factMonth,
    currency: row.currency,
    gross: Number(row.gross),
    refunds: Number(row.refunds),
    disputes: Number(row.disputes),
    net: Number(row.net),
    starts: row.starts,
    cancellations: row.cancellations,
    active: row.activeAtMonthEnd,
    mrr: row.mrr === null ? null : Number(row.mrr),
  })).sort((a, b) =>
    a.rowKind.localeCompare(b.rowKind) * -1 || a.currency.localeCompare(b.currency)
  );
}

Deno.test("replaying every event of a closed month changes no closed figure, and a refund that arrives after the close is an adjustment of the next month", async () => {
  const { world, at } = await startWorld();
  try {
    const first = await subscribe(world);
    const second = await subscribe(world);
    at("2025-10-12T03:00:00Z");
    world.stripeDouble.refundLatestCharge(first.subscriptionId, { full: false, amount: 300 });
    const canceled = await subscribe(world);
    world.stripeDouble.cancelNow(canceled.subscriptionId);
    await postAll(world, world.takeEvents());
    const octoberEvents = world.stripeDouble.events();

    // 23:50 in Tokyo on October 31st: Stripe refunds, but the webhook is delivered after the close.
    at("2025-10-31T14:50:00Z");
    world.stripeDouble.refundLatestCharge(second.subscriptionId);
    const lateRefund = world.takeEvents();

    at("2025-11-01T01:00:00Z");
    assertEquals((await closeMonth(world.db.sql, world.guildId, "2025-10-01")).outcome, "closed");
    const closedOctober = await figures(world, "2025-10");
    assertEquals(closedOctober, [{
      rowKind: "period",
      factMonth: "2025-10",
      currency: "jpy",
      gross: 2940,
      refunds: 300,
      disputes: 0,
      net: 2640,
      starts: 3,
      cancellations: 1,
      active: 2,
      mrr: 1960,
    }]);

    const ledgerBefore = await world.db.sql`select * from rolepass.money_ledger order by id`;
    await postAll(world, octoberEvents);
    // Even with the event log lost, the ledger's own keys keep a replay from counting twice.
    await world.db.sql`delete from rolepass.stripe_events`;
    await postAll(world, [...octoberEvents].reverse());
    assertEquals(await world.db.sql`select * from rolepass.money_ledger order by id`, ledgerBefore);
    assertEquals(await figures(world, "2025-10"), closedOctober);

    await postAll(world, lateRefund);
    const [late] = await world.db.sql`
      select to_char(fact_month, 'YYYY-MM') as fact, to_char(period_month, 'YYYY-MM') as period,
        is_adjustment, amount::integer from rolepass.money_ledger where kind = 'refund'
        and stripe_customer_id = ${second.customerId}`;
    assertEquals({ ...late }, {
      fact: "2025-10",
      period: "2025-11",
      is_adjustment: true,
      amount: 980,
    });

    at("2025-12-01T01:00:00Z");
    assertEquals((await closeMonth(world.db.sql, world.guildId, "2025-11-01")).outcome, "closed");
    assertEquals(await figures(world, "2025-10"), closedOctober);
    const november = await figures(world, "2025-11");
    assertEquals(november.find((row) => row.rowKind === "adjustment"), {
      rowKind: "adjustment",
      factMonth: "2025-10",
      currency: "jpy",
      gross: 0,
      refunds: 980,
      disputes: 0,
      net: -980,
      starts: 0,
      cancellations: 0,
      active: null,
      mrr: null,
    });
  } finally {
    await world.close();
  }
});

Deno.test("JPY and USD amounts are exact in the close and the export, and never added together", async () => {
  const { world, at } = await startWorld();
  try {
    const usd = world.stripeDouble.createPrice({
      unitAmount: 1299,
      currency: "usd",
      interval: "month",
    });
    await world.db.sql`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval)
      values (${world.guildId}, ${usd.id}, ${world.plan.roleId},
        ${world.db.sql.json({ en: { name: "Supporter, USD" } })}, 1299, 'usd', 'month')`;
    await subscribe(world);
    await subscribe(world, usd.id);
    const disputed = await subscribe(world, usd.id);
    const opened = world.stripeDouble.openDispute(disputed.subscriptionId);
    at("2025-10-20T00:00:00Z");
    world.stripeDouble.closeDispute(opened.id, "won");
    await postAll(world, world.takeEvents());

    at("2025-11-02T00:00:00Z");
    const printed: string[] = [];
    const output = {
      out: (text: string) => printed.push(text),
      error: (text: string) => printed.push(text),
    };
    const env = { DATABASE_URL: world.db.url };
    assertEquals(await runClose({ guild: world.guildId, month: "2025-10" }, env, output), 0);
    assertEquals(
      await runClose({ guild: world.guildId, month: "2025-10", export: true }, env, output),
      0,
    );
    const [closed, csv] = printed;
    assert(csv, "csv is missing");
    assertEquals(closed, "2025-10 is closed in Asia/Tokyo");
    const [jpyPlan] = await world.db
      .sql`select id from rolepass.plans where stripe_price_id = ${world.plan.priceId}`;
    assert(jpyPlan, "jpyPlan is missing");
    const [usdPlan] = await world.db
      .sql`select id from rolepass.plans where stripe_price_id = ${usd.id}`;
    assert(usdPlan, "usdPlan is missing");
    const lines = csv.split("\r\n");
    assertEquals(
      lines[0],
      "guild_id,month,row_kind,fact_month,plan_id,stripe_price_id,plan_name,currency,gross_minor,gross,refunds_minor,refunds,disputes_minor,disputes,net_minor,net,starts,cancellations,active_at_month_end,mrr_minor,mrr",
    );
    const rows = [
      `${world.guildId},2025-10,period,2025-10,${jpyPlan.id},${world.plan.priceId},Supporter,jpy,980,980,0,0,0,0,980,980,1,0,1,980,980`,
      `${world.guildId},2025-10,period,2025-10,${usdPlan.id},${usd.id},"Supporter, USD",usd,2598,25.98,0,0.00,0,0.00,2598,25.98,2,0,2,2598,25.98`,
    ].sort((a, b) => (a.split(",")[5] ?? "").localeCompare(b.split(",")[5] ?? ""));
    assertEquals(lines.slice(1), [...rows, ""]);
  } finally {
    await world.close();
  }
});

Deno.test("the close and the export of a month with no activity", async () => {
  const { world } = await startWorld();
  try {
    const printed: string[] = [];
    const output = {
      out: (text: string) => printed.push(text),
      error: (text: string) => printed.push(text),
    };
    const env = { DATABASE_URL: world.db.url };
    await assertRejects(
      () => runClose({ guild: world.guildId, month: "2025-09", export: true }, env, output),
      Error,
      "Cannot export 2025-09: it is not closed",
    );
    assertEquals(await runClose({ guild: world.guildId, month: "2025-09" }, env, output), 0);
    assertEquals(await runClose({ guild: world.guildId, month: "2025-09" }, env, output), 0);
    assertEquals(
      await runClose({ guild: world.guildId, month: "2025-09", export: true }, env, output),
      0,
    );
    assertEquals(printed, [
      "2025-09 is closed in Asia/Tokyo",
      "2025-09 is already closed; nothing changed",
      "guild_id,month,row_kind,fact_month,plan_id,stripe_price_id,plan_name,currency,gross_minor,gross,refunds_minor,refunds,disputes_minor,disputes,net_minor,net,starts,cancellations,active_at_month_end,mrr_minor,mrr\r\n",
    ]);
  } finally {
    await world.close();
  }
});

Deno.test("a refund inside the window goes through Stripe once and comes back through the webhook; outside it is refused with the reason", async () => {
  const { world, at } = await startWorld();
  try {
    const inside = await subscribe(world);
    const outside = await subscribe(world);
    const deps = (now: string) => ({
      sql: world.db.sql,
      stripe: world.deps.stripe,
      now: () => new Date(now),
    });

    const refused = await refundLastPayment(
      deps("2025-10-11T01:30:00Z"),
      world.guildId,
      outside.discordUserId,
    );
    assertEquals(refused, {
      ok: false,
      reason:
        "it was paid 24 hours ago (2025-10-10T01:00:00.000Z), outside the guild's refund window of 24 hours",
    });
    assertEquals(world.stripeDouble.requests({ method: "POST", path: "/v1/refunds" }).length, 0);

    at("2025-10-10T20:00:00Z");
    const refunded = await refundLastPayment(
      deps("2025-10-10T20:00:00Z"),
      world.guildId,
      inside.discordUserId,
    );
    assert(refunded.ok);
    assertEquals([refunded.amount, refunded.currency], [980, "jpy"]);
    const [request] = world.stripeDouble.requests({ method: "POST", path: "/v1/refunds" });
    assert(request);
    await postAll(world, world.takeEvents());
    const ledger = await world.db.sql`
      select kind, amount::integer, stripe_object_id from rolepass.money_ledger
      where kind = 'refund'`;
    assertEquals(ledger.map((row) => ({ ...row })), [{
      kind: "refund",
      amount: 980,
      stripe_object_id: refunded.refundId,
    }]);
    assertEquals((await world.membership(inside.membershipId)).revoked_reason, "refund");

    const again = await refundLastPayment(
      deps("2025-10-10T20:05:00Z"),
      world.guildId,
      inside.discordUserId,
    );
    assertEquals(again, { ok: false, reason: "the payment is already refunded" });
    assertEquals(world.stripeDouble.requests({ method: "POST", path: "/v1/refunds" }).length, 1);
  } finally {
    await world.close();
  }
});

Deno.test("the monthly close report reads the closed periods and the ledger", async () => {
  const { world, at } = await startWorld();
  try {
    await subscribe(world);
    at("2025-11-02T00:00:00Z");
    assertEquals((await closeMonth(world.db.sql, world.guildId, "2025-10-01")).outcome, "closed");
    const rows = await world.db.sql.unsafe(await Deno.readTextFile(REPORT));
    const october = rows.filter((row) => row.guild_id === world.guildId && row.month === "2025-10");
    assertEquals(october.map((row) => [row.status, row.row_kind, row.currency, Number(row.net)]), [
      ["closed", "period", "jpy", 980],
    ]);
  } finally {
    await world.close();
  }
});
