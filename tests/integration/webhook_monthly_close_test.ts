/**
 * The monthly close (sql/reports/monthly_close.sql) read from the contract history the webhook
 * writes: starts, cancellations, refunds, disputes and active members at month end, per plan.
 */
import { assertEquals } from "../harness/assert.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const REPORT = new URL("../../sql/reports/monthly_close.sql", import.meta.url);

async function subscribe(world: WebhookWorld) {
  const member = await world.newMember();
  const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
  await postAll(world, world.takeEvents());
  return { ...member, subscriptionId: subscription.id };
}

Deno.test("the monthly close counts starts, cancellations, refunds, disputes and members at month end", async () => {
  const world = await startWebhookWorld();
  try {
    const refunded = await subscribe(world);
    const canceled = await subscribe(world);
    const disputed = await subscribe(world);
    await subscribe(world);
    world.stripeDouble.refundLatestCharge(refunded.subscriptionId);
    world.stripeDouble.cancelNow(canceled.subscriptionId);
    world.stripeDouble.openDispute(disputed.subscriptionId);
    await postAll(world, world.takeEvents());

    // Last month: one member who started then and is still active counts at both month ends.
    const earlier = await subscribe(world);
    await world.db.sql`
      update public.membership_history set changed_at = now() - interval '1 month'
      where membership_id = ${earlier.membershipId}`;

    const rows = await world.db.sql.unsafe(await Deno.readTextFile(REPORT));
    const figures = rows.map((row) => ({
      month: row.month,
      plan: row.plan_id,
      starts: row.starts,
      cancellations: row.cancellations,
      refunds: row.refunds,
      disputes: row.disputes,
      active: row.active_at_month_end,
    }));
    const [thisMonth] = await world.db.sql`
      select to_char(now() at time zone 'Asia/Tokyo', 'YYYY-MM') as month,
        to_char((now() - interval '1 month') at time zone 'Asia/Tokyo', 'YYYY-MM') as previous`;
    assertEquals(figures, [
      {
        month: thisMonth.previous,
        plan: world.plan.id,
        starts: 1,
        cancellations: 0,
        refunds: 0,
        disputes: 0,
        active: 1,
      },
      {
        month: thisMonth.month,
        plan: world.plan.id,
        starts: 4,
        cancellations: 1,
        refunds: 1,
        disputes: 1,
        active: 2,
      },
    ]);
  } finally {
    await world.close();
  }
});
