import { assertRejects } from "../harness/assert.ts";
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
      "guilds_id_check",
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
