/**
 * The end of a one-time pass, through the real stripe-webhook function, the Stripe double and the
 * minute's sweep: the pass's roles that no other grant holds go at once, even beside a renewing
 * subscription, and the member is told that the pass ended (not that a subscription did), once.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { openPassCheckout } from "./pass_checkout.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const PASS_ROLE_ID = "440000000000000001";

async function addPassPlan(world: WebhookWorld, roleIds: string[]): Promise<{ priceId: string }> {
  const price = world.stripeDouble.createPrice({
    unitAmount: 3000,
    currency: "jpy",
    recurring: false,
    productName: "30-day pass",
  });
  await world.db.sql`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
      display, unit_amount, currency, billing_interval, access_kind, access_duration)
    values (${world.guildId}, ${price.id}, ${roleIds[0] ?? null}, ${roleIds}::text[],
      ${world.db.sql.json({ en: { name: "30-day pass" }, ja: { name: "30日パス" } })}, 3000,
      'jpy', null, 'duration', '30 days'::interval)`;
  return { priceId: price.id };
}

async function buyPass(
  world: WebhookWorld,
  priceId: string,
  buyer: { membershipId: string; customerId: string; discordUserId: string },
): Promise<void> {
  const opened = await openPassCheckout(world, priceId, buyer);
  world.stripeDouble.completePayment(opened.id);
  await postAll(world, world.takeEvents());
}

/** Thirty-one days pass for the member's passes (only: a subscription renews on its own). */
async function passesRunOut(world: WebhookWorld, membershipId: string): Promise<void> {
  await world.db.sql`
    update rolepass.member_passes set paid_at = paid_at - interval '31 days',
      access_until = access_until - interval '31 days'
    where membership_id = ${membershipId}`;
}

async function membershipRoles(world: WebhookWorld, membershipId: string) {
  const [row] = await world.db.sql<
    { entitled: boolean; entitled_role_ids: string[]; change_cause: string }[]
  >`
    select entitled, entitled_role_ids::text[] as entitled_role_ids, change_cause
    from rolepass.memberships where id = ${membershipId}`;
  assert(row, "membership is missing");
  return row;
}

async function memberNotices(world: WebhookWorld, userId: string) {
  return await world.db.sql<{ kind: string; payload: Record<string, unknown> }[]>`
    select kind, payload from rolepass.notices
    where audience = 'member' and discord_user_id = ${userId} order by id`;
}

async function lastJob(world: WebhookWorld, membershipId: string) {
  const [job] = await world.db.sql<
    { role_ids: string[]; previous_role_ids: string[]; notice_status: string | null }[]
  >`
    select role_ids, previous_role_ids, notice_status from rolepass.role_jobs
    where membership_id = ${membershipId} order by id desc limit 1`;
  assert(job, "no role job");
  return job;
}

async function withWorld(fn: (world: WebhookWorld) => Promise<void>) {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

Deno.test("a pass that ends beside a renewing subscription loses its own roles at the sweep, and keeps the subscription's", async () => {
  await withWorld(async (world) => {
    const pass = await addPassPlan(world, [PASS_ROLE_ID]);
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    await buyPass(world, pass.priceId, member);
    const subscriptionRole = world.plan.roleId;
    assertEquals(
      (await membershipRoles(world, member.membershipId)).entitled_role_ids,
      [subscriptionRole, PASS_ROLE_ID],
    );

    await passesRunOut(world, member.membershipId);
    await world.db.sql`select rolepass.sweep_role_jobs()`;

    const after = await membershipRoles(world, member.membershipId);
    assertEquals([after.entitled, after.entitled_role_ids], [true, [subscriptionRole]]);
    const job = await lastJob(world, member.membershipId);
    assertEquals(job.previous_role_ids, [subscriptionRole, PASS_ROLE_ID]);
    assertEquals(job.role_ids, [subscriptionRole]);
    const told = (await memberNotices(world, member.discordUserId)).filter((notice) =>
      notice.kind === "pass_ended"
    );
    assertEquals(told.map((notice) => notice.payload.roleIds), [[PASS_ROLE_ID]]);

    await world.db.sql`select rolepass.sweep_role_jobs()`;
    assertEquals(
      (await memberNotices(world, member.discordUserId)).filter((n) => n.kind === "pass_ended")
        .length,
      1,
      "told once",
    );
  });
});

Deno.test("a pass that ends alone is told as a pass that ended, not as a subscription", async () => {
  await withWorld(async (world) => {
    const pass = await addPassPlan(world, [PASS_ROLE_ID]);
    const member = await world.newMember();
    await buyPass(world, pass.priceId, member);
    await passesRunOut(world, member.membershipId);
    await world.db.sql`
      update rolepass.memberships set entitled_until = now() - interval '1 day'
      where id = ${member.membershipId}`;
    await world.db.sql`select rolepass.sweep_role_jobs()`;

    const after = await membershipRoles(world, member.membershipId);
    assertEquals([after.entitled, after.change_cause], [false, "pass_ended"]);
    const job = await lastJob(world, member.membershipId);
    assertEquals(job.notice_status, "not_sent", "the role job says nothing of a subscription");
    const told = await memberNotices(world, member.discordUserId);
    assertEquals(told.map((notice) => notice.kind), ["pass_ended"]);
    const [notice] = told;
    assertEquals(notice?.payload.guildName, "Test guild");
    assertEquals((notice?.payload.plan as { ja: { name: string } }).ja.name, "30日パス");
  });
});
