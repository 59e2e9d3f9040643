/**
 * A pass plan whose role set changes (plans:apply rewriting its `discord_role_ids`) moves its
 * holders, through the real stripe-webhook function and the Stripe double: a holder with no
 * subscription gets the new set, and a holder who also subscribes keeps the subscription's role
 * while the pass's dropped role goes and its new one comes. plan_role_set_change_test.ts proves
 * the same for subscribers.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { openPassCheckout } from "./pass_checkout.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const PASS_ROLE_ID = "450000000000000001";
const LOUNGE_ROLE_ID = "450000000000000002";
const EVENTS_ROLE_ID = "450000000000000003";

async function addPassPlan(
  world: WebhookWorld,
  roleIds: string[],
): Promise<{ id: string; priceId: string }> {
  const price = world.stripeDouble.createPrice({
    unitAmount: 3000,
    currency: "jpy",
    recurring: false,
    productName: "Lifetime pass",
  });
  const [plan] = await world.db.sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
      display, unit_amount, currency, billing_interval, access_kind)
    values (${world.guildId}, ${price.id}, ${roleIds[0] ?? null}, ${roleIds}::text[],
      ${world.db.sql.json({ en: { name: "Lifetime pass" } })}, 3000, 'jpy', null, 'lifetime')
    returning id`;
  assert(plan, "plan is missing");
  return { id: plan.id, priceId: price.id };
}

async function rolesOf(world: WebhookWorld, membershipId: string): Promise<string[]> {
  const [row] = await world.db.sql<{ roles: string[] }[]>`
    select entitled_role_ids::text[] as roles from rolepass.memberships where id = ${membershipId}`;
  assert(row, "membership is missing");
  return [...row.roles].sort();
}

Deno.test("a pass plan's new role set reaches its holders beside a subscription", async () => {
  const world = await startWebhookWorld();
  try {
    const pass = await addPassPlan(world, [PASS_ROLE_ID, LOUNGE_ROLE_ID]);
    const holder = await world.newMember();
    const subscriber = await world.newMember();
    world.stripeDouble.completeCheckout(subscriber.sessionId);
    await postAll(world, world.takeEvents());
    for (const buyer of [holder, subscriber]) {
      const opened = await openPassCheckout(world, pass.priceId, buyer);
      world.stripeDouble.completePayment(opened.id);
      await postAll(world, world.takeEvents());
    }
    const subscriptionRole = world.plan.roleId;
    assertEquals(await rolesOf(world, holder.membershipId), [PASS_ROLE_ID, LOUNGE_ROLE_ID]);
    assertEquals(
      await rolesOf(world, subscriber.membershipId),
      [subscriptionRole, PASS_ROLE_ID, LOUNGE_ROLE_ID].sort(),
    );

    await world.db.sql`
      update rolepass.plans set discord_role_ids = ${[PASS_ROLE_ID, EVENTS_ROLE_ID]}::text[]
      where id = ${pass.id}`;

    assertEquals(await rolesOf(world, holder.membershipId), [PASS_ROLE_ID, EVENTS_ROLE_ID]);
    assertEquals(
      await rolesOf(world, subscriber.membershipId),
      [subscriptionRole, PASS_ROLE_ID, EVENTS_ROLE_ID].sort(),
    );
    const [job] = await world.db.sql<{ role_ids: string[]; previous_role_ids: string[] }[]>`
      select role_ids::text[] as role_ids, previous_role_ids::text[] as previous_role_ids
      from rolepass.role_jobs where membership_id = ${holder.membershipId}
      order by id desc limit 1`;
    assertEquals([...job!.previous_role_ids].sort(), [PASS_ROLE_ID, LOUNGE_ROLE_ID]);
    assertEquals([...job!.role_ids].sort(), [PASS_ROLE_ID, EVENTS_ROLE_ID]);
  } finally {
    await world.close();
  }
});
