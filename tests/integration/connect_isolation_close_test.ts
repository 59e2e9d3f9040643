/**
 * `deno task close` on a deployment that serves two communities: closing guild A's month freezes
 * A's money only (B's payment, refund and dispute of the same month count nowhere in A), leaves
 * B's month open, and B's own close then holds B's money only. The close makes no Stripe call.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { closedFigures, closeMonth } from "../../functions/_cli/close.ts";

const GUILD_A = "100000000000000001";
const GUILD_B = "100000000000000002";
const MONTH = "2025-10-01";

Deno.test("closing one community's month freezes only its own money", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planOf: Record<string, string> = {};
    for (
      const [guildId, priceId, roleId] of [
        [GUILD_A, "price_a", "300000000000000001"],
        [GUILD_B, "price_b", "300000000000000002"],
      ] as const
    ) {
      await sql`insert into rolepass.guilds (id, name) values (${guildId}, ${"Guild " + guildId})`;
      const [plan] = await sql<{ id: string }[]>`
        insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
          unit_amount, currency, billing_interval)
        values (${guildId}, ${priceId}, ${roleId}, ${sql.json({ en: { name: "Gold" } })}, 1000,
          'jpy', 'month')
        returning id`;
      assert(plan);
      planOf[guildId] = plan.id;
    }
    const fact = (guildId: string, kind: string, id: string, amount: number) =>
      sql`
        insert into rolepass.money_ledger (guild_id, plan_id, stripe_price_id, kind,
          stripe_object_id, amount, currency, occurred_at, dispute_status, fact_month,
          period_month)
        values (${guildId}, ${planOf[guildId] ?? ""}, ${
        guildId === GUILD_A ? "price_a" : "price_b"
      }, ${kind}, ${id}, ${amount}, 'jpy', '2025-10-15T03:00:00Z',
          ${kind === "dispute" ? "needs_response" : null}, '1970-01-01', '1970-01-01')`;
    await fact(GUILD_A, "invoice_paid", "in_a1", 1000);
    await fact(GUILD_A, "refund", "re_a1", 300);
    await fact(GUILD_B, "invoice_paid", "in_b1", 5000);
    await fact(GUILD_B, "invoice_paid", "in_b2", 5000);
    await fact(GUILD_B, "refund", "re_b1", 5000);
    await fact(GUILD_B, "dispute", "dp_b1", 5000);

    assertEquals((await closeMonth(sql, GUILD_A, MONTH)).outcome, "closed");
    const inA = await closedFigures(sql, GUILD_A, MONTH);
    assertEquals(
      inA?.map((row) => [row.guildId, row.planId, row.gross, row.refunds, row.disputes, row.net]),
      [[GUILD_A, planOf[GUILD_A], 1000n, 300n, 0n, 700n]],
    );
    assertEquals(await closedFigures(sql, GUILD_B, MONTH), null, "B's month is still open");

    assertEquals((await closeMonth(sql, GUILD_B, MONTH)).outcome, "closed");
    const inB = await closedFigures(sql, GUILD_B, MONTH);
    assertEquals(
      inB?.map((row) => [row.guildId, row.planId, row.gross, row.refunds, row.disputes, row.net]),
      [[GUILD_B, planOf[GUILD_B], 10000n, 5000n, 5000n, 0n]],
    );
    assertEquals(await closedFigures(sql, GUILD_A, MONTH), inA, "A's close is unchanged");
  });
});
