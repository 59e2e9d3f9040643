/**
 * `/rolepass resync <member>` through the signed interactions endpoint: a deferred ephemeral
 * answer, the request recorded for role-sync (never the Stripe SDK in the interactions function),
 * role-sync re-reading Stripe through the webhook's own path and editing the answer with what
 * changed, and the role following through the ordinary role jobs. Refusals change nothing; Stripe
 * down changes nothing and says so.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  adminRequests,
  type ConsoleWorld,
  EVERYONE_OVERRIDE,
  withConsoleWorld,
} from "./admin_console_fixtures.ts";
import { capturedLogs } from "./webhook_harness.ts";

const STRANGER_ID = "310000000000000099";

/** A member who paid on Stripe, whose webhooks never reached rolepass. */
async function paidUnseen(world: ConsoleWorld) {
  const member = await world.stripe.newMember();
  world.discord.addMember(world.guildId, member.discordUserId);
  world.stripe.stripeDouble.completeCheckout(member.sessionId);
  world.stripe.takeEvents();
  assertEquals((await world.stripe.membership(member.membershipId)).entitled, false);
  return member;
}

async function counts(world: ConsoleWorld) {
  const [row] = await world.stripe.db.sql<{ history: number; jobs: number }[]>`
    select (select count(*)::int from rolepass.membership_history) as history,
      (select count(*)::int from rolepass.role_jobs) as jobs`;
  return row;
}

Deno.test("resync answers deferred, re-reads Stripe in role-sync, edits the answer with what changed, and the role follows", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    const token = `resync-token-${crypto.randomUUID()}`;
    const { status, reply } = await world.run("resync", {
      member: member.discordUserId,
      memberRoles: [],
      token,
    });
    assertEquals(status, 200);
    assertEquals(reply, { type: 5, data: { flags: 64 } });
    const [request] = await adminRequests(world);
    assertEquals(request?.status, "pending");
    assert(request?.interaction_token, "the token is kept until the answer");
    const [wake] = await world.stripe.db.sql<{ url: string }[]>`
      select url from net.http_request_queue order by id desc limit 1`;
    assertEquals(wake?.url, "http://localhost/functions/v1/role-sync/admin-requests");

    const woke = await world.wakeAdminRequests();
    assertEquals(woke.answered, 1);
    const [original] = world.discord.messages({ kind: "original" });
    assert(original, "role-sync edited the deferred answer");
    assert(
      original.content.includes(`Re-read <@${member.discordUserId}> from Stripe.`),
      original.content,
    );
    assert(original.content.includes("Status: none → active"), original.content);
    assert(original.content.includes(`Role: none → <@&${world.roleId}>`), original.content);
    const view = await world.stripe.membership(member.membershipId);
    assertEquals(view.entitled, true);
    assertEquals(view.change_cause, "admin_resync");
    assertEquals((await adminRequests(world)).map((r) => [r.status, r.interaction_token]), [
      ["answered", null],
    ]);

    await world.settle();
    assertEquals(world.discord.memberRoles(world.guildId, member.discordUserId), [world.roleId]);
    assertEquals(world.discord.specViolations(), []);
    assert(capturedLogs.length > 0, "the functions logged");
    assertEquals(
      capturedLogs.filter((line) => line.includes(token)),
      [],
      "the token is never logged",
    );
  });
});

Deno.test("resync of a paying member who lost the role by hand changes nothing in Stripe's data and gives the role back", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    await world.run("resync", { member: member.discordUserId, memberRoles: [] });
    await world.wakeAdminRequests();
    await world.settle();
    world.discord.setMemberRoles(world.guildId, member.discordUserId, []);

    const { reply } = await world.run("resync", {
      member: member.discordUserId,
      memberRoles: [],
      locale: "ja",
    });
    assertEquals(reply.type, 5);
    await world.wakeAdminRequests();
    const original = world.discord.messages({ kind: "original" }).at(-1);
    assert(original, "the answer was edited");
    assert(original.content.includes("変更はありません（状態：active"), original.content);
    assert(
      original.content.includes(`<@&${world.roleId}>を持っていなかったため、付け直します。`),
      original.content,
    );
    await world.settle();
    assertEquals(world.discord.memberRoles(world.guildId, member.discordUserId), [world.roleId]);
  });
});

Deno.test("resync of a paying member who lost the second role of their plan names it and gives it back", async () => {
  await withConsoleWorld(async (world) => {
    const supporters = world.discord.addRole(world.guildId, { name: "Supporters", position: 4 });
    const planRoles = [world.roleId, supporters.id];
    await world.stripe.db.sql`update rolepass.plans set discord_role_ids = ${planRoles}::text[]
      where stripe_price_id = ${world.stripe.plan.priceId}`;
    const member = await paidUnseen(world);
    await world.run("resync", { member: member.discordUserId, memberRoles: [] });
    await world.wakeAdminRequests();
    await world.settle();
    const held = () => world.discord.memberRoles(world.guildId, member.discordUserId)?.toSorted();
    assertEquals(held(), planRoles.toSorted());

    world.discord.setMemberRoles(world.guildId, member.discordUserId, [world.roleId]);
    await world.run("resync", { member: member.discordUserId, memberRoles: [world.roleId] });
    await world.wakeAdminRequests();
    const original = world.discord.messages({ kind: "original" }).at(-1);
    assert(original, "the answer was edited");
    assert(
      original.content.includes(`lacked <@&${supporters.id}> in Discord: it is being given back.`),
      original.content,
    );
    await world.settle();
    assertEquals(held(), planRoles.toSorted());
  });
});

Deno.test("Stripe down during resync: the answer says so, and nothing is written", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    const before = await counts(world);
    world.stripe.stripeDouble.inject({ path: /^\/v1\/subscriptions/, status: 500 });
    const { reply } = await world.run("resync", { member: member.discordUserId, memberRoles: [] });
    assertEquals(reply.type, 5);
    await world.wakeAdminRequests();
    const [original] = world.discord.messages({ kind: "original" });
    assert(original, "the answer was edited");
    assert(
      original.content.startsWith("Stripe did not answer (HTTP 500), so nothing of"),
      original.content,
    );
    assert(original.content.includes("Run `/rolepass resync` again in a few minutes."));
    assertEquals(await counts(world), before);
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, false);
    assertEquals((await adminRequests(world)).map((r) => r.status), ["answered"]);

    // Once Stripe is back, the same command repairs it.
    world.stripe.stripeDouble.clearFaults();
    await world.run("resync", { member: member.discordUserId, memberRoles: [] });
    await world.wakeAdminRequests();
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("resync of a member rolepass never saw answers at once and records nothing", async () => {
  await withConsoleWorld(async (world) => {
    const { reply } = await world.run("resync", { member: STRANGER_ID });
    assertEquals(reply.type, 4);
    assertEquals(
      reply.data?.content,
      `rolepass has no record of <@${STRANGER_ID}> in this server (they never subscribed), so there is nothing to re-read.`,
    );
    assertEquals(await adminRequests(world), []);
  });
});

Deno.test("resync is refused without Manage Server, even when a server admin let everyone run the command, and in DMs", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    for (const permissions of ["0", EVERYONE_OVERRIDE]) {
      const { reply } = await world.run("resync", { member: member.discordUserId, permissions });
      assertEquals(reply.type, 4);
      assertEquals(reply.data?.content, "`/rolepass` needs the Manage Server permission.");
    }
    const dm = await world.run("resync", { member: member.discordUserId, guildId: null });
    assertEquals(dm.reply.data?.content, "`/rolepass` works only inside a server.");
    assertEquals(await adminRequests(world), []);
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("resync run in another server cannot reach this server's member", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    const otherGuild = "390000000000000001";
    await world.stripe.db
      .sql`insert into rolepass.guilds (id, name) values (${otherGuild}, 'Other')`;
    const { reply } = await world.run("resync", {
      member: member.discordUserId,
      guildId: otherGuild,
    });
    assertEquals(reply.type, 4);
    assert(reply.data?.content?.includes("has no record of"), reply.data?.content);
    assertEquals(await adminRequests(world), []);
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, false);
  });
});

Deno.test("a request Discord's token would no longer answer expires with its token erased, and is never done", async () => {
  await withConsoleWorld(async (world) => {
    const member = await paidUnseen(world);
    await world.run("resync", { member: member.discordUserId, memberRoles: [] });
    const { sql } = world.stripe.db;
    await sql`update rolepass.admin_requests set expires_at = now() + interval '10 seconds'`;
    const [job] = await sql<{ schedule: string; command: string }[]>`
      select schedule, command from cron.job where jobname = 'rolepass-admin-requests-sweep'`;
    assertEquals(job?.schedule, "* * * * *");
    await sql.unsafe(job.command);
    assertEquals((await adminRequests(world)).map((r) => [r.status, r.interaction_token]), [
      ["expired", null],
    ]);
    assertEquals((await world.wakeAdminRequests()).answered, 0);
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, false);
    assertEquals(world.discord.messages({ kind: "original" }), []);
  });
});
