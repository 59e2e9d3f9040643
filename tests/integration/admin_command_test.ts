/**
 * `/rolepass`, the operators' console, through the signed interactions endpoint against the real
 * migrated PostgreSQL: who may run it (checked on every request, not only at registration), what
 * each subcommand shows and changes, and that nothing of another server is ever seen or touched.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import {
  buildApp,
  createDiscordSigner,
  GUILD_ID,
  insertGuild,
  MEMBER_ID,
  postSigned,
  ROLE_ID,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

const OTHER_GUILD_ID = "390926798626357999";
const STRANGER_ID = "63908232506183681";
/** Manage Server (0x20). */
const MANAGE_GUILD = "32";
/** Administrator (0x8). */
const ADMINISTRATOR = "8";
/**
 * Send Messages and Use Application Commands: what a member holds when a server admin lets
 * everyone run `/rolepass` through Integrations > command permissions.
 */
const EVERYONE_OVERRIDE = String((1n << 11n) | (1n << 31n));

interface Reply {
  type: number;
  data: { content: string; flags: number; allowed_mentions: { parse: string[] } };
}

type Sql = import("postgres").Sql;

/** A `/rolepass <subcommand>` interaction, run by an operator holding `permissions`. */
async function adminInteraction(
  subcommand: string,
  options: {
    member?: string;
    permissions?: string;
    guildId?: string | null;
    locale?: string;
  } = {},
): Promise<Record<string, unknown>> {
  const body = await subscribeInteraction({
    commandName: "rolepass",
    guildId: options.guildId,
    locale: options.locale,
  });
  const data = body.data as Record<string, unknown>;
  data.options = [{
    type: 1,
    name: subcommand,
    ...(options.member ? { options: [{ type: 6, name: "member", value: options.member }] } : {}),
  }];
  const member = body.member as Record<string, unknown> | undefined;
  if (member) member.permissions = options.permissions ?? MANAGE_GUILD;
  return body;
}

async function answer(
  databaseUrl: string,
  interaction: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<Reply> {
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(databaseUrl, signer.publicKeyHex, env);
  try {
    const response = await postSigned(app, signer, interaction);
    assertEquals(response.status, 200);
    const reply: Reply = await response.json();
    assertEquals(reply.type, 4);
    assertEquals(reply.data.flags, 64, "every /rolepass reply is ephemeral");
    assertEquals(reply.data.allowed_mentions, { parse: [] });
    return reply;
  } finally {
    await sql.end();
  }
}

async function insertMembership(
  sql: Sql,
  fields: {
    guildId?: string;
    memberId?: string;
    planId: string;
    status: string;
    entitled: boolean;
    customer?: string;
    periodEnd?: Date;
    cancelAtPeriodEnd?: boolean;
  },
): Promise<string> {
  const customer = fields.customer ?? "cus_Admin1";
  const [row] = await sql<{ id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
      stripe_subscription_id, plan_id, status, entitled, entitled_role_id, current_period_end,
      cancel_at_period_end, change_cause)
    values (${fields.guildId ?? GUILD_ID}, ${fields.memberId ?? MEMBER_ID}, ${customer},
      ${customer.replace("cus_", "sub_")}, ${fields.planId}, ${fields.status}, ${fields.entitled},
      ${ROLE_ID}, ${fields.periodEnd ?? null}, ${fields.cancelAtPeriodEnd ?? false}, 'test')
    returning id`;
  assert(row, "row is missing");
  return row.id;
}

/** Marks the membership's newest role job failed, as role-sync records a refusal. */
async function failLastRoleJob(sql: Sql, membershipId: string, outcome: string) {
  await sql`
    update rolepass.role_jobs set status = 'failed', outcome = ${outcome},
      last_error = 'Missing Permissions (50013)', done_at = now()
    where id = (select max(id) from rolepass.role_jobs where membership_id = ${membershipId})`;
}

async function jobStatuses(sql: Sql, guildId: string): Promise<string[]> {
  const rows = await sql<{ status: string }[]>`
    select status from rolepass.role_jobs where guild_id = ${guildId} order by id`;
  return rows.map((row) => row.status);
}

async function insertOtherGuild(sql: Sql): Promise<string> {
  await sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD_ID}, 'Other Guild')`;
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval)
    values (${OTHER_GUILD_ID}, 'price_other', ${ROLE_ID}, ${
    sql.json({ en: { name: "Other Gold", description: "" } })
  }, 900, 'usd', 'month')
    returning id`;
  assert(plan, "plan is missing");
  return plan.id;
}

Deno.test("status shows a paying member's plan, Stripe status, period, cancel, role and Dashboard link", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const periodEnd = new Date("2030-01-31T00:00:00Z");
    await insertMembership(db.sql, {
      planId,
      status: "active",
      entitled: true,
      periodEnd,
      cancelAtPeriodEnd: true,
    });
    const reply = await answer(
      db.url,
      await adminInteraction("status", { member: MEMBER_ID }),
      { STRIPE_SECRET_KEY: "sk_test_admin" },
    );
    const text = reply.data.content;
    assert(text.includes(`<@${MEMBER_ID}>`), text);
    assert(text.includes("Plan: Gold 1"), text);
    assert(text.includes("Stripe status: active"), text);
    const unix = Math.floor(periodEnd.getTime() / 1000);
    assert(text.includes(`Period ends: <t:${unix}:f>`), text);
    assert(text.includes(`Cancels: <t:${unix}:f>`), text);
    assert(text.includes(`Role: yes until <t:${unix}:f>`), text);
    assert(text.includes(`<@&${ROLE_ID}> grant for <@${MEMBER_ID}>: pending`), text);
    assert(text.includes("<https://dashboard.stripe.com/test/customers/cus_Admin1>"), text);
  });
});

Deno.test("status gives the entitlement rule's reason in Japanese, and a live key links outside /test/", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{ ja: true }] });
    assert(planId, "planId is missing");
    await insertMembership(db.sql, { planId, status: "unpaid", entitled: false });
    const reply = await answer(
      db.url,
      await adminInteraction("status", { member: MEMBER_ID, locale: "ja" }),
      { STRIPE_SECRET_KEY: "sk_live_admin" },
    );
    const text = reply.data.content;
    assert(text.includes("プラン：ゴールド1"), text);
    assert(text.includes("ロール：なし（更新料金が未払いです）"), text);
    assert(text.includes("<https://dashboard.stripe.com/customers/cus_Admin1>"), text);
  });
});

Deno.test("status of a member rolepass has never seen says so", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const reply = await answer(db.url, await adminInteraction("status", { member: STRANGER_ID }));
    assert(reply.data.content.includes("no record of"), reply.data.content);
    assert(reply.data.content.includes(`<@${STRANGER_ID}>`), reply.data.content);
  });
});

Deno.test("status of another server's member finds nothing, and retry leaves that server's jobs alone", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const otherPlan = await insertOtherGuild(db.sql);
    const otherMembership = await insertMembership(db.sql, {
      guildId: OTHER_GUILD_ID,
      memberId: STRANGER_ID,
      planId: otherPlan,
      status: "active",
      entitled: true,
      customer: "cus_Other1",
    });
    await failLastRoleJob(db.sql, otherMembership, "missing_permissions");

    const status = await answer(db.url, await adminInteraction("status", { member: STRANGER_ID }));
    assert(status.data.content.includes("no record of"), status.data.content);
    assert(!status.data.content.includes("cus_Other1"), status.data.content);

    const failures = await answer(db.url, await adminInteraction("failures"));
    assertEquals(failures.data.content, "No failed role changes.");

    const retry = await answer(db.url, await adminInteraction("retry"));
    assertEquals(retry.data.content, "No failed role changes to retry.");
    assertEquals(await jobStatuses(db.sql, OTHER_GUILD_ID), ["failed"]);
  });
});

Deno.test("a member without Manage Server is refused and nothing is retried", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const membershipId = await insertMembership(db.sql, {
      planId,
      status: "active",
      entitled: true,
    });
    await failLastRoleJob(db.sql, membershipId, "missing_permissions");
    for (const permissions of ["0", EVERYONE_OVERRIDE]) {
      const reply = await answer(db.url, await adminInteraction("retry", { permissions }));
      assertEquals(reply.data.content, "`/rolepass` needs the Manage Server permission.");
    }
    const status = await answer(
      db.url,
      await adminInteraction("status", { member: MEMBER_ID, permissions: EVERYONE_OVERRIDE }),
    );
    assert(!status.data.content.includes("cus_Admin1"), status.data.content);
    assertEquals(await jobStatuses(db.sql, GUILD_ID), ["failed"]);
  });
});

Deno.test("an Administrator without Manage Server may run it", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const reply = await answer(
      db.url,
      await adminInteraction("failures", { permissions: ADMINISTRATOR }),
    );
    assertEquals(reply.data.content, "No failed role changes.");
  });
});

Deno.test("in a DM /rolepass is refused and nothing is done", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const membershipId = await insertMembership(db.sql, {
      planId,
      status: "active",
      entitled: true,
    });
    await failLastRoleJob(db.sql, membershipId, "missing_permissions");
    const reply = await answer(db.url, await adminInteraction("retry", { guildId: null }));
    assertEquals(reply.data.content, "`/rolepass` works only inside a server.");
    assertEquals(await jobStatuses(db.sql, GUILD_ID), ["failed"]);
  });
});

Deno.test("overview counts members per plan and status, and revenue per currency without adding currencies", async () => {
  await withTestDatabase(async (db) => {
    const [yenPlan] = await insertGuild(db.sql, { plans: [{}] });
    assert(yenPlan, "yenPlan is missing");
    const [dollarPlan] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval, sort_order)
      values (${GUILD_ID}, 'price_usd_year', ${ROLE_ID}, ${
      db.sql.json({ en: { name: "Yearly", description: "" } })
    }, 12000, 'usd', 'year', 9)
      returning id`;
    assert(dollarPlan, "dollarPlan is missing");
    await insertMembership(db.sql, { planId: yenPlan, status: "active", entitled: true });
    await insertMembership(db.sql, {
      planId: yenPlan,
      memberId: STRANGER_ID,
      status: "active",
      entitled: true,
      customer: "cus_Admin2",
    });
    const failed = await insertMembership(db.sql, {
      planId: dollarPlan.id,
      memberId: "73908232506183682",
      status: "active",
      entitled: true,
      customer: "cus_Admin3",
    });
    await insertMembership(db.sql, {
      planId: yenPlan,
      memberId: "83908232506183683",
      status: "canceled",
      entitled: false,
      customer: "cus_Admin4",
    });
    await failLastRoleJob(db.sql, failed, "unknown_role");

    const text = (await answer(db.url, await adminInteraction("overview"))).data.content;
    assert(text.includes("• Gold 1 / active: 2"), text);
    assert(text.includes("• Gold 1 / canceled: 1"), text);
    assert(text.includes("• Yearly / active: 1"), text);
    // ¥500 × 2 a month, and $120.00 a year = $10.00 a month: two lines, never one sum.
    assert(text.includes("• ¥1,000"), text);
    assert(text.includes("• $10.00"), text);
    assert(text.includes("2 pending, 0 running, 1 failed"), text);
    assert(text.includes("Recent failures"), text);
    assert(text.includes("unknown_role"), text);
  });
});

Deno.test("failures lists each failed role change with its reason and what fixes it", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const membershipId = await insertMembership(db.sql, {
      planId,
      status: "active",
      entitled: true,
    });
    await failLastRoleJob(db.sql, membershipId, "missing_permissions");
    const text = (await answer(db.url, await adminInteraction("failures"))).data.content;
    assert(text.includes(`<@&${ROLE_ID}> grant for <@${MEMBER_ID}>: failed`), text);
    assert(text.includes("missing_permissions: Missing Permissions (50013)"), text);
    assert(text.includes("move the bot's role up"), text);
    assert(text.includes("`/rolepass retry`"), text);
  });
});

Deno.test("retry puts this server's failed role changes back in the queue", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    const membershipId = await insertMembership(db.sql, {
      planId,
      status: "active",
      entitled: true,
    });
    await failLastRoleJob(db.sql, membershipId, "missing_permissions");
    const reply = await answer(db.url, await adminInteraction("retry", { locale: "ja" }));
    assertEquals(reply.data.content, "失敗したロール変更1件をもう一度実行します。");
    assertEquals(await jobStatuses(db.sql, GUILD_ID), ["pending"]);
  });
});
