/**
 * `deno task admin resync` and `deno task admin health`: the same work as `/rolepass resync` and
 * `health` (role-sync's `resyncMember` and `checkGuildHealth`, the same replies), run in the
 * command line's own process with its Stripe key and bot token.
 */
import { runAdmin } from "../../functions/_cli/admin.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { type ConsoleWorld, withConsoleWorld } from "./admin_console_fixtures.ts";
import { BOT_TOKEN } from "./role_sync_fixtures.ts";

function capture() {
  const out: string[] = [];
  const error: string[] = [];
  return {
    out,
    error,
    output: { out: (text: string) => out.push(text), error: (text: string) => error.push(text) },
  };
}

function env(world: ConsoleWorld, extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: world.stripe.db.url,
    STRIPE_SECRET_KEY: "sk_test_rolepass",
    STRIPE_API_BASE_URL: world.stripe.stripeDouble.url,
    DISCORD_BOT_TOKEN: BOT_TOKEN,
    DISCORD_API_BASE_URL: world.discord.apiBaseUrl,
    ...extra,
  };
}

Deno.test("admin resync re-reads the member from Stripe and prints what changed", async () => {
  await withConsoleWorld(async (world) => {
    const member = await world.stripe.newMember();
    world.stripe.stripeDouble.completeCheckout(member.sessionId);
    world.stripe.takeEvents();
    const run = capture();
    const code = await runAdmin(
      ["resync"],
      { guild: world.guildId, member: member.discordUserId },
      env(world),
      run.output,
    );
    assertEquals(code, 0, run.error.join("\n"));
    const text = run.out.join("\n");
    assert(text.includes(`Re-read <@${member.discordUserId}> from Stripe.`), text);
    assert(text.includes(`Role: none → <@&${world.roleId}>`), text);
    assertEquals((await world.stripe.membership(member.membershipId)).entitled, true);

    const stranger = capture();
    assertEquals(
      await runAdmin(
        ["resync"],
        { guild: world.guildId, member: "310000000000000099" },
        env(world),
        stranger.output,
      ),
      0,
    );
    assert(stranger.out.join("").includes("has no record of <@310000000000000099>"));
  });
});

Deno.test("admin resync without STRIPE_SECRET_KEY is refused before anything runs", async () => {
  await withConsoleWorld(async (world) => {
    const run = capture();
    const code = await runAdmin(
      ["resync"],
      { guild: world.guildId, member: "310000000000000099" },
      { DATABASE_URL: world.stripe.db.url },
      run.output,
    );
    assertEquals(code, 2);
    assert(run.error.join("").includes("set STRIPE_SECRET_KEY"), run.error.join(""));
  });
});

Deno.test("admin health prints the problems /rolepass health would, for --guild only", async () => {
  await withConsoleWorld(async (world) => {
    world.discord.setBotRole(world.guildId, { permissions: 0 });
    const run = capture();
    assertEquals(await runAdmin(["health"], { guild: world.guildId }, env(world), run.output), 0);
    const text = run.out.join("\n");
    assert(text.startsWith("**Health**"), text);
    assert(text.includes("The bot lacks Manage Roles"), text);

    const unknown = capture();
    await runAdmin(["health"], { guild: "390000000000000001" }, env(world), unknown.output);
    assertEquals(unknown.out.join(""), "This server is not set up in rolepass yet.");
  });
});
