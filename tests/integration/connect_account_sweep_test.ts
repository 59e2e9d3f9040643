/**
 * Platform mode: a connected account whose account.updated never reached the Connect endpoint is
 * still recorded as Stripe has it. role-sync's hourly Stripe catch-up (`/role-sync/stripe-events`,
 * built from role-sync's configuration as deployed) re-reads the guilds' accounts whose recorded
 * state is over an hour old and that cannot take charges, have requirements due, or were not read
 * for a day, and records them as the endpoint does: a guild Stripe enabled then sells, one Stripe
 * stopped does not. Recently read accounts, accounts no guild owns and, when one account's read
 * fails, the other guilds' accounts are left as they should be.
 */
import assert from "node:assert/strict";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import { createApp as createRoleSyncApp } from "../../functions/role-sync/app.ts";
import {
  depsFromConfig as roleSyncDeps,
  loadConfig as loadRoleSyncConfig,
} from "../../functions/role-sync/config.ts";
import type { CatchUpResult } from "../../functions/role-sync/reconciliation_stripe.ts";
import {
  DEFAULT_ACCOUNT_SWEEP_LIMIT,
  sweepConnectedAccounts,
} from "../../functions/role-sync/account_sweep.ts";
import { ConfigError } from "../../functions/_shared/env.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { type ConnectWorld, createConnectWorld, type WorldGuild } from "./connect_world.ts";
import { BOT_TOKEN } from "./role_sync_fixtures.ts";

const ROLE_SYNC_SECRET = "r".repeat(40);
const MEMBER = "200000000000000051";

interface SweepWorld extends ConnectWorld {
  /** pg_cron's hourly wake: POSTs `/role-sync/stripe-events` and returns the pass's result. */
  hourlyCatchUp(): Promise<CatchUpResult>;
  /** Whether the guild's plan page shows its plans and opens a Checkout (status codes). */
  sells(guild: WorldGuild): Promise<{ planView: number; checkout: number }>;
  /** Makes the guild's recorded account state `hours` older, as if read that long ago. */
  age(guild: WorldGuild, hours: number): Promise<void>;
  /** GET /v1/accounts/:id requests the double received for the account. */
  reads(accountId: string): number;
  /** The guild's row, every column. */
  row(guild: WorldGuild): Promise<Record<string, unknown>>;
}

/** role-sync's environment as deployed, less the Stripe and database variables the world sets. */
const ROLE_SYNC_ENV = {
  ROLE_SYNC_SECRET,
  DISCORD_BOT_TOKEN: BOT_TOKEN,
  DISCORD_APPLICATION_ID: "500000000000000001",
};

async function withSweepWorld(
  fn: (world: SweepWorld) => Promise<void>,
  roleSyncEnv: Record<string, string> = {},
) {
  const world = await createConnectWorld();
  const checkoutConfig = loadCheckoutConfig({
    ...world.env,
    PUBLIC_SITE_URL: "https://plans.rolepass.test",
  });
  const checkoutDepsBuilt = checkoutDeps(checkoutConfig);
  const checkout = createCheckoutApp(checkoutDepsBuilt);
  const roleSync = createRoleSyncApp(roleSyncDeps(
    loadRoleSyncConfig({ ...world.env, ...ROLE_SYNC_ENV, ...roleSyncEnv }),
    { runInBackground: undefined, inlineBudgetMs: 60_000 },
    world.db.sql,
  ));
  const ask = async (path: string, body: unknown) => {
    const response = await checkout.request(`/checkout/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await response.body?.cancel();
    return response.status;
  };
  try {
    await fn({
      ...world,
      async hourlyCatchUp() {
        const response = await roleSync.request("/role-sync/stripe-events", {
          method: "POST",
          headers: { "content-type": "application/json", "x-rolepass-secret": ROLE_SYNC_SECRET },
          body: "{}",
        });
        const body = await response.json();
        assert.equal(response.status, 200, JSON.stringify(body));
        return body;
      },
      async sells(guild) {
        const token = newLinkToken();
        await world.db.sql`
          insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id,
            locale, created_at, expires_at)
          values (${await hashLinkToken(token)}, 'join', ${guild.guildId}, ${MEMBER}, 'ja',
            now(), now() + interval '15 minutes')`;
        return {
          planView: await ask("plan-view", { token }),
          checkout: await ask("checkout-session", { token, planId: guild.planId }),
        };
      },
      async age(guild, hours) {
        await world.db.sql`
          update rolepass.guild_stripe_accounts set
            read_at = read_at - make_interval(hours => ${hours}),
            created_at = created_at - make_interval(hours => ${hours})
          where guild_id = ${guild.guildId}`;
      },
      reads(accountId) {
        return world.stripeDouble.requests({ method: "GET", path: `/v1/accounts/${accountId}` })
          .length;
      },
      async row(guild) {
        const [row] = await world.db.sql`
          select * from rolepass.guild_stripe_accounts where guild_id = ${guild.guildId}`;
        assert.ok(row, "the guild has its account");
        return { ...row };
      },
    });
  } finally {
    await checkoutDepsBuilt.sql.end({ timeout: 5 });
    await world.close();
  }
}

/** The community finishes onboarding and account.updated reaches the Connect endpoint. */
async function onboard(world: SweepWorld, guild: WorldGuild): Promise<void> {
  world.stripeDouble.connect.completeOnboarding(guild.accountId);
  const event = world.stripeDouble.connect.events()
    .filter((e) => e.account === guild.accountId).at(-1);
  assert.ok(event, "account.updated was emitted");
  const response = await world.post("/stripe-webhook/connect", event);
  assert.equal((await response.json()).status, "applied");
}

Deno.test("an enabled account whose account.updated was lost sells after the sweep", async () => {
  await withSweepWorld(async (world) => {
    await onboard(world, world.b);
    // A finishes onboarding; its account.updated never reaches the endpoint.
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    const stranger = await world.gateway.createExpressAccount({
      country: "JP",
      email: null,
      metadata: {},
      idempotencyKey: "connect-onboard-no-guild",
    });
    world.stripeDouble.connect.completeOnboarding(stranger.accountId);
    assert.deepEqual(await world.sells(world.a), { planView: 409, checkout: 409 });

    const tooSoon = await world.hourlyCatchUp();
    assert.deepEqual(tooSoon.accounts, { checked: 0, changed: 0, failed: [] });
    assert.equal(world.reads(world.a.accountId), 0, "a state recorded within the hour waits");

    await world.age(world.a, 2);
    await world.age(world.b, 2);
    const bBefore = await world.row(world.b);
    const bReads = world.reads(world.b.accountId);
    const swept = await world.hourlyCatchUp();
    assert.deepEqual(swept.accounts, { checked: 1, changed: 1, failed: [] });
    assert.equal(world.reads(world.a.accountId), 1);
    const a = await world.row(world.a);
    assert.deepEqual(
      [a.details_submitted, a.charges_enabled, a.payouts_enabled, a.requirements_due],
      [true, true, true, []],
    );
    assert.deepEqual(await world.sells(world.a), { planView: 200, checkout: 200 });

    assert.equal(world.reads(world.b.accountId), bReads, "B sells and was read today: not read");
    assert.deepEqual(await world.row(world.b), bBefore, "B's record is untouched");
    assert.equal(world.reads(stranger.accountId), 0, "an account no guild owns is never read");
  });
});

Deno.test("an account Stripe stopped is recorded as unable to sell, read daily", async () => {
  await withSweepWorld(async (world) => {
    await onboard(world, world.a);
    assert.deepEqual(await world.sells(world.a), { planView: 200, checkout: 200 });
    const readsBefore = world.reads(world.a.accountId);
    // Stripe stops charges for a missing document; account.updated is lost.
    world.stripeDouble.connect.requireInformation(world.a.accountId, ["individual.verification"]);

    await world.age(world.a, 2);
    const recent = await world.hourlyCatchUp();
    assert.equal(recent.accounts?.checked, 0);
    assert.equal(world.reads(world.a.accountId), readsBefore, "sells and read today: not read");

    await world.age(world.a, 23);
    const daily = await world.hourlyCatchUp();
    assert.deepEqual(daily.accounts, { checked: 1, changed: 1, failed: [] });
    const a = await world.row(world.a);
    assert.deepEqual(
      [a.charges_enabled, a.payouts_enabled, a.requirements_due, a.disabled_reason],
      [false, false, ["individual.verification"], "requirements.past_due"],
    );
    assert.deepEqual(await world.sells(world.a), { planView: 409, checkout: 409 });

    const again = await world.hourlyCatchUp();
    assert.equal(again.accounts?.checked, 0, "just read: not read again within the hour");
    assert.equal(world.reads(world.a.accountId), readsBefore + 1);
  });
});

Deno.test("one account's Stripe error leaves its record and the sweep goes on", async () => {
  await withSweepWorld(async (world) => {
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    world.stripeDouble.connect.completeOnboarding(world.b.accountId);
    // A's record is the oldest, so it is read first.
    await world.age(world.a, 3);
    await world.age(world.b, 2);
    const aBefore = await world.row(world.a);
    world.stripeDouble.inject({
      method: "GET",
      path: `/v1/accounts/${world.a.accountId}`,
      status: 500,
    });

    const swept = await world.hourlyCatchUp();
    assert.equal(swept.accounts?.checked, 1);
    assert.deepEqual(swept.accounts?.failed.map((f) => f.accountId), [world.a.accountId]);
    assert.ok(world.reads(world.a.accountId) >= 1, "A was asked for");
    assert.deepEqual(await world.row(world.a), aBefore, "A's record is as it was");
    assert.equal((await world.row(world.b)).charges_enabled, true);
    assert.deepEqual(await world.sells(world.b), { planView: 200, checkout: 200 });
    assert.deepEqual(await world.sells(world.a), { planView: 409, checkout: 409 });

    world.stripeDouble.clearFaults();
    const next = await world.hourlyCatchUp();
    assert.deepEqual(next.accounts, { checked: 1, changed: 1, failed: [] }, "A is retried");
    assert.deepEqual(await world.sells(world.a), { planView: 200, checkout: 200 });
  });
});

Deno.test("a pass reads at most ACCOUNT_SWEEP_LIMIT accounts, oldest record first", async () => {
  await withSweepWorld(async (world) => {
    await world.age(world.a, 2);
    await world.age(world.b, 3);

    const first = await world.hourlyCatchUp();
    assert.equal(first.accounts?.checked, 1);
    assert.deepEqual([world.reads(world.a.accountId), world.reads(world.b.accountId)], [0, 1]);
    const second = await world.hourlyCatchUp();
    assert.equal(second.accounts?.checked, 1);
    assert.deepEqual([world.reads(world.a.accountId), world.reads(world.b.accountId)], [1, 1]);
    assert.equal((await world.hourlyCatchUp()).accounts?.checked, 0, "both just read");
  }, { ACCOUNT_SWEEP_LIMIT: "1" });
});

Deno.test("without ACCOUNT_SWEEP_LIMIT a pass reads up to 200 accounts", async () => {
  await withSweepWorld(async (world) => {
    await world.age(world.a, 2);
    await world.age(world.b, 3);
    const deps = {
      sql: world.db.sql,
      stripe: world.gateway,
      now: () => new Date(),
      logger: createLogger("role-sync"),
    };
    assert.equal(DEFAULT_ACCOUNT_SWEEP_LIMIT, 200);
    assert.equal(loadRoleSyncConfig({ ...world.env, ...ROLE_SYNC_ENV }).accountSweepLimit, 200);
    assert.equal((await sweepConnectedAccounts(deps, Date.now() + 60_000)).checked, 2);
  });
});

Deno.test("an ACCOUNT_SWEEP_LIMIT below 1 or not whole stops role-sync at boot", () => {
  const env = { ...ROLE_SYNC_ENV, SUPABASE_DB_URL: "postgresql://postgres@127.0.0.1:5432/x" };
  assert.equal(loadRoleSyncConfig({ ...env, ACCOUNT_SWEEP_LIMIT: "25" }).accountSweepLimit, 25);
  for (const value of ["0", "-5", "2.5", "ten"]) {
    assert.throws(
      () => loadRoleSyncConfig({ ...env, ACCOUNT_SWEEP_LIMIT: value }),
      (error: unknown) =>
        error instanceof ConfigError && error.problems.length === 1 &&
        /^ACCOUNT_SWEEP_LIMIT is invalid \(expected a whole number of 1 or more\)/
          .test(error.problems[0] ?? ""),
      value,
    );
  }
});
