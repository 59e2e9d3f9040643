/**
 * Comps from Discord: `/rolepass grant` and `/rolepass revoke` through the signed interactions
 * endpoint, then role-sync's drain against the Discord double. A comp is recorded apart from the
 * membership; role-sync's member load reads it through the core's rule, so a later Stripe change
 * does not undo it, and its end takes the role only from a member who does not pay.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  buildApp,
  createDiscordSigner,
  postSigned,
  subscribeInteraction,
} from "./interactions_fixtures.ts";
import { configureVault, type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "110000000000000001";
const BOB = "110000000000000002";
const OTHER_GUILD_ID = "390926798626357999";
/** Manage Server (0x20). */
const MANAGE_GUILD = "32";

interface Reply {
  type: number;
  data: { content: string; flags: number };
}

/** Runs `/rolepass <subcommand>` in `guildId` (the world's guild by default) as an operator. */
async function rolepass(
  w: RoleSyncWorld,
  subcommand: string,
  options: Record<string, string>,
  as: { guildId?: string; permissions?: string; locale?: string } = {},
): Promise<string> {
  const body = await subscribeInteraction({
    commandName: "rolepass",
    guildId: as.guildId ?? w.guildId,
    locale: as.locale,
  });
  (body.data as Record<string, unknown>).options = [{
    type: 1,
    name: subcommand,
    options: Object.entries(options).map(([name, value]) => ({
      type: name === "member" ? 6 : name === "plan" ? 8 : 3,
      name,
      value,
    })),
  }];
  (body.member as Record<string, unknown>).permissions = as.permissions ?? MANAGE_GUILD;
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(w.db.url, signer.publicKeyHex);
  try {
    const response = await postSigned(app, signer, body);
    assertEquals(response.status, 200);
    const reply: Reply = await response.json();
    assertEquals(reply.type, 4);
    assertEquals(reply.data.flags, 64, "every /rolepass reply is ephemeral");
    return reply.data.content;
  } finally {
    await sql.end();
  }
}

function holdsGold(w: RoleSyncWorld, memberId: string): boolean {
  return w.discord.memberRoles(w.guildId, memberId)?.includes(w.goldRoleId) ?? false;
}

async function comps(w: RoleSyncWorld): Promise<{ guild_id: string; discord_user_id: string }[]> {
  return [
    ...await w.db.sql<{ guild_id: string; discord_user_id: string }[]>`
    select guild_id, discord_user_id from rolepass.role_comps order by guild_id, discord_user_id`,
  ];
}

Deno.test("grant gives a member who never paid the plan's role, recorded as a comp and not as a payment", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    const text = await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId });
    assert(
      text.includes(`Gave <@${ALICE}> Gold (<@&${w.goldRoleId}>) for free until revoked`),
      text,
    );
    await w.settle();
    assert(holdsGold(w, ALICE), "the comp gives the role");
    const [membership] = await w.db.sql<
      { entitled: boolean; status: string | null; stripe_customer_id: string | null }[]
    >`select entitled, status, stripe_customer_id from rolepass.memberships
      where discord_user_id = ${ALICE}`;
    assertEquals(membership, { entitled: false, status: null, stripe_customer_id: null });
    const notices = await w.db.sql`select 1 from rolepass.notices`;
    assertEquals(notices.length, 0, "a comp is not announced as a subscription");
    const status = await rolepass(w, "status", { member: ALICE });
    assert(status.includes(`Comp: <@&${w.goldRoleId}> until revoked`), status);
  });
});

Deno.test("a Stripe change that ends a comped member's subscription leaves the comp's role", async () => {
  await withRoleSync(async (w) => {
    const membership = await w.addMember(ALICE);
    await w.entitle(membership, "gold", "evt_paid");
    await w.settle();
    await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId });
    await w.settle();
    await w.entitle(membership, null, "evt_subscription_deleted");
    await w.settle();
    assert(holdsGold(w, ALICE), "the comp keeps the role the subscription no longer pays for");
    const deletes = w.discord.requests().filter((r) => r.method === "DELETE");
    assertEquals(deletes.length, 0);
  });
});

Deno.test("revoke takes the role from a member who does not pay, and keeps it for one who does", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    const paying = await w.addMember(BOB);
    await w.entitle(paying, "gold", "evt_paid");
    await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId });
    await rolepass(w, "grant", { member: BOB, plan: w.goldRoleId, until: "2099-12-31" });
    await w.settle();
    assert(holdsGold(w, ALICE) && holdsGold(w, BOB));

    const text = await rolepass(w, "revoke", { member: ALICE });
    assert(text.includes(`Ended <@${ALICE}>'s comp of <@&${w.goldRoleId}>`), text);
    await rolepass(w, "revoke", { member: BOB });
    await w.settle();
    assertEquals(holdsGold(w, ALICE), false, "the comp's role goes with the comp");
    assertEquals(holdsGold(w, BOB), true, "a paying member keeps the role");
    assertEquals(await comps(w), []);
    const again = await rolepass(w, "revoke", { member: ALICE });
    assert(again.includes(`<@${ALICE}> has no comp.`), again);
  });
});

Deno.test("a comp whose last day passed ends by the minute's sweep", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    const text = await rolepass(w, "grant", {
      member: ALICE,
      plan: w.goldRoleId,
      until: "2099-12-31",
    });
    // The last day ends at midnight in the server's accounting time zone (Asia/Tokyo).
    const unix = Date.UTC(2099, 11, 31, 15) / 1000;
    assert(text.includes(`until <t:${unix}:f>`), text);
    await w.settle();
    assert(holdsGold(w, ALICE));
    await configureVault(w.db.sql, "http://127.0.0.1:9/functions/v1/role-sync");
    await w.db.sql`update rolepass.role_comps set expires_at = now() - interval '1 second'`;
    await w.db.sql`select rolepass.sweep_role_jobs()`;
    assertEquals(await comps(w), []);
    await w.settle();
    assertEquals(holdsGold(w, ALICE), false);
  });
});

Deno.test("another server's operator neither sees nor ends a comp, nor gives another server's role", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    await w.db.sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD_ID}, 'Other')`;
    await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId });
    await w.settle();

    const revoke = await rolepass(w, "revoke", { member: ALICE }, { guildId: OTHER_GUILD_ID });
    assert(revoke.includes("has no comp"), revoke);
    const grant = await rolepass(w, "grant", { member: BOB, plan: w.goldRoleId }, {
      guildId: OTHER_GUILD_ID,
    });
    assert(grant.includes("belongs to no plan of this server"), grant);
    await w.settle();
    assert(holdsGold(w, ALICE));
    assertEquals(await comps(w), [{ guild_id: w.guildId, discord_user_id: ALICE }]);
  });
});

Deno.test("grant refuses a non-operator, a role of no plan, and a malformed or past day, recording nothing", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    const refused = await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId }, {
      permissions: "0",
    });
    assertEquals(refused, "`/rolepass` needs the Manage Server permission.");
    const noPlan = await rolepass(w, "grant", { member: ALICE, plan: "120000000000000009" });
    assert(noPlan.includes("belongs to no plan"), noPlan);
    const malformed = await rolepass(w, "grant", {
      member: ALICE,
      plan: w.goldRoleId,
      until: "2027-02-30",
    });
    assertEquals(malformed, "Write the last day as 2027-01-31 (year-month-day).");
    const past = await rolepass(w, "grant", {
      member: ALICE,
      plan: w.goldRoleId,
      until: "2020-01-31",
    }, { locale: "ja" });
    assertEquals(past, "その日はすでに終わっています。もっと後の日付を指定してください。");
    assertEquals(await comps(w), []);
    const jobs = await w.jobs();
    assertEquals(jobs.length, 0);
    const members = await w.db.sql`select 1 from rolepass.memberships`;
    assertEquals(members.length, 0);
  });
});

Deno.test("a comp of a plan with several roles gives them all, and its end takes them all", async () => {
  await withRoleSync(async (w) => {
    const supporters = w.discord.addRole(w.guildId, { name: "Supporters", position: 3 });
    const planRoles = [w.goldRoleId, supporters.id];
    await w.db.sql`update rolepass.plans set discord_role_ids = ${planRoles}::text[]
      where id = ${w.goldPlanId}`;
    w.discord.addMember(w.guildId, ALICE);
    const held = () => [...w.discord.memberRoles(w.guildId, ALICE) ?? []].sort();

    const text = await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId });
    assert(text.includes(`Gave <@${ALICE}> Gold (<@&${w.goldRoleId}>)`), text);
    await w.settle();
    assertEquals(held(), [...planRoles].sort());

    await rolepass(w, "grant", { member: ALICE, plan: w.silverRoleId });
    await w.settle();
    assertEquals(held(), [w.silverRoleId], "the new comp replaces the whole old set");

    await rolepass(w, "grant", { member: ALICE, plan: w.goldRoleId, until: "2099-12-31" });
    await w.settle();
    const ended = await rolepass(w, "revoke", { member: ALICE });
    assert(ended.includes(`comp of <@&${w.goldRoleId}>`), ended);
    await w.settle();
    assertEquals(held(), []);
    assertEquals(await comps(w), []);
  });
});
