import { assertEquals, assertRejects } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership, MEMBER_ID } from "./fixtures.ts";

Deno.test("a second membership for the same guild and member is rejected", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    await insertMembership(sql);
    await assertRejects(
      () =>
        sql`insert into rolepass.memberships (guild_id, discord_user_id)
          values (${GUILD_ID}, ${MEMBER_ID})`,
      Error,
      "memberships_guild_id_discord_user_id_key",
    );
  });
});

Deno.test("one subscription cannot serve two memberships", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const first = await insertMembership(sql, "200000000000000001");
    const second = await insertMembership(sql, "200000000000000002");
    await sql`update rolepass.memberships set stripe_subscription_id = 'sub_1' where id = ${first}`;
    await assertRejects(
      () =>
        sql`update rolepass.memberships set stripe_subscription_id = 'sub_1'
          where id = ${second}`,
      Error,
      "memberships_stripe_subscription_id_key",
    );
  });
});

Deno.test("one Stripe customer cannot serve two memberships", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    await insertMembership(sql, "200000000000000001");
    await assertRejects(
      () =>
        sql`insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id)
          values (${GUILD_ID}, '200000000000000002', 'cus_200000000000000001')`,
      Error,
      "memberships_stripe_customer_id_key",
    );
  });
});

Deno.test("an entitled membership must name the role it grants", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await assertRejects(
      () => sql`update rolepass.memberships set entitled = true where id = ${id}`,
      Error,
      "memberships_check",
    );
  });
});

Deno.test("a link token hash is unique and exactly 32 bytes", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const hash = new Uint8Array(32).fill(7);
    const insert = (tokenHash: Uint8Array) =>
      sql`insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
          expires_at)
        values (${tokenHash}, 'join', ${GUILD_ID}, ${MEMBER_ID}, 'ja', now() + interval '15 min')`;
    await insert(hash);
    await assertRejects(() => insert(hash), Error, "link_tokens_token_hash_key");
    await assertRejects(() => insert(new Uint8Array(16)), Error, "link_tokens_token_hash_check");
  });
});

Deno.test("a Stripe event id is recorded once", async () => {
  await withTestDatabase(async ({ sql }) => {
    const insert = () =>
      sql`insert into rolepass.stripe_events (id, type) values ('evt_1', 'invoice.paid')`;
    await insert();
    await assertRejects(insert, Error, "stripe_events_pkey");
  });
});

Deno.test("malformed Discord ids, statuses and prices are rejected", async () => {
  await withTestDatabase(async ({ sql }) => {
    await assertRejects(
      () => sql`insert into rolepass.guilds (id, name) values ('not-a-snowflake', 'x')`,
      Error,
      "discord_snowflake_digits",
    );
    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await assertRejects(
      () => sql`update rolepass.memberships set status = 'bogus' where id = ${id}`,
      Error,
      "memberships_status_check",
    );
    await assertRejects(
      () =>
        sql`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
            unit_amount, currency, billing_interval)
          values (${GUILD_ID}, 'price_x', '300000000000000009', '{"en":{"name":"x"}}', -1, 'jpy',
            'month')`,
      Error,
      "plans_unit_amount_check",
    );
  });
});

Deno.test("Discord ids and locales are the domains' values, checked once", async () => {
  await withTestDatabase(async ({ sql }) => {
    const typed = await sql<{ column: string; domain: string }[]>`
      select table_name || '.' || column_name as column, domain_name as domain
      from information_schema.columns
      where table_schema = 'rolepass' and domain_name in ('discord_snowflake', 'locale')
      order by 1`;
    const expected = [
      ["checkout_attempts.locale", "locale"],
      ["guilds.default_locale", "locale"],
      ["guilds.id", "discord_snowflake"],
      ["guilds.operator_log_channel_id", "discord_snowflake"],
      ["handled_interactions.id", "discord_snowflake"],
      ["interaction_tokens.application_id", "discord_snowflake"],
      ["interaction_tokens.discord_user_id", "discord_snowflake"],
      ["link_tokens.discord_user_id", "discord_snowflake"],
      ["link_tokens.locale", "locale"],
      ["memberships.discord_user_id", "discord_snowflake"],
      ["memberships.entitled_role_id", "discord_snowflake"],
      ["memberships.locale", "locale"],
      ["plans.discord_role_id", "discord_snowflake"],
      ["role_comps.discord_role_id", "discord_snowflake"],
      ["role_comps.discord_user_id", "discord_snowflake"],
    ];
    for (const [column, domain] of expected) {
      assertEquals(typed.find((row) => row.column === column)?.domain, domain, column);
    }
    const repeated = await sql<{ name: string }[]>`
      select c.conname as name
      from pg_catalog.pg_constraint c
      join pg_catalog.pg_class t on t.oid = c.conrelid
      join pg_catalog.pg_namespace n on n.oid = t.relnamespace
      where n.nspname = 'rolepass' and c.contype = 'c'
        and c.conrelid <> 0 and c.conname = any (${
      expected.map(([column]) => column!.replace(".", "_") + "_check")
    })`;
    assertEquals(repeated.map((row) => row.name), []);

    await insertGuildWithPlan(sql);
    const id = await insertMembership(sql);
    await assertRejects(
      () => sql`update rolepass.memberships set locale = 'fr' where id = ${id}`,
      Error,
      "locale_supported",
    );
    await assertRejects(
      () => sql`update rolepass.memberships set entitled_role_id = '12' where id = ${id}`,
      Error,
      "discord_snowflake_digits",
    );
  });
});
