/**
 * rolepass's small helpers (membership_changes, same_role_set, live_pass_role_ids,
 * managed_role_ids, start_stripe_read) are PL/pgSQL, whose statements a session plans once: as
 * `language sql` functions with a SET clause PostgreSQL planned their bodies on every call
 * (migration 20261203101000). Their volatility, security and empty search_path are as they were,
 * and they answer as before, call after call past PostgreSQL's five custom plans.
 */
import { assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { insertGuildWithPlan, insertMembership, ROLE_ID } from "./fixtures.ts";

/** Each helper's volatility (i, s, v), security definer and SET clauses, as declared. */
const HELPERS = [
  { name: "live_pass_role_ids", volatility: "s", definer: false, generic: true },
  { name: "managed_role_ids", volatility: "s", definer: true, generic: true },
  { name: "membership_changes", volatility: "i", definer: false, generic: false },
  { name: "same_role_set", volatility: "i", definer: false, generic: false },
  { name: "start_stripe_read", volatility: "v", definer: true, generic: false },
];

Deno.test("the small helpers are PL/pgSQL, declared as they were", async () => {
  await withTestDatabase(async ({ sql }) => {
    const rows = await sql<
      {
        name: string;
        language: string;
        volatility: string;
        definer: boolean;
        config: string[] | null;
      }[]
    >`
      select p.proname as name, l.lanname as language, p.provolatile as volatility,
        p.prosecdef as definer, p.proconfig as config
      from pg_proc p
      join pg_language l on l.oid = p.prolang
      join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'rolepass' and p.proname = any(${HELPERS.map((h) => h.name)})
      order by p.proname`;
    assertEquals(
      rows.map((row) => ({ ...row })),
      HELPERS.map((helper) => ({
        name: helper.name,
        language: "plpgsql",
        volatility: helper.volatility,
        definer: helper.definer,
        config: helper.generic
          ? ['search_path=""', "plan_cache_mode=force_generic_plan"]
          : ['search_path=""'],
      })),
    );
  });
});

Deno.test("the small helpers answer as before, call after call", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    await sql`insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
        stripe_checkout_session_id, stripe_payment_intent_id, amount, currency, paid_at,
        access_until)
      values (${membershipId}, ${planId}, 'cus_200000000000000001', 'cs_live', 'pi_live', 500,
        'jpy', now() - interval '1 day', now() + interval '1 day')`;
    await sql`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, previous_role_id, role_ids, previous_role_ids, cause)
      select id, guild_id, discord_user_id, true, ${ROLE_ID}, '300000000000000009',
        array[${ROLE_ID}, '300000000000000005'], array['300000000000000007'], 'test'
      from rolepass.memberships where id = ${membershipId}`;
    let lastRead = 0n;
    // More calls than PostgreSQL's five custom plans, on one connection.
    for (let call = 0; call < 8; call++) {
      const answer = first(
        await sql<
          {
            same: boolean;
            reordered: boolean;
            repeated: boolean;
            differ: boolean;
            both_null: boolean;
            one_null: boolean;
            changes: unknown;
            inserted: unknown;
            deleted: unknown;
            unchanged: unknown;
            live: string[];
            none: string[];
            managed: string[];
            read: string;
          }[]
        >`
          select rolepass.same_role_set('{a,b}', '{a,b}') as same,
            rolepass.same_role_set('{a,b}', '{b,a}') as reordered,
            rolepass.same_role_set('{a,a,b}', '{b,a}') as repeated,
            rolepass.same_role_set('{a,b}', '{a}') as differ,
            rolepass.same_role_set(null, '{}') as both_null,
            rolepass.same_role_set(null, '{a}') as one_null,
            rolepass.membership_changes('{"status":"active","entitled":true,"plan":"p"}',
              '{"status":"past_due","entitled":true,"cancel_at":null}') as changes,
            rolepass.membership_changes(null, '{"status":"active"}') as inserted,
            rolepass.membership_changes('{"status":"active"}', null) as deleted,
            rolepass.membership_changes('{"a":1}', '{"a":1}') as unchanged,
            rolepass.live_pass_role_ids(${membershipId}) as live,
            rolepass.live_pass_role_ids(gen_random_uuid()) as none,
            rolepass.managed_role_ids(${membershipId}) as managed,
            rolepass.start_stripe_read()::text as read`,
        "the helpers' answers",
      );
      const read = BigInt(answer.read);
      assertEquals(read > lastRead, true, "each read starts after the one before");
      lastRead = read;
      assertEquals({ ...answer, read: "" }, {
        same: true,
        reordered: true,
        repeated: true,
        differ: false,
        both_null: true,
        one_null: false,
        changes: { plan: ["p", null], status: ["active", "past_due"] },
        inserted: { status: [null, "active"] },
        deleted: { status: ["active", null] },
        unchanged: {},
        live: [ROLE_ID],
        none: [],
        managed: [
          ROLE_ID,
          "300000000000000005",
          "300000000000000007",
          "300000000000000009",
        ],
        read: "",
      });
    }
    await sql`update rolepass.member_passes set access_until = now() - interval '1 second',
      paid_at = now() - interval '2 days'`;
    const [expired] = await sql`select rolepass.live_pass_role_ids(${membershipId}) as live`;
    assertEquals(expired?.live, [], "a pass that ran out gives no role");
  });
});
