/**
 * Platform mode, `/rolepass onboarding` through the signed interactions endpoint and role-sync:
 * each server's operator gets a link to onboard that server's own Express account, coming back to
 * that server's return page. Onboarding a second server creates its own account and leaves the
 * first server's account and return token as they were.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withConsoleWorld } from "./admin_console_fixtures.ts";

const PLATFORM = { stripeMode: "platform", publicSiteUrl: "https://plans.rolepass.test" } as const;
const OTHER_GUILD = "100000000000000099";

Deno.test("each server's /rolepass onboarding opens only its own Stripe account", async () => {
  await withConsoleWorld(async (world) => {
    const sql = world.stripe.db.sql;
    await sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD}, 'Other server')`;
    const accounts = async () => {
      const rows = await sql<{ guild_id: string; account: string; token: string | null }[]>`
        select guild_id, stripe_account_id as account,
          encode(return_token_hash, 'hex') as token
        from rolepass.guild_stripe_accounts order by guild_id`;
      return Object.fromEntries(rows.map((row) => [row.guild_id, { ...row }]));
    };

    await world.run("onboarding");
    assertEquals((await world.wakeAdminRequests()).answered, 1);
    const first = (await accounts())[world.guildId];
    assert(first, "the server's account was created");

    await world.run("onboarding", { guildId: OTHER_GUILD });
    assertEquals((await world.wakeAdminRequests()).answered, 1);
    const after = await accounts();
    const other = after[OTHER_GUILD];
    assert(other, "the other server's account was created");
    assert(other.account !== first.account, "each server has an account of its own");
    assertEquals(after[world.guildId], first, "the first server's account and token are kept");

    const links = world.stripe.stripeDouble.requests({ method: "POST", path: "/v1/account_links" })
      .map((request) => ({
        account: request.params.account,
        returnsTo: new URL(String(request.params.return_url)).pathname.split("/")[3],
      }));
    assertEquals(links, [
      { account: first.account, returnsTo: world.guildId },
      { account: other.account, returnsTo: OTHER_GUILD },
    ]);
    const originals = world.discord.messages({ kind: "original" });
    assertEquals(originals.length, 2);
  }, { config: PLATFORM });
});
