/**
 * rolepass.end_pass beside a subscription: the roles the subscription keeps are the ones its stored
 * role set gives (memberships.plan_role_set, decided in the core), so a pass's role that the plan
 * sells to paying members goes when the pass ends during the plan's trial, which gives only its
 * trial role, and stays beside a paid subscription.
 */
import type postgres from "postgres";
import { assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { storedStatusFacts } from "../../functions/_core/subscription_state.ts";
import { GUILD_ID, MEMBER_ID, ROLE_ID } from "./fixtures.ts";

const TRIAL_ROLE_ID = "300000000000000009";

/** A plan with a trial role, a pass selling the plan's paid role, and a member holding both. */
async function trialOrPaidMemberWithEndedPass(
  sql: postgres.Sql,
  status: "trialing" | "active",
): Promise<{ membershipId: string; passId: string }> {
  await sql`insert into rolepass.guilds (id, name) values (${GUILD_ID}, 'Test guild')`;
  const display = sql.json({ en: { name: "Gold" } });
  const plan = first(
    await sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_ids, display,
        unit_amount, currency, billing_interval, trial_days, trial_role_ids)
      values (${GUILD_ID}, 'price_gold', ${[ROLE_ID]}::text[], ${display}, 500, 'jpy', 'month',
        7, ${[TRIAL_ROLE_ID]}::text[])
      returning id`,
    "the plan",
  );
  const pass = first(
    await sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_ids, display,
        unit_amount, currency, billing_interval, access_kind, access_duration)
      values (${GUILD_ID}, 'price_pass', ${[ROLE_ID]}::text[], ${display}, 3000, 'jpy', null,
        'duration', interval '30 days')
      returning id`,
    "the pass plan",
  );
  const facts = storedStatusFacts(status);
  const held = status === "trialing" ? [TRIAL_ROLE_ID, ROLE_ID] : [ROLE_ID];
  const membership = first(
    await sql<{ id: string }[]>`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
        stripe_subscription_id, plan_id, status, plan_role_set, payment_standing, entitled,
        entitled_role_ids, subscription_live)
      values (${GUILD_ID}, ${MEMBER_ID}, 'cus_pass', 'sub_gold', ${plan.id}, ${status},
        ${facts.planRoleSet}, ${facts.paymentStanding}, true, ${held}::text[], true)
      returning id`,
    "the membership",
  );
  const ended = first(
    await sql<{ id: string }[]>`
      insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
        stripe_checkout_session_id, stripe_payment_intent_id, amount, currency, paid_at,
        access_until)
      values (${membership.id}, ${pass.id}, 'cus_pass', 'cs_pass', 'pi_pass', 3000, 'jpy',
        now() - interval '31 days', now() - interval '1 day')
      returning id`,
    "the pass",
  );
  return { membershipId: membership.id, passId: ended.id };
}

async function heldRoles(sql: postgres.Sql, membershipId: string): Promise<string[]> {
  return first(
    await sql<{ roles: string[] }[]>`
      select entitled_role_ids::text[] as roles from rolepass.memberships
      where id = ${membershipId}`,
    "the membership",
  ).roles;
}

Deno.test("a pass ending in the plan's trial takes the paid role the trial lacks", async () => {
  await withTestDatabase(async ({ sql }) => {
    const { membershipId, passId } = await trialOrPaidMemberWithEndedPass(sql, "trialing");
    const [ended] = await sql<{ ended: boolean }[]>`select rolepass.end_pass(${passId}) as ended`;
    assertEquals(ended?.ended, true);
    assertEquals(await heldRoles(sql, membershipId), [TRIAL_ROLE_ID]);
  });
});

Deno.test("a pass that ends beside the paid plan leaves the role the plan gives", async () => {
  await withTestDatabase(async ({ sql }) => {
    const { membershipId, passId } = await trialOrPaidMemberWithEndedPass(sql, "active");
    const [ended] = await sql<{ ended: boolean }[]>`select rolepass.end_pass(${passId}) as ended`;
    assertEquals(ended?.ended, false);
    assertEquals(await heldRoles(sql, membershipId), [ROLE_ID]);
  });
});
