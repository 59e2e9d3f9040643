/**
 * Platform mode, role-sync's hourly Stripe catch-up (`/role-sync/stripe-events`): the events the
 * webhook missed are replayed with the platform endpoint's own rule, so a subscription of a guild
 * A member edited to pay guild B's account renews, refunds and disputes nothing in guild A when
 * its events come back through the Events API instead of the endpoint: no ledger row, no
 * revocation, and each event recorded as ignored with where its money went. The catch-up's
 * dependencies are built from role-sync's configuration, as deployed. It also replays the transfer
 * and application fee events the endpoint missed, so each guild's side of the money is recorded.
 */
import assert from "node:assert/strict";
import {
  depsFromConfig as roleSyncDeps,
  loadConfig as loadRoleSyncConfig,
} from "../../functions/role-sync/config.ts";
import { PLATFORM_MONEY_EVENT_TYPES } from "../../functions/_core/connect.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { catchUpStripeEvents } from "../../functions/role-sync/reconciliation_stripe.ts";
import { type MemberWorld, withMemberWorld } from "./connect_member_world.ts";
import { BOT_TOKEN } from "./role_sync_fixtures.ts";

const MEMBER = "200000000000000041";

/** role-sync's Events catch-up as deployed in platform mode, run an hour from now. */
async function catchUp(world: MemberWorld) {
  const now = () => new Date(Date.now() + 3_600_000);
  const deps = roleSyncDeps(
    loadRoleSyncConfig({
      ...world.env,
      ROLE_SYNC_SECRET: "r".repeat(40),
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_APPLICATION_ID: "500000000000000001",
    }),
    { now },
    world.db.sql,
  );
  assert.ok(deps.stripeEvents, "role-sync has the Stripe key");
  return await catchUpStripeEvents(
    { ...deps.stripeEvents, logger: createLogger("role-sync") },
    now().getTime() + 60_000,
  );
}

async function ledgerCounts(world: MemberWorld) {
  const rows = await world.db.sql<{ kind: string; n: number }[]>`
    select kind, count(*)::int as n from rolepass.money_ledger group by kind order by kind`;
  return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
}

Deno.test("the catch-up ignores another account's renewal, refund and dispute", async () => {
  await withMemberWorld(async (world) => {
    const subscription = await world.subscribe(world.a, MEMBER);
    for (
      const type of ["customer.subscription.created", "invoice.paid", "invoice.payment_succeeded"]
    ) {
      await world.deliver(type);
    }
    const entitled = async () => {
      const [row] = await world.db.sql<{ entitled: boolean }[]>`
        select entitled from rolepass.memberships
        where guild_id = ${world.a.guildId} and discord_user_id = ${MEMBER}`;
      return row?.entitled;
    };
    assert.equal(await entitled(), true);
    const ledgerBefore = await ledgerCounts(world);
    const before = (await world.db.sql<{ id: string }[]>`select id from rolepass.stripe_events`)
      .map((row) => row.id);

    // Edited in the Dashboard to pay guild B's account, renewed, refunded and disputed: none of
    // these events reached the endpoint.
    world.stripeDouble.connect.redirectSubscription(subscription.id, world.b.accountId);
    world.stripeDouble.advanceToPeriodEnd(subscription.id);
    world.stripeDouble.refundLatestCharge(subscription.id, { full: true });
    world.stripeDouble.openDispute(subscription.id);

    const result = await catchUp(world);
    assert.equal(result.status, "completed", JSON.stringify(result));
    assert.ok(result.replayed >= 6, `the missed events were replayed: ${JSON.stringify(result)}`);

    const replayed = await world.db.sql<{ type: string; status: string; why: string | null }[]>`
      select type, status, ignored_reason as why from rolepass.stripe_events
      where not id = any(${before}) order by type`;
    const types = new Set(replayed.map((row) => row.type));
    for (
      const type of ["invoice.paid", "charge.refunded", "refund.created", "charge.dispute.created"]
    ) {
      assert.ok(types.has(type), `${type} was replayed: ${[...types].join(", ")}`);
    }
    const communitySide = new Set<string>(PLATFORM_MONEY_EVENT_TYPES);
    for (const row of replayed.filter((row) => !communitySide.has(row.type))) {
      assert.equal(row.status, "ignored", `${row.type}: ${JSON.stringify(row)}`);
      assert.match(row.why ?? "", new RegExp(`goes to ${world.b.accountId}`), row.type);
    }
    assert.equal(await entitled(), true, "guild A's member keeps what they paid guild A for");
    assert.deepEqual(await ledgerCounts(world), ledgerBefore, "no ledger row for B's money");
    const revocations = await world.db.sql`select 1 from rolepass.stripe_subscription_revocations`;
    assert.equal(revocations.length, 0, "guild B's refund and dispute revoke nothing in A");
    // The transfers and fees are recorded for the account the money went to: guild A keeps only
    // its first payment's, the renewal's are guild B's.
    const movements = await world.db.sql<{ guild_id: string; account: string; amount: string }[]>`
      select guild_id, stripe_account_id as account, amount::text
      from rolepass.connect_money_movements where kind in ('transfer', 'application_fee')`;
    for (const row of movements) {
      assert.equal(
        row.account,
        row.guild_id === world.a.guildId ? world.a.accountId : world.b.accountId,
      );
    }
    assert.deepEqual(
      movements.filter((row) => row.guild_id === world.a.guildId).map((row) => Number(row.amount))
        .sort((x, y) => x - y),
      [100, 1000],
    );
    const inB = await world.db.sql`
      select 1 from rolepass.memberships where guild_id = ${world.b.guildId}`;
    assert.equal(inB.length, 0, "no membership is written in guild B either");
  });
});

Deno.test("the catch-up records each guild's transfers and fees the endpoint missed", async () => {
  await withMemberWorld(async (world) => {
    await world.subscribe(world.a, MEMBER);
    await world.subscribe(world.b, "200000000000000042");
    const movements = async () =>
      (await world.db.sql<{ guild_id: string; account: string; kind: string; amount: string }[]>`
        select guild_id, stripe_account_id as account, kind, amount::text
        from rolepass.connect_money_movements order by guild_id, kind`)
        .map((row) => [row.guild_id, row.account, row.kind, Number(row.amount)]);
    assert.deepEqual(await movements(), [], "no transfer or fee event was delivered");

    const first = await catchUp(world);
    assert.equal(first.status, "completed", JSON.stringify(first));
    const expected = [
      [world.a.guildId, world.a.accountId, "application_fee", 100],
      [world.a.guildId, world.a.accountId, "transfer", 1000],
      [world.b.guildId, world.b.accountId, "application_fee", 100],
      [world.b.guildId, world.b.accountId, "transfer", 1000],
    ];
    assert.deepEqual(await movements(), expected);
    await world.db.sql`update rolepass.stripe_event_catchups set caught_up_to = null`;
    await catchUp(world);
    assert.deepEqual(await movements(), expected, "a second pass records nothing twice");
  });
});
