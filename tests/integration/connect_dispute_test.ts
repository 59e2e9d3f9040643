/**
 * A lost dispute on a guild's destination charge in platform mode: Stripe debits the platform, and
 * as the guild's policy says the platform takes the disputed amount (and Stripe's dispute fee, as
 * far as the transfer reaches) back from that guild's transfer, once however often
 * charge.dispute.closed is delivered; a won dispute takes nothing back; the reversal is in
 * connect_money_movements, linked to the dispute, and the guild's operators are told.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { setGuildSellerPolicy } from "../../functions/_shared/guild_stripe_accounts.ts";
import type { ConnectWorld } from "./connect_world.ts";
import { withMemberWorld } from "./connect_member_world.ts";

const MEMBER_A = "200000000000000011";
const MEMBER_B = "200000000000000012";

function transferTo(world: ConnectWorld, accountId: string): Stripe.Transfer {
  const transfer = [...world.stripeDouble.connect.transfers.values()]
    .find((t) => t.destination === accountId);
  assert.ok(transfer, `a transfer to ${accountId}`);
  return transfer;
}

function feeOf(world: ConnectWorld, accountId: string): Stripe.ApplicationFee | undefined {
  return [...world.stripeDouble.connect.applicationFees.values()]
    .find((f) => f.account === accountId);
}

function reversalRequests(world: ConnectWorld) {
  return world.stripeDouble.requests({ method: "POST" })
    .filter((request) => /^\/v1\/transfers\/[^/]+\/reversals$/.test(request.path));
}

Deno.test("a lost dispute takes the amount back from the guild's own transfer, once", async () => {
  await withMemberWorld(async (world) => {
    const inA = await world.subscribe(world.a, MEMBER_A);
    await world.subscribe(world.b, MEMBER_B);
    const dispute = world.stripeDouble.openDispute(inA.id);
    await world.deliver("charge.dispute.created");
    assert.equal(transferTo(world, world.a.accountId).amount_reversed, 0, "open: nothing yet");

    world.stripeDouble.closeDispute(dispute.id, "lost");
    const [closed] = await world.deliver("charge.dispute.closed");
    assert.equal(closed?.recovery, "recovered");
    assert.equal(closed?.guildId, world.a.guildId);

    // ¥1,000 charge: the disputed ¥1,000 is all the transfer holds; the ¥1,500 fee stays unpaid.
    const transfer = transferTo(world, world.a.accountId);
    assert.equal(transfer.amount_reversed, 1000);
    assert.equal(transfer.reversals.data[0]?.metadata?.rolepass_dispute_id, dispute.id);
    assert.equal(feeOf(world, world.a.accountId)?.amount_refunded, 100, "refund policy: fee back");
    assert.equal(transferTo(world, world.b.accountId).amount_reversed, 0, "guild B untouched");
    assert.equal(feeOf(world, world.b.accountId)?.amount_refunded, 0);

    const [event] = world.stripeDouble.events({ type: "charge.dispute.closed" });
    assert.ok(event);
    for (let replay = 0; replay < 3; replay++) {
      const again = await (await world.post("/stripe-webhook", event)).json();
      assert.equal(again.recovery, "already_recovered");
    }
    assert.equal(reversalRequests(world).length, 1, "one reversal, however many deliveries");
    assert.equal(transferTo(world, world.a.accountId).amount_reversed, 1000);

    // The transfer.reversed event records the same reversal once, still linked to the dispute.
    await world.deliver("transfer.reversed");
    const rows = await world.db.sql<
      { guild_id: string; kind: string; amount: string; stripe_dispute_id: string | null }[]
    >`
      select guild_id, kind, amount::text, stripe_dispute_id from rolepass.connect_money_movements
      where kind = 'transfer_reversal'`;
    assert.deepEqual(
      rows.map((r) => [r.guild_id, Number(r.amount), r.stripe_dispute_id]),
      [[world.a.guildId, 1000, dispute.id]],
    );
    const ledger = await world.db.sql<{ kind: string; dispute_status: string | null }[]>`
      select kind, dispute_status from rolepass.money_ledger where stripe_object_id = ${dispute.id}`;
    assert.deepEqual(ledger.map((r) => [r.kind, r.dispute_status]), [["dispute", "lost"]]);

    const notices = await world.db.sql<{ guild_id: string; payload: Record<string, unknown> }[]>`
      select guild_id, payload from rolepass.notices where kind = 'dispute_recovered'`;
    assert.equal(notices.length, 1);
    assert.equal(notices[0]?.guild_id, world.a.guildId);
    assert.deepEqual(notices[0]?.payload, {
      memberId: MEMBER_A,
      amountMinor: 1000,
      currency: "jpy",
    });
  });
});

Deno.test("a won dispute takes nothing back from the guild", async () => {
  await withMemberWorld(async (world) => {
    const inA = await world.subscribe(world.a, MEMBER_A);
    const dispute = world.stripeDouble.openDispute(inA.id);
    world.stripeDouble.closeDispute(dispute.id, "won");
    const [closed] = await world.deliver("charge.dispute.closed");
    assert.equal(closed?.recovery, "none");
    assert.equal(transferTo(world, world.a.accountId).amount_reversed, 0);
    assert.equal(reversalRequests(world).length, 0);
    const notices = await world.db.sql`
      select 1 from rolepass.notices where kind = 'dispute_recovered'`;
    assert.equal(notices.length, 0);
  });
});

Deno.test("the guild's policy decides: the fee as far as the transfer reaches, or nothing", async () => {
  await withMemberWorld(async (world) => {
    await setGuildSellerPolicy(world.db.sql, world.a.guildId, {
      lostDisputeRecovery: "amount_and_fee",
      refundApplicationFee: false,
    });
    await setGuildSellerPolicy(world.db.sql, world.b.guildId, { lostDisputeRecovery: "none" });
    const inA = await world.subscribe(world.a, MEMBER_A);
    const inB = await world.subscribe(world.b, MEMBER_B);
    // A partial refund first: ¥400 back, so the dispute is for the ¥600 left.
    world.stripeDouble.refundLatestCharge(inA.id, { amount: 400 });
    const reversedByRefund = transferTo(world, world.a.accountId).amount_reversed;
    const disputeA = world.stripeDouble.openDispute(inA.id);
    const disputeB = world.stripeDouble.openDispute(inB.id);
    world.stripeDouble.closeDispute(disputeA.id, "lost");
    world.stripeDouble.closeDispute(disputeB.id, "lost");
    const answers = await world.deliver("charge.dispute.closed");
    assert.deepEqual(answers.map((a) => a.recovery), ["recovered", "none"]);

    // The refund made with the double reversed nothing; ¥600 + ¥1,500 wanted, ¥1,000 left.
    assert.equal(reversedByRefund, 0);
    assert.equal(transferTo(world, world.a.accountId).amount_reversed, 1000);
    assert.equal(feeOf(world, world.a.accountId)?.amount_refunded, 0, "policy keeps the fee");
    assert.equal(transferTo(world, world.b.accountId).amount_reversed, 0, "policy: none");
    assert.equal(reversalRequests(world).length, 1);
  });
});
