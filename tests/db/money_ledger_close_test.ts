/**
 * The money ledger and the monthly close at the database: placement of facts in periods, the
 * close's figures, its refusals, and the immutability of what it froze, per database role.
 */
import type postgres from "postgres";
import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan } from "./fixtures.ts";

interface Fact {
  kind: "invoice_paid" | "refund" | "dispute" | "dispute_won" | "subscription_ended";
  id: string;
  amount: number;
  currency?: string;
  at: string;
  planId: string;
  priceId?: string;
  subscriptionId?: string;
  starts?: boolean;
}

async function insertFact(sql: postgres.Sql, fact: Fact): Promise<void> {
  await sql`
    insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind, stripe_object_id,
      stripe_subscription_id, starts_subscription, amount, currency, occurred_at, dispute_status,
      fact_month, period_month)
    values (${GUILD_ID}, ${fact.planId}, ${fact.priceId ?? "price_test1"}, ${fact.kind}, ${fact.id},
      ${fact.subscriptionId ?? null}, ${fact.starts ?? false}, ${fact.amount},
      ${fact.currency ?? "jpy"}, ${fact.at}, ${fact.kind === "dispute" ? "needs_response" : null},
      '1970-01-01', '1970-01-01')`;
}

async function close(sql: postgres.Sql, month: string) {
  return first(
    await sql<{ outcome: string; detail: string }[]>`
      select * from rolepass.close_period(${GUILD_ID}, ${month + "-01"}::date)`,
    "close_period's outcome",
  );
}

async function figures(sql: postgres.Sql, month: string) {
  return await sql`
    select row_kind, to_char(fact_month, 'YYYY-MM') as fact_month, currency, gross::integer,
      refunds::integer, disputes::integer, net::integer, starts, cancellations,
      active_at_month_end, mrr::integer
    from rolepass.closed_period_figures
    where guild_id = ${GUILD_ID} and month = ${month + "-01"}::date
    order by row_kind desc, fact_month, currency`;
}

Deno.test("a fact is placed in its month in the guild's time zone, Stripe's time deciding", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    // 2025-09-30 16:00 UTC is already October 1st in Tokyo.
    await insertFact(sql, {
      kind: "invoice_paid",
      id: "in_a",
      amount: 500,
      at: "2025-09-30T16:00:00Z",
      planId,
    });
    const [row] = await sql`
      select to_char(fact_month, 'YYYY-MM') as fact, to_char(period_month, 'YYYY-MM') as period,
        is_adjustment from rolepass.money_ledger where stripe_object_id = 'in_a'`;
    assertEquals({ ...row }, { fact: "2025-10", period: "2025-10", is_adjustment: false });
  });
});

Deno.test("the close records gross, refunds, disputes, net, starts, cancellations, members and MRR per plan and currency", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const [usdPlan] = await sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval)
      values (${GUILD_ID}, 'price_usd', '300000000000000001', ${
      sql.json({ en: { name: "Gold $" } })
    },
        1299, 'usd', 'month') returning id`;
    assert(usdPlan, "usdPlan is missing");
    const october = "2025-10-10T00:00:00Z";
    for (const n of [1, 2, 3]) {
      await insertFact(sql, {
        kind: "invoice_paid",
        id: `in_j${n}`,
        amount: 500,
        at: october,
        planId,
        subscriptionId: `sub_j${n}`,
        starts: true,
      });
    }
    await insertFact(sql, { kind: "refund", id: "re_j1", amount: 200, at: october, planId });
    await insertFact(sql, { kind: "dispute", id: "dp_j2", amount: 500, at: october, planId });
    await insertFact(sql, {
      kind: "subscription_ended",
      id: "sub_j3",
      amount: 0,
      at: october,
      planId,
    });
    await insertFact(sql, {
      kind: "invoice_paid",
      id: "in_u1",
      amount: 1299,
      currency: "usd",
      priceId: "price_usd",
      at: october,
      planId: usdPlan.id,
      subscriptionId: "sub_u1",
      starts: true,
    });

    assertEquals((await close(sql, "2025-10")).outcome, "closed");
    assertEquals((await figures(sql, "2025-10")).map((row) => ({ ...row })), [
      {
        row_kind: "period",
        fact_month: "2025-10",
        currency: "jpy",
        gross: 1500,
        refunds: 200,
        disputes: 500,
        net: 800,
        starts: 3,
        cancellations: 1,
        active_at_month_end: 2,
        mrr: 1000,
      },
      {
        row_kind: "period",
        fact_month: "2025-10",
        currency: "usd",
        gross: 1299,
        refunds: 0,
        disputes: 0,
        net: 1299,
        starts: 1,
        cancellations: 0,
        active_at_month_end: 1,
        mrr: 1299,
      },
    ]);

    // November: nothing happened; the members carry over.
    assertEquals((await close(sql, "2025-11")).outcome, "closed");
    const november = await figures(sql, "2025-11");
    assertEquals(november.map((row) => [row.currency, row.gross, row.active_at_month_end]), [
      ["jpy", 0, 2],
      ["usd", 0, 1],
    ]);
  });
});

Deno.test("a fact for a closed month lands in the next open month as an adjustment", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    await insertFact(sql, {
      kind: "invoice_paid",
      id: "in_1",
      amount: 500,
      at: "2025-10-31T14:00:00Z",
      planId,
      subscriptionId: "sub_1",
      starts: true,
    });
    assertEquals((await close(sql, "2025-10")).outcome, "closed");
    const before = await figures(sql, "2025-10");

    await insertFact(sql, {
      kind: "refund",
      id: "re_late",
      amount: 500,
      at: "2025-10-31T14:30:00Z",
      planId,
    });
    const [late] = await sql`
      select to_char(fact_month, 'YYYY-MM') as fact, to_char(period_month, 'YYYY-MM') as period,
        is_adjustment from rolepass.money_ledger where stripe_object_id = 're_late'`;
    assertEquals({ ...late }, { fact: "2025-10", period: "2025-11", is_adjustment: true });

    assertEquals((await close(sql, "2025-11")).outcome, "closed");
    assertEquals(await figures(sql, "2025-10"), before, "the closed month did not change");
    assertEquals((await figures(sql, "2025-11")).map((row) => ({ ...row })), [
      {
        row_kind: "period",
        fact_month: "2025-11",
        currency: "jpy",
        gross: 0,
        refunds: 0,
        disputes: 0,
        net: 0,
        starts: 0,
        cancellations: 0,
        active_at_month_end: 1,
        mrr: 500,
      },
      {
        row_kind: "adjustment",
        fact_month: "2025-10",
        currency: "jpy",
        gross: 0,
        refunds: 500,
        disputes: 0,
        net: -500,
        starts: 0,
        cancellations: 0,
        active_at_month_end: null,
        mrr: null,
      },
    ]);
  });
});

Deno.test("closing a month twice is a no-op, and a month before a closed one is closed already", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    await insertFact(sql, {
      kind: "invoice_paid",
      id: "in_1",
      amount: 500,
      at: "2025-10-05T00:00:00Z",
      planId,
    });
    assertEquals((await close(sql, "2025-10")).outcome, "closed");
    const first = await sql`select * from rolepass.closed_period_figures`;
    const again = await close(sql, "2025-10");
    assertEquals(again, {
      outcome: "already_closed",
      detail: "2025-10 is already closed; nothing changed",
    });
    assertEquals(await sql`select * from rolepass.closed_period_figures`, first);
    assertEquals((await close(sql, "2025-11")).outcome, "closed");
    assertEquals((await close(sql, "2025-10")).outcome, "already_closed");
  });
});

Deno.test("closing a month while an earlier month with activity is open is refused with the month to close first", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    await insertFact(sql, {
      kind: "invoice_paid",
      id: "in_1",
      amount: 500,
      at: "2025-09-05T00:00:00Z",
      planId,
    });
    assertEquals(await close(sql, "2025-11"), {
      outcome: "refused",
      detail: "Cannot close 2025-11: 2025-09 has activity and is still open; close 2025-09 first",
    });
    assertEquals(
      first(await sql`select count(*)::integer as n from rolepass.closed_periods`, "a row").n,
      0,
    );
    assertEquals((await close(sql, "2025-09")).outcome, "closed");
    // October had no activity: November may be closed next.
    assertEquals((await close(sql, "2025-11")).outcome, "closed");
  });
});

Deno.test("a month that has not ended in the guild's time zone cannot be closed", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const { month } = first(
      await sql`
      select to_char(now() at time zone 'Asia/Tokyo', 'YYYY-MM') as month`,
      "a row",
    );
    const refused = await close(sql, month);
    assert(refused, "refused is missing");
    assertEquals(refused.outcome, "refused");
    assert(refused.detail.includes("has not ended yet in Asia/Tokyo"), refused.detail);
  });
});

Deno.test("the close of a month with no activity records the period with no figure", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    assertEquals((await close(sql, "2025-10")).outcome, "closed");
    assertEquals((await figures(sql, "2025-10")).length, 0);
    assertEquals(
      first(await sql`select count(*)::integer as n from rolepass.closed_periods`, "a row").n,
      1,
    );
  });
});

const STATEMENTS = [
  "update rolepass.closed_periods set closed_at = now()",
  "delete from rolepass.closed_periods",
  "update rolepass.closed_period_figures set gross = gross + 1",
  "delete from rolepass.closed_period_figures",
  "update rolepass.money_ledger set amount = amount + 1",
  "delete from rolepass.money_ledger",
  "truncate rolepass.closed_period_figures",
];

for (const role of ["anon", "authenticated", "service_role", "postgres"]) {
  Deno.test(`${role} can change neither a closed period nor a ledger row`, async () => {
    await withTestDatabase(async ({ sql }) => {
      const planId = await insertGuildWithPlan(sql);
      await insertFact(sql, {
        kind: "invoice_paid",
        id: "in_1",
        amount: 500,
        at: "2025-10-05T00:00:00Z",
        planId,
      });
      assertEquals((await close(sql, "2025-10")).outcome, "closed");
      for (const statement of STATEMENTS) {
        // Only the owner may truncate; the others lack the grant before the trigger is reached.
        const denied = role === "anon" || role === "authenticated" ||
          (role === "service_role" && statement.startsWith("truncate"));
        const expected = denied
          ? "permission denied"
          : statement.includes("money_ledger")
          ? "append-only"
          : "A closed period never changes";
        await assertRejects(
          () =>
            sql.begin(async (tx) => {
              if (role !== "postgres") await tx.unsafe(`set local role ${role}`);
              await tx.unsafe(statement);
            }),
          Error,
          expected,
          `${role}: ${statement}`,
        );
      }
      assertEquals(first(await figures(sql, "2025-10"), "a figures row").gross, 500);
    });
  });
}

Deno.test("a dispute's status only moves forward", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    await insertFact(sql, {
      kind: "dispute",
      id: "dp_1",
      amount: 500,
      at: "2025-10-05T00:00:00Z",
      planId,
    });
    await sql`update rolepass.money_ledger set dispute_status = 'lost' where stripe_object_id = 'dp_1'`;
    await assertRejects(
      () =>
        sql`update rolepass.money_ledger set dispute_status = 'needs_response' where stripe_object_id = 'dp_1'`,
      Error,
      "append-only",
    );
  });
});
