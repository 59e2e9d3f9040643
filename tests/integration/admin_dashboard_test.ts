/**
 * `/rolepass dashboard` through the signed interactions endpoint and role-sync: in platform mode
 * an operator whose server finished Stripe's onboarding gets a private login link to that
 * server's own Express Dashboard (payouts, statements, exports), kept nowhere; another server's
 * operator gets their own server's; a server that has not finished onboarding is told to, and a
 * standalone deployment that the dashboard is for platform deployments.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { adminRequests, type ConsoleWorld, withConsoleWorld } from "./admin_console_fixtures.ts";
import { capturedLogs } from "./webhook_harness.ts";

const PLATFORM = { stripeMode: "platform", publicSiteUrl: "https://plans.rolepass.test" } as const;
const OTHER_GUILD = "100000000000000099";

/** Runs `/rolepass <subcommand>` in `guildId` and returns role-sync's edited answer. */
async function answer(world: ConsoleWorld, subcommand: string, guildId = world.guildId) {
  const before = world.discord.messages({ kind: "original" }).length;
  const { status, reply } = await world.run(subcommand, { guildId });
  assertEquals(status, 200);
  assertEquals(reply, { type: 5, data: { flags: 64 } });
  assertEquals((await world.wakeAdminRequests()).answered, 1);
  const original = world.discord.messages({ kind: "original" })[before];
  assert(original, "role-sync edited the deferred answer");
  return original.content;
}

/** The server's operator onboards through the link `/rolepass onboarding` gave them. */
async function onboard(world: ConsoleWorld, guildId: string) {
  const content = await answer(world, "onboarding", guildId);
  const url = /https?:\/\/\S+\/__double\/connect\/onboarding\/acctlink_\w+/.exec(content)?.[0];
  assert(url, content);
  const submitted = await fetch(url, { method: "POST", redirect: "manual" });
  await submitted.body?.cancel();
}

async function accountOf(world: ConsoleWorld, guildId: string) {
  const [row] = await world.stripe.db.sql<{ stripe_account_id: string }[]>`
    select stripe_account_id from rolepass.guild_stripe_accounts where guild_id = ${guildId}`;
  assert(row, `guild ${guildId} has an account`);
  return row.stripe_account_id;
}

Deno.test("each onboarded server gets a private link to its own Express Dashboard", async () => {
  await withConsoleWorld(async (world) => {
    const sql = world.stripe.db.sql;
    await sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD}, 'Other server')`;
    await onboard(world, world.guildId);
    await onboard(world, OTHER_GUILD);

    for (const guildId of [world.guildId, OTHER_GUILD]) {
      const content = await answer(world, "dashboard", guildId);
      assert(content.includes("**Stripe dashboard**"), content);
      const url = /https?:\/\/\S+/.exec(content.split(": ").slice(1).join(": "))?.[0];
      assert(url, content);
      const page = await (await fetch(url)).text();
      assert(page.includes(`Express Dashboard: ${await accountOf(world, guildId)}`), page);
      assertEquals(capturedLogs.filter((line) => line.includes(url)), [], "never logged");
    }
    const loginLinks = world.stripe.stripeDouble.requests({ method: "POST" })
      .filter((request) => request.path.endsWith("/login_links")).map((request) => request.path);
    assertEquals(loginLinks, [
      `/v1/accounts/${await accountOf(world, world.guildId)}/login_links`,
      `/v1/accounts/${await accountOf(world, OTHER_GUILD)}/login_links`,
    ]);
    const [stored] = await sql<{ text: string }[]>`
      select string_agg(coalesce(result::text, '') || coalesce(last_error, '') ||
        coalesce(interaction_token, ''), '') as text
      from rolepass.admin_requests`;
    assertEquals(stored?.text, "", "no result, error or token is kept");
    const kinds = (await adminRequests(world)).map((r) => [r.kind, r.status]);
    assertEquals(kinds.filter(([kind]) => kind === "dashboard"), [
      ["dashboard", "answered"],
      ["dashboard", "answered"],
    ]);
  }, { config: PLATFORM });
});

Deno.test("a server that has not finished onboarding is told to, and gets no link", async () => {
  await withConsoleWorld(async (world) => {
    const none = await answer(world, "dashboard");
    assert(none.includes("/rolepass onboarding"), none);
    await answer(world, "onboarding");
    const started = await answer(world, "dashboard");
    assert(started.includes("has not finished Stripe's onboarding"), started);
    const loginLinks = world.stripe.stripeDouble.requests({ method: "POST" })
      .filter((request) => request.path.endsWith("/login_links"));
    assertEquals(loginLinks, []);
  }, { config: PLATFORM });
});

Deno.test("standalone mode says the dashboard is for platform deployments, in Japanese", async () => {
  await withConsoleWorld(async (world) => {
    await world.run("dashboard", { locale: "ja" });
    assertEquals((await world.wakeAdminRequests()).answered, 1);
    const [original] = world.discord.messages({ kind: "original" });
    assert(original?.content.includes("プラットフォーム型の運用"), original?.content);
  });
});
