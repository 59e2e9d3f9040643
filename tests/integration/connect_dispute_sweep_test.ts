/**
 * A lost dispute whose charge.dispute.closed never reaches rolepass is still taken back from the
 * guild's transfer: role-sync's hourly Stripe catch-up sweeps the disputes left open in the ledger
 * a day after they were opened, re-reads them from Stripe, and recovers a lost one once, however
 * often it runs.
 */
import assert from "node:assert/strict";
import { createLogger } from "../../functions/_shared/log.ts";
import {
  type CatchUpResult,
  catchUpStripeEvents,
  STRIPE_CATCHUP_DEFAULTS,
  type StripeCatchUpDeps,
} from "../../functions/role-sync/reconciliation_stripe.ts";
import type { ConnectWorld } from "./connect_world.ts";
import { withMemberWorld } from "./connect_member_world.ts";

const MEMBER_A = "200000000000000031";
const MEMBER_B = "200000000000000032";
const DAY = 86_400_000;

/** The hourly catch-up in platform mode, run `daysLater` days from now. */
function catchUp(world: ConnectWorld, daysLater: number): Promise<CatchUpResult> {
  const now = () => new Date(Date.now() + daysLater * DAY);
  const deps: StripeCatchUpDeps = {
    ...STRIPE_CATCHUP_DEFAULTS,
    sql: world.db.sql,
    stripe: world.gateway,
    now,
    logger: createLogger("role-sync"),
    livemode: false,
    stripeMode: "platform",
  };
  return catchUpStripeEvents(deps, now().getTime() + 60_000);
}

function amountReversedFrom(world: ConnectWorld, accountId: string): number {
  return [...world.stripeDouble.connect.transfers.values()]
    .filter((transfer) => transfer.destination === accountId)
    .reduce((sum, transfer) => sum + transfer.amount_reversed, 0);
}

function reversalRequests(world: ConnectWorld) {
  return world.stripeDouble.requests({ method: "POST" })
    .filter((request) => /^\/v1\/transfers\/[^/]+\/reversals$/.test(request.path));
}

Deno.test("a lost dispute whose closing event never comes is swept back once", async () => {
  await withMemberWorld(async (world) => {
    const inA = await world.subscribe(world.a, MEMBER_A);
    await world.subscribe(world.b, MEMBER_B);
    const dispute = world.stripeDouble.openDispute(inA.id);
    await world.deliver("charge.dispute.created");
    world.stripeDouble.closeDispute(dispute.id, "lost");
    // The Events API no longer lists the closing event (older than its 30 days): only the sweep
    // can find the dispute, from the ledger.
    await world.db.sql`
      insert into rolepass.stripe_event_catchups (id, caught_up_to)
      values (true, ${new Date(Date.now() + 2 * DAY)})`;

    await catchUp(world, 0);
    assert.equal(reversalRequests(world).length, 0, "a dispute opened today is left to its event");

    await catchUp(world, 2);
    await catchUp(world, 2);
    assert.equal(reversalRequests(world).length, 1, "one reversal, however many sweeps");
    assert.equal(amountReversedFrom(world, world.a.accountId), 1000);
    assert.equal(amountReversedFrom(world, world.b.accountId), 0, "guild B untouched");

    const recoveries = await world.db.sql<{ guild_id: string; amount: string }[]>`
      select guild_id, amount::text from rolepass.connect_money_movements
      where stripe_dispute_id = ${dispute.id}`;
    assert.deepEqual(recoveries.map((r) => [r.guild_id, Number(r.amount)]), [
      [world.a.guildId, 1000],
    ]);
    const ledger = await world.db.sql<{ dispute_status: string }[]>`
      select dispute_status from rolepass.money_ledger where stripe_object_id = ${dispute.id}`;
    assert.deepEqual(ledger.map((r) => r.dispute_status), ["lost"]);
  });
});

Deno.test("a closing event replayed without recovery is swept back", async () => {
  await withMemberWorld(async (world) => {
    const inA = await world.subscribe(world.a, MEMBER_A);
    const dispute = world.stripeDouble.openDispute(inA.id);
    await world.deliver("charge.dispute.created");
    world.stripeDouble.closeDispute(dispute.id, "lost");

    // The catch-up lists charge.dispute.closed and records the loss; the sweep then recovers it.
    await catchUp(world, 2);
    await catchUp(world, 2);
    assert.equal(reversalRequests(world).length, 1);
    assert.equal(amountReversedFrom(world, world.a.accountId), 1000);
  });
});

Deno.test("the sweep settles won and kept disputes and stops reading them", async () => {
  await withMemberWorld(async (world) => {
    await world.db.sql`
      update rolepass.guild_stripe_accounts set lost_dispute_recovery = 'none'
      where guild_id = ${world.b.guildId}`;
    const won = world.stripeDouble.openDispute((await world.subscribe(world.a, MEMBER_A)).id);
    const kept = world.stripeDouble.openDispute((await world.subscribe(world.b, MEMBER_B)).id);
    await world.deliver("charge.dispute.created");
    world.stripeDouble.closeDispute(won.id, "won");
    world.stripeDouble.closeDispute(kept.id, "lost");
    await world.db.sql`
      insert into rolepass.stripe_event_catchups (id, caught_up_to)
      values (true, ${new Date(Date.now() + 2 * DAY)})`;

    const first = await catchUp(world, 2);
    const again = await catchUp(world, 2);
    assert.equal(first.disputes?.checked, 2);
    assert.equal(again.disputes?.checked, 0, "settled in the ledger: not read again");
    assert.equal(reversalRequests(world).length, 0);
    const ledger = await world.db.sql<
      { id: string; kind: string; dispute_status: string | null }[]
    >`
      select stripe_object_id as id, kind, dispute_status from rolepass.money_ledger
      where kind in ('dispute', 'dispute_won') order by stripe_object_id, kind`;
    assert.deepEqual(
      ledger.map((r) => [r.id, r.kind, r.dispute_status]).sort(),
      [[won.id, "dispute", "won"], [won.id, "dispute_won", null], [kept.id, "dispute", "lost"]]
        .sort(),
    );
  });
});
