/**
 * rolepass.stripe_sync_inputs and rolepass.stripe_sync_membership_id, which the webhook calls twice
 * per event each: PL/pgSQL with generic plans, so that a connection plans their statements once
 * (as `language sql` functions PostgreSQL planned their bodies on every call, about 0.9 ms of the
 * 1 ms the two took), and still the same answers: the membership by its customer, else an
 * unclaimed one named by the Checkout metadata, and its inputs; null for a customer of none.
 */
import { assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership, MEMBER_ID } from "./fixtures.ts";

const FUNCTIONS = ["stripe_sync_inputs", "stripe_sync_membership_id"];

Deno.test("the sync lookups are PL/pgSQL with generic plans, planned once a session", async () => {
  await withTestDatabase(async ({ sql }) => {
    const rows = await sql<{ name: string; language: string; config: string[] | null }[]>`
      select p.proname as name, l.lanname as language, p.proconfig as config
      from pg_proc p
      join pg_language l on l.oid = p.prolang
      join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'rolepass' and p.proname = any(${FUNCTIONS})
      order by p.proname`;
    assertEquals(rows.map((row) => row.name), FUNCTIONS);
    for (const row of rows) {
      assertEquals(row.language, "plpgsql", `${row.name} is planned on every call in SQL`);
      assertEquals(
        (row.config ?? []).includes("plan_cache_mode=force_generic_plan"),
        true,
        `${row.name} keeps one plan per connection`,
      );
      assertEquals((row.config ?? []).includes('search_path=""'), true, row.name);
    }
  });
});

Deno.test("the sync lookups find the same membership and inputs, call after call", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const claimed = await insertMembership(sql);
    const unclaimedMember = "200000000000000002";
    const [unclaimed] = await sql<{ id: string }[]>`
      insert into rolepass.memberships (guild_id, discord_user_id)
      values (${GUILD_ID}, ${unclaimedMember}) returning id`;
    const unclaimedId = first(unclaimed ? [unclaimed] : [], "the unclaimed membership").id;
    // More calls than PostgreSQL's five custom plans, on one connection, so the kept plan answers.
    for (let call = 0; call < 8; call++) {
      const [found] = await sql<
        {
          by_customer: string | null;
          by_metadata: string | null;
          taken: string | null;
          none: string | null;
          inputs: { id: string; discord_user_id?: string; guild_id: string } | null;
          no_inputs: unknown;
        }[]
      >`
        select rolepass.stripe_sync_membership_id(${"cus_" + MEMBER_ID}, '{}'::uuid[])
            as by_customer,
          rolepass.stripe_sync_membership_id('cus_new', ${[unclaimedId]}::uuid[]) as by_metadata,
          rolepass.stripe_sync_membership_id('cus_new', ${[claimed]}::uuid[]) as taken,
          rolepass.stripe_sync_membership_id('cus_nobody', '{}'::uuid[]) as none,
          rolepass.stripe_sync_inputs(${claimed}::uuid, '{sub_1}'::text[]) as inputs,
          rolepass.stripe_sync_inputs(null, '{}'::text[]) as no_inputs`;
      const answer = first(found ? [found] : [], "the lookups");
      assertEquals(answer.by_customer, claimed);
      assertEquals(answer.by_metadata, unclaimedId);
      // A membership that has a customer is not found by the metadata of another one.
      assertEquals(answer.taken, null);
      assertEquals(answer.none, null);
      assertEquals(answer.inputs?.id, claimed);
      assertEquals(answer.inputs?.guild_id, GUILD_ID);
      assertEquals(answer.no_inputs, null);
    }
  });
});
