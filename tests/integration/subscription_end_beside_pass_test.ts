/**
 * A subscription's share of the roles ends at the minute's sweep when its deadline passes without
 * Stripe's event (a scheduled cancel, the end of the guild's grace), also beside a lifetime pass,
 * which keeps the membership entitled with no end: the pass's roles stay, the subscription's go.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { openPassCheckout } from "./pass_checkout.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const PASS_ROLE_ID = "440000000000000002";

async function buyLifetimePass(
  world: WebhookWorld,
  buyer: { membershipId: string; customerId: string; discordUserId: string },
): Promise<void> {
  const price = world.stripeDouble.createPrice({
    unitAmount: 9800,
    currency: "jpy",
    recurring: false,
    productName: "Lifetime pass",
  });
  await world.db.sql`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
      display, unit_amount, currency, billing_interval, access_kind, access_duration)
    values (${world.guildId}, ${price.id}, ${PASS_ROLE_ID}, ${[PASS_ROLE_ID]}::text[],
      ${world.db.sql.json({ en: { name: "Lifetime pass" }, ja: { name: "永久パス" } })}, 9800,
      'jpy', null, 'lifetime', null)`;
  const opened = await openPassCheckout(world, price.id, buyer);
  world.stripeDouble.completePayment(opened.id);
  await postAll(world, world.takeEvents());
}

async function membershipOf(world: WebhookWorld, membershipId: string) {
  const [row] = await world.db.sql<
    { entitled: boolean; entitled_role_ids: string[]; entitled_until: Date | null }[]
  >`
    select entitled, entitled_role_ids::text[] as entitled_role_ids, entitled_until
    from rolepass.memberships where id = ${membershipId}`;
  assert(row, "membership is missing");
  return row;
}

async function roleJobs(world: WebhookWorld, membershipId: string) {
  return await world.db.sql<{ role_ids: string[]; previous_role_ids: string[] }[]>`
    select role_ids::text[] as role_ids, previous_role_ids::text[] as previous_role_ids
    from rolepass.role_jobs where membership_id = ${membershipId} order by id`;
}

/** A subscriber who also holds a lifetime pass: both roles, with no end. */
async function subscriberWithLifetimePass(world: WebhookWorld) {
  const member = await world.newMember();
  world.stripeDouble.completeCheckout(member.sessionId);
  await postAll(world, world.takeEvents());
  await buyLifetimePass(world, member);
  const both = await membershipOf(world, member.membershipId);
  assertEquals(both.entitled_role_ids.toSorted(), [world.plan.roleId, PASS_ROLE_ID].toSorted());
  assertEquals(both.entitled_until, null);
  return member;
}

async function withWorld(fn: (world: WebhookWorld) => Promise<void>) {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

Deno.test("a scheduled cancel that passed without Stripe's event takes the subscription's roles and leaves a lifetime pass's", async () => {
  await withWorld(async (world) => {
    const member = await subscriberWithLifetimePass(world);
    const jobsBefore = (await roleJobs(world, member.membershipId)).length;
    // The cancel was scheduled (as Stripe stored it) and its time has come; the event is late.
    await world.db.sql`
      update rolepass.memberships set cancel_at = now() - interval '1 minute',
        cancel_at_period_end = true
      where id = ${member.membershipId}`;

    await world.db.sql`select rolepass.expire_entitlements()`;

    const after = await membershipOf(world, member.membershipId);
    assertEquals([after.entitled, after.entitled_role_ids], [true, [PASS_ROLE_ID]]);
    assertEquals(after.entitled_until, null);
    const jobs = await roleJobs(world, member.membershipId);
    assertEquals(jobs.length, jobsBefore + 1);
    assertEquals(jobs.at(-1)?.role_ids, [PASS_ROLE_ID]);

    // The next minute's sweep finds nothing more to take.
    await world.db.sql`select rolepass.expire_entitlements()`;
    assertEquals((await roleJobs(world, member.membershipId)).length, jobsBefore + 1);
  });
});

Deno.test("the end of the guild's grace takes a past-due subscription's roles beside a lifetime pass", async () => {
  await withWorld(async (world) => {
    const member = await subscriberWithLifetimePass(world);
    await world.db.sql`
      update rolepass.guilds set past_due_grace = interval '3 days' where id = ${world.guildId}`;
    await world.db.sql`
      update rolepass.memberships set status = 'past_due',
        past_due_since = now() - interval '4 days'
      where id = ${member.membershipId}`;

    await world.db.sql`select rolepass.expire_entitlements()`;

    const after = await membershipOf(world, member.membershipId);
    assertEquals([after.entitled, after.entitled_role_ids], [true, [PASS_ROLE_ID]]);
  });
});

Deno.test("a subscription still inside its grace, or cancelling later, keeps its roles beside the pass", async () => {
  await withWorld(async (world) => {
    const member = await subscriberWithLifetimePass(world);
    await world.db.sql`
      update rolepass.guilds set past_due_grace = interval '3 days' where id = ${world.guildId}`;
    await world.db.sql`
      update rolepass.memberships set status = 'past_due',
        past_due_since = now() - interval '1 day', cancel_at = now() + interval '10 days'
      where id = ${member.membershipId}`;

    await world.db.sql`select rolepass.expire_entitlements()`;

    const after = await membershipOf(world, member.membershipId);
    assertEquals(after.entitled_role_ids.toSorted(), [world.plan.roleId, PASS_ROLE_ID].toSorted());
  });
});
