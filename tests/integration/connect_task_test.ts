/**
 * `deno task connect`: onboarding a guild's Express account, its standing, the Express Dashboard
 * link and the guild's fee and refund policy, against the real database and the Stripe double.
 */
import assert from "node:assert/strict";
import { CONNECT_TASK, runConnect } from "../../functions/_cli/connect.ts";
import { parseCommandLine, TaskFailure } from "../../functions/_cli/task.ts";
import { guildStripeAccount } from "../../functions/_shared/guild_stripe_accounts.ts";
import { type ConnectWorld, createConnectWorld } from "./connect_world.ts";

const NEW_GUILD = "100000000000000003";

async function withWorld(fn: (world: ConnectWorld) => Promise<void>) {
  const world = await createConnectWorld();
  try {
    await world.db.sql`insert into rolepass.guilds (id, name) values (${NEW_GUILD}, 'New guild')`;
    await fn(world);
  } finally {
    await world.close();
  }
}

async function run(world: ConnectWorld, argv: string[], extraEnv: Record<string, string> = {}) {
  const parsed = parseCommandLine(CONNECT_TASK, argv);
  if (parsed.kind !== "run") throw new Error(`command line refused: ${JSON.stringify(parsed)}`);
  const out: string[] = [];
  const error: string[] = [];
  const code = await runConnect(
    parsed.args,
    { ...world.env, PUBLIC_SITE_URL: "https://plans.rolepass.test", ...extraEnv },
    { out: (text) => out.push(text), error: (text) => error.push(text) },
  );
  return { code, out: out.join("\n"), error: error.join("\n") };
}

function linkIn(text: string): string {
  const url = text.split("\n").find((line) => line.startsWith("http"));
  if (!url) throw new Error(`no link in: ${text}`);
  return url;
}

Deno.test("onboard creates the guild's Express account once and its link comes back to the plan page", async () => {
  await withWorld(async (world) => {
    const first = await run(world, ["onboard", "--guild", NEW_GUILD, "--fee", "7.5"]);
    assert.equal(first.code, 0, first.error);
    assert.match(first.out, /Created Express account acct_/);
    const account = await guildStripeAccount(world.db.sql, NEW_GUILD);
    assert.ok(account);
    assert.equal(account.platformFeePercent, 7.5);
    assert.equal(account.facts.chargesEnabled, false);

    const again = await run(world, ["onboard", "--guild", NEW_GUILD]);
    assert.match(again.out, new RegExp(`Reusing Express account ${account.accountId}`));
    const accounts = await world.gateway.retrieveConnectedAccount(account.accountId);
    assert.equal(accounts.accountId, account.accountId);

    const submitted = await fetch(linkIn(again.out), { method: "POST", redirect: "manual" });
    await submitted.body?.cancel();
    assert.match(
      submitted.headers.get("location") ?? "",
      new RegExp(`^https://plans\\.rolepass\\.test/connect/return/${NEW_GUILD}/[A-Za-z0-9_-]{43}$`),
    );
    const status = await run(world, ["status", "--guild", NEW_GUILD]);
    assert.equal(status.code, 0);
    assert.match(status.out, /can sell/);
    assert.equal((await guildStripeAccount(world.db.sql, NEW_GUILD))?.facts.chargesEnabled, true);
  });
});

Deno.test("onboarding one guild leaves every other guild's account as it was", async () => {
  await withWorld(async (world) => {
    const beforeA = await guildStripeAccount(world.db.sql, world.a.guildId);
    const started = await run(world, ["onboard", "--guild", NEW_GUILD]);
    await (await fetch(linkIn(started.out), { method: "POST", redirect: "manual" })).body?.cancel();
    await run(world, ["status", "--guild", NEW_GUILD]);
    const account = await guildStripeAccount(world.db.sql, NEW_GUILD);
    assert.notEqual(account?.accountId, world.a.accountId);
    assert.notEqual(account?.accountId, world.b.accountId);
    assert.deepEqual(await guildStripeAccount(world.db.sql, world.a.guildId), beforeA);
    const a = await world.gateway.retrieveConnectedAccount(world.a.accountId);
    assert.equal(a.chargesEnabled, false);
  });
});

Deno.test("status says what Stripe still needs, and the dashboard link waits for onboarding", async () => {
  await withWorld(async (world) => {
    const status = await run(world, ["status", "--guild", world.a.guildId]);
    assert.equal(status.code, 1);
    assert.match(status.out, /has not finished Stripe's onboarding/);
    const early = await run(world, ["dashboard", "--guild", world.a.guildId]);
    assert.equal(early.code, 1);

    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    const dashboard = await run(world, ["dashboard", "--guild", world.a.guildId]);
    assert.equal(dashboard.code, 0, dashboard.error);
    const page = await fetch(linkIn(dashboard.out));
    assert.match(await page.text(), new RegExp(`Express Dashboard: ${world.a.accountId}`));

    world.stripeDouble.connect.requireInformation(world.a.accountId, ["external_account"]);
    const restricted = await run(world, ["status", "--guild", world.a.guildId]);
    assert.equal(restricted.code, 1);
    assert.match(restricted.out, /cannot take payments: Stripe needs external_account/);
  });
});

Deno.test("policy changes the fee and whether refunds give it back", async () => {
  await withWorld(async (world) => {
    const changed = await run(world, [
      "policy",
      "--guild",
      world.a.guildId,
      "--fee",
      "12",
      "--refund-fee",
      "keep",
    ]);
    assert.equal(changed.code, 0, changed.error);
    const a = await guildStripeAccount(world.db.sql, world.a.guildId);
    assert.equal(a?.platformFeePercent, 12);
    assert.equal(a?.refundApplicationFee, false);
    const b = await guildStripeAccount(world.db.sql, world.b.guildId);
    assert.equal(b?.platformFeePercent, 10);
    assert.equal(b?.refundApplicationFee, true);

    const bad = await run(world, ["policy", "--guild", world.a.guildId, "--fee", "101"]);
    assert.equal(bad.code, 2);
  });
});

Deno.test("policy sets what a lost dispute takes back from the guild", async () => {
  await withWorld(async (world) => {
    const before = await guildStripeAccount(world.db.sql, world.a.guildId);
    assert.equal(before?.lostDisputeRecovery, "amount_and_fee");
    const changed = await run(world, [
      "policy",
      "--guild",
      world.a.guildId,
      "--dispute-recovery",
      "none",
    ]);
    assert.equal(changed.code, 0, changed.error);
    assert.match(changed.out, /lost disputes are the platform's/);
    assert.equal(
      (await guildStripeAccount(world.db.sql, world.a.guildId))?.lostDisputeRecovery,
      "none",
    );
    assert.equal(
      (await guildStripeAccount(world.db.sql, world.b.guildId))?.lostDisputeRecovery,
      "amount_and_fee",
    );
    const bad = await run(world, [
      "policy",
      "--guild",
      world.a.guildId,
      "--dispute-recovery",
      "everything",
    ]);
    assert.equal(bad.code, 2);
  });
});

Deno.test("the task refuses standalone mode, unknown guilds and unknown subcommands", async () => {
  await withWorld(async (world) => {
    await assert.rejects(
      run(world, ["onboard", "--guild", NEW_GUILD], { ROLEPASS_STRIPE_MODE: "standalone" }),
      (error: unknown) => error instanceof TaskFailure && /standalone/.test(error.message),
    );
    await assert.rejects(
      run(world, ["onboard", "--guild", "100000000000000099"]),
      (error: unknown) => error instanceof TaskFailure && /not configured/.test(error.message),
    );
    assert.equal((await run(world, ["transfer", "--guild", NEW_GUILD])).code, 2);
    assert.equal((await run(world, ["status", "--guild", "abc"])).code, 2);
  });
});
