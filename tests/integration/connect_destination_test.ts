/**
 * Platform mode: a member's money counts in their guild only when it went to that guild's own
 * account. A subscription of a guild A member edited (in the Dashboard) to pay guild B's account,
 * or the platform alone, is refused and recorded from every entry point of the platform endpoint
 * (subscription, invoice, Checkout, charge, refund and dispute events), and changes nothing: no
 * role, no ledger row, no revocation, in either guild.
 */
import assert from "node:assert/strict";
import { foreignMoneyReason } from "../../functions/_core/connect.ts";
import { type MemberWorld, withMemberWorld } from "./connect_member_world.ts";

const MEMBER = "200000000000000021";
const LATE_MEMBER = "200000000000000022";

async function membership(world: MemberWorld, guildId: string, memberId: string) {
  const [row] = await world.db.sql<{ entitled: boolean; status: string | null }[]>`
    select entitled, status from rolepass.memberships
    where guild_id = ${guildId} and discord_user_id = ${memberId}`;
  return row;
}

async function ledgerCounts(world: MemberWorld) {
  const rows = await world.db.sql<{ kind: string; n: number }[]>`
    select kind, count(*)::int as n from rolepass.money_ledger group by kind order by kind`;
  return Object.fromEntries(rows.map((row) => [row.kind, row.n]));
}

async function eventRecord(world: MemberWorld, eventId: string) {
  const [row] = await world.db.sql<{ status: string; ignored_reason: string | null }[]>`
    select status, ignored_reason from rolepass.stripe_events where id = ${eventId}`;
  return row;
}

/** Delivers each type's new events and checks every one was refused as money of `account`. */
async function assertRefused(world: MemberWorld, types: string[], paidTo: RegExp) {
  for (const type of types) {
    const before = new Set(
      (await world.db.sql<{ id: string }[]>`select id from rolepass.stripe_events`).map((r) =>
        r.id
      ),
    );
    const answers = await world.deliver(type);
    assert.ok(answers.length > 0, `the double emitted ${type}`);
    for (const answer of answers) {
      assert.equal(answer.status, "ignored", `${type}: ${JSON.stringify(answer)}`);
      assert.match(String(answer.why), paidTo, type);
    }
    const recorded = await world.db.sql<{ id: string; type: string }[]>`
      select id, type from rolepass.stripe_events where type = ${type}`;
    for (const row of recorded.filter((r) => !before.has(r.id))) {
      const record = await eventRecord(world, row.id);
      assert.equal(record?.status, "ignored", `${type} is recorded as ignored`);
      assert.match(record?.ignored_reason ?? "", paidTo);
    }
  }
}

Deno.test("a subscription moved to another guild's account changes nothing, from every money event", async () => {
  await withMemberWorld(async (world) => {
    const subscription = await world.subscribe(world.a, MEMBER);
    for (
      const type of ["customer.subscription.created", "invoice.paid", "invoice.payment_succeeded"]
    ) {
      for (const answer of await world.deliver(type)) assert.equal(answer.status, "applied", type);
    }
    assert.equal((await membership(world, world.a.guildId, MEMBER))?.entitled, true);
    const ledgerBefore = await ledgerCounts(world);

    world.stripeDouble.connect.redirectSubscription(subscription.id, world.b.accountId);
    const toB = new RegExp(
      `goes to ${world.b.accountId}, not to guild ${world.a.guildId}'s account ${world.a.accountId}`,
    );
    await assertRefused(world, ["customer.subscription.updated"], toB);

    // The renewal is paid to guild B's account: guild A records nothing of it.
    world.stripeDouble.advanceToPeriodEnd(subscription.id);
    await assertRefused(
      world,
      ["invoice.paid", "invoice.payment_succeeded", "customer.subscription.updated"],
      toB,
    );
    // Its refund and its dispute revoke nothing in guild A.
    world.stripeDouble.refundLatestCharge(subscription.id, { full: true });
    await assertRefused(world, ["charge.refunded", "refund.created"], toB);
    world.stripeDouble.openDispute(subscription.id);
    await assertRefused(world, ["charge.dispute.created"], toB);

    assert.equal((await membership(world, world.a.guildId, MEMBER))?.entitled, true);
    assert.equal(await membership(world, world.b.guildId, MEMBER), undefined, "nothing in B");
    assert.deepEqual(await ledgerCounts(world), ledgerBefore, "no ledger row for B's money");
    const revocations = await world.db.sql`select 1 from rolepass.stripe_subscription_revocations`;
    assert.equal(revocations.length, 0);
  });
});

Deno.test("a Checkout whose subscription pays the platform alone grants nothing in platform mode", async () => {
  await withMemberWorld(async (world) => {
    const subscription = await world.subscribe(world.a, LATE_MEMBER, { deliver: false });
    world.stripeDouble.connect.redirectSubscription(subscription.id, null);
    const alone = new RegExp(
      `goes to the platform alone, not to guild ${world.a.guildId}'s account`,
    );
    await assertRefused(
      world,
      ["checkout.session.completed", "customer.subscription.created"],
      alone,
    );
    assert.notEqual((await membership(world, world.a.guildId, LATE_MEMBER))?.entitled, true);
  });
});

Deno.test("a pass paid to the guild's own account is applied, and so is its refund", async () => {
  await withMemberWorld(async (world) => {
    const price = world.stripeDouble.createPrice({
      unitAmount: 3000,
      currency: "jpy",
      recurring: false,
    });
    const [pass] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind)
      values (${world.a.guildId}, ${price.id}, ${world.a.roleId},
        ${world.db.sql.json({ en: { name: "Pass", description: "A lifetime pass" } })}, 3000,
        'jpy', null, 'lifetime')
      returning id`;
    assert.ok(pass);
    const sessionId = await world.openCheckout(world.a, MEMBER, pass.id);
    const paid = world.stripeDouble.completePayment(sessionId);
    const [completed] = await world.deliver("checkout.session.completed");
    assert.equal(completed?.status, "applied", JSON.stringify(completed));
    assert.equal((await membership(world, world.a.guildId, MEMBER))?.entitled, true);

    world.stripeDouble.refundPayment(paid.charge.id);
    const [refunded] = await world.deliver("charge.refunded");
    assert.equal(refunded?.status, "applied", JSON.stringify(refunded));
  });
});

Deno.test("money goes to the guild only when both its destination and settlement are the guild's", () => {
  const guild = "100000000000000001";
  const own = "acct_Own";
  assert.equal(
    foreignMoneyReason(guild, own, { customerId: "cus_1", destination: own, onBehalfOf: own }),
    null,
  );
  assert.equal(
    foreignMoneyReason(guild, own, { customerId: "cus_1", destination: own, onBehalfOf: null }),
    null,
  );
  assert.match(
    foreignMoneyReason(guild, own, {
      customerId: "cus_1",
      destination: own,
      onBehalfOf: "acct_Other",
    }) ?? "",
    /settled on behalf of acct_Other/,
  );
  assert.match(
    foreignMoneyReason(guild, null, { customerId: "cus_1", destination: own, onBehalfOf: own }) ??
      "",
    /has no Stripe account/,
  );
});
