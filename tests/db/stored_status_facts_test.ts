/**
 * The facts of a subscription's status that the database reads instead of naming statuses
 * (memberships.plan_role_set and payment_standing, 20261203000200_status_facts_stored.sql) agree
 * with the core that decides them (functions/_core/subscription_state.ts storedStatusFacts): a
 * membership nobody synced yet holds what no status means, and the migration's backfill of rows
 * written before the facts were stored gives each status the core's facts.
 */
import type postgres from "postgres";
import { assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { SUBSCRIPTION_STATUSES } from "../../functions/_core/stripe_shapes.ts";
import { storedStatusFacts } from "../../functions/_core/subscription_state.ts";
import { insertGuildWithPlan, insertMembership } from "./fixtures.ts";

const MIGRATION = new URL(
  "../../supabase/migrations/20261203000200_status_facts_stored.sql",
  import.meta.url,
);

/** The migration's one-time backfill statement, as it ran. */
async function backfillStatement(): Promise<string> {
  const text = await Deno.readTextFile(MIGRATION);
  const start = text.indexOf("update rolepass.memberships m\n  set plan_role_set");
  return text.slice(start, text.indexOf(";", start) + 1);
}

interface Facts {
  status: string | null;
  plan_role_set: string;
  payment_standing: string;
  past_due: boolean;
}

async function factsByMember(sql: postgres.Sql): Promise<Facts[]> {
  return await sql<Facts[]>`
    select status, plan_role_set, payment_standing, past_due_since is not null as past_due
    from rolepass.memberships order by discord_user_id`;
}

Deno.test("a membership nobody synced yet stores what no status means", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    await insertMembership(sql);
    const [row] = await factsByMember(sql);
    const none = storedStatusFacts(null);
    assertEquals([row?.plan_role_set, row?.payment_standing], [
      none.planRoleSet,
      none.paymentStanding,
    ]);
  });
});

Deno.test("the backfill gives every status the facts the core decides for it", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const statuses = [...SUBSCRIPTION_STATUSES, null];
    for (const [index, status] of statuses.entries()) {
      const id = await insertMembership(sql, `2000000000000001${String(index).padStart(2, "0")}`);
      // As the sync wrote rows before the facts were stored: the status alone.
      await sql`update rolepass.memberships set status = ${status}, plan_role_set = 'paid',
        payment_standing = 'none', past_due_since = null where id = ${id}`;
    }
    await sql.unsafe(await backfillStatement());

    const rows = await factsByMember(sql);
    assertEquals(rows.length, statuses.length);
    for (const row of rows) {
      const facts = storedStatusFacts(row.status);
      assertEquals(
        [row.plan_role_set, row.payment_standing, row.past_due],
        [facts.planRoleSet, facts.paymentStanding, row.status === "past_due"],
        String(row.status),
      );
    }
  });
});
