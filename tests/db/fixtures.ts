/**
 * Rows for database tests, inserted as the superuser.
 */
import type postgres from "postgres";
import { assert } from "../harness/assert.ts";

export const GUILD_ID = "100000000000000001";
export const MEMBER_ID = "200000000000000001";
export const ROLE_ID = "300000000000000001";
export const OTHER_ROLE_ID = "300000000000000002";

/** Inserts a guild with a plan and returns the plan id. */
export async function insertGuildWithPlan(sql: postgres.Sql): Promise<string> {
  await sql`insert into rolepass.guilds (id, name) values (${GUILD_ID}, 'Test guild')`;
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval)
    values (${GUILD_ID}, 'price_test1', ${ROLE_ID}, ${sql.json({ en: { name: "Gold" } })}, 500,
      'jpy', 'month')
    returning id`;
  assert(plan, "plan is missing");
  return plan.id;
}

/** Inserts a membership (not entitled) and returns its id. */
export async function insertMembership(
  sql: postgres.Sql,
  memberId = MEMBER_ID,
): Promise<string> {
  const [membership] = await sql<{ id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id)
    values (${GUILD_ID}, ${memberId}, ${"cus_" + memberId})
    returning id`;
  assert(membership, "membership is missing");
  return membership.id;
}
