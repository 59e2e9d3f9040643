/**
 * `/rolepass onboarding` through the signed interactions endpoint and role-sync: in platform mode
 * the operator gets their server's Stripe Express onboarding link in the deferred ephemeral
 * answer, made by role-sync (the interactions function never loads the Stripe SDK), and the link
 * is kept nowhere: not in the request's row, not in the logs. In standalone mode the answer says
 * onboarding is for platform deployments only.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { adminRequests, withConsoleWorld } from "./admin_console_fixtures.ts";
import { capturedLogs } from "./webhook_harness.ts";

const PLATFORM = { stripeMode: "platform", publicSiteUrl: "https://plans.rolepass.test" } as const;

Deno.test("onboarding in platform mode answers with a private Account Link that is stored nowhere", async () => {
  await withConsoleWorld(async (world) => {
    const { status, reply } = await world.run("onboarding");
    assertEquals(status, 200);
    assertEquals(reply, { type: 5, data: { flags: 64 } });
    assertEquals((await adminRequests(world)).map((r) => [r.kind, r.status]), [
      ["onboarding", "pending"],
    ]);

    assertEquals((await world.wakeAdminRequests()).answered, 1);
    const [original] = world.discord.messages({ kind: "original" });
    assert(original, "role-sync edited the deferred answer");
    const url = /\/__double\/connect\/onboarding\/acctlink_\w+/.exec(original.content)?.[0];
    assert(url, original.content);
    assert(original.content.includes("**Stripe onboarding**"), original.content);

    const [account] = await world.stripe.db.sql<{ stripe_account_id: string }[]>`
      select stripe_account_id from rolepass.guild_stripe_accounts
      where guild_id = ${world.guildId}`;
    assert(account, "the guild's Express account was created and recorded");
    const links = world.stripe.stripeDouble.requests({ path: "/v1/account_links" });
    assertEquals(links.length, 1);

    const [stored] = await world.stripe.db.sql<{ text: string }[]>`
      select coalesce(result::text, '') || coalesce(last_error, '') ||
        coalesce(interaction_token, '') as text
      from rolepass.admin_requests`;
    assertEquals(stored?.text, "", "no result, error or token is kept");
    assertEquals((await adminRequests(world)).map((r) => r.status), ["answered"]);
    assertEquals(capturedLogs.filter((line) => line.includes(url)), [], "the link is never logged");
  }, { config: PLATFORM });
});

Deno.test("onboarding in standalone mode says it is for platform deployments, in the operator's language", async () => {
  await withConsoleWorld(async (world) => {
    await world.run("onboarding", { locale: "ja" });
    assertEquals((await world.wakeAdminRequests()).answered, 1);
    const [original] = world.discord.messages({ kind: "original" });
    assert(original?.content.includes("プラットフォーム型の運用"), original?.content);
    const [account] = await world.stripe.db.sql`select 1 from rolepass.guild_stripe_accounts`;
    assertEquals(account, undefined, "no Stripe account was created");
  });
});
