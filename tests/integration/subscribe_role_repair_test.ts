/**
 * `/subscribe` repairs a missing role: a paying member who left and rejoined (Discord drops their
 * roles) or whose role a moderator removed gets it back in seconds, through the real
 * discord-interactions app, the real role-sync drain, PostgreSQL and the Discord double.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  buildApp,
  createDiscordSigner,
  postSigned,
  subscribeInteraction,
} from "./interactions_fixtures.ts";
import { type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000001";

interface Reply {
  data: { content: string };
}

/** Runs `/subscribe` as `memberId` through the real app; `roles` as Discord would list them. */
async function subscribe(
  w: RoleSyncWorld,
  memberId: string,
  options: { roles?: string[] | null; locale?: string } = {},
): Promise<string> {
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(w.db.url, signer.publicKeyHex, {
    DISCORD_APPLICATION_ID: w.discord.applicationId,
  });
  try {
    const token = `interaction-token-${crypto.randomUUID()}`;
    w.discord.registerInteraction(token, { guildId: w.guildId, userId: memberId });
    const interaction = await subscribeInteraction({
      guildId: w.guildId,
      memberId,
      applicationId: w.discord.applicationId,
      token,
      locale: options.locale ?? "en-US",
    });
    const member = interaction.member as Record<string, unknown>;
    if (options.roles === null) delete member.roles;
    else member.roles = options.roles ?? [];
    const response = await postSigned(app, signer, interaction);
    assertEquals(response.status, 200);
    return ((await response.json()) as Reply).data.content;
  } finally {
    await sql.end();
  }
}

async function repairJobs(w: RoleSyncWorld): Promise<number> {
  const { n } = first(
    await w.db.sql<{ n: number }[]>`
    select count(*)::int as n from rolepass.role_jobs where cause = 'member_asked_role_missing'`,
    "a row",
  );
  return n;
}

Deno.test("a paying member who left and rejoined gets the role back by running /subscribe", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    assert(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId));

    w.discord.removeMember(w.guildId, ALICE);
    w.discord.addMember(w.guildId, ALICE);
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), []);

    const content = await subscribe(w, ALICE, { roles: [] });
    assert(content.includes("being given back now"), content);
    assertEquals(await repairJobs(w), 1);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 2, "the grant, then the role given back, each told once by DM");
    assertEquals(w.discord.messages({ userId: ALICE, kind: "followup" }).length, 0);
  });
});

Deno.test("a paying member whose role a moderator removed gets it back, and is told so in Japanese", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { locale: "ja" });
    await w.entitle(alice, "gold");
    await w.settle();
    const roles = w.discord.memberRoles(w.guildId, ALICE)!.filter((r) => r !== w.goldRoleId);
    w.discord.removeMember(w.guildId, ALICE);
    w.discord.addMember(w.guildId, ALICE, { roles });

    const content = await subscribe(w, ALICE, { roles, locale: "ja" });
    assert(content.includes("付け直しを手配しました。数秒で戻ります。"), content);
    await w.settle();
    assert(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId));
  });
});

Deno.test("a member whose last role job ended 'not in guild' gets the role queued even without a role list", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { inDiscord: false });
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals(job.outcome, "member_not_in_guild");

    w.discord.addMember(w.guildId, ALICE);
    const content = await subscribe(w, ALICE, { roles: null });
    assert(content.includes("being given back now"), content);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
  });
});

Deno.test("a paying member who holds the role, or a member who does not pay, gets no role job from /subscribe", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const content = await subscribe(w, ALICE, { roles: [w.goldRoleId] });
    assert(!content.includes("given back"), content);

    const bob = "400000000000000002";
    await w.addMember(bob);
    await subscribe(w, bob, { roles: [] });
    assertEquals(await repairJobs(w), 0);
  });
});

Deno.test("a paying member missing the second role of their plan gets it back by running /subscribe", async () => {
  await withRoleSync(async (w) => {
    const supporters = w.discord.addRole(w.guildId, { name: "Supporters", position: 3 });
    const planRoles = [w.goldRoleId, supporters.id];
    await w.db.sql`update rolepass.plans set discord_role_ids = ${planRoles}::text[]
      where id = ${w.goldPlanId}`;
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.db.sql`update rolepass.memberships set entitled_role_ids = ${planRoles}::text[]
      where id = ${alice}`;
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.toSorted(), planRoles.toSorted());

    w.discord.setMemberRoles(w.guildId, ALICE, [w.goldRoleId]);
    const content = await subscribe(w, ALICE, { roles: [w.goldRoleId] });
    assert(content.includes("being given back now"), content);
    assertEquals(await repairJobs(w), 1);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.toSorted(), planRoles.toSorted());
  });
});

Deno.test("a pass holder who lost the pass's role gets it back by running /subscribe", async () => {
  await withRoleSync(async (w) => {
    const passRole = w.discord.addRole(w.guildId, { name: "Event pass", position: 3 }).id;
    const until = new Date(Date.now() + 20 * 86_400_000);
    const pass = first(
      await w.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval, access_kind, access_duration)
      values (${w.guildId}, 'price_pass', ${passRole},
        ${w.db.sql.json({ en: { name: "Event pass" }, ja: { name: "イベントパス" } })}, 3000,
        'jpy', null, 'duration', '30 days')
      returning id`,
      "the pass plan",
    );
    const alice = await w.addMember(ALICE);
    await w.db.sql`
      insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
        stripe_checkout_session_id, stripe_payment_intent_id, stripe_charge_id, amount, currency,
        paid_at, access_until)
      values (${alice}, ${pass.id}, ${"cus_" + ALICE}, 'cs_test_pass', 'pi_pass', 'ch_pass', 3000,
        'jpy', now() - interval '10 days', ${until})`;
    await w.db.sql`
      update rolepass.memberships
      set entitled = true, entitled_role_id = ${passRole}, entitled_role_ids = ${[passRole]},
        entitled_until = ${until}, plan_id = ${pass.id}, stripe_subscription_id = null,
        change_cause = 'test'
      where id = ${alice}`;
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [passRole]);

    w.discord.removeMember(w.guildId, ALICE);
    w.discord.addMember(w.guildId, ALICE);
    const content = await subscribe(w, ALICE, { roles: [] });
    assert(content.includes("**Event pass**") && content.includes("given back now"), content);
    assertEquals(await repairJobs(w), 1);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [passRole]);
  });
});
