/**
 * The operator is told of every refund and dispute the guild's policy answers, through the real
 * webhook and the Stripe double: a partial refund (the role stays) and a full refund or a dispute
 * under `keep` (the role stays by the guild's written policy) are each one operator log line naming
 * the member and the amount, once however often Stripe delivers the events.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { noticeMessage, parseNotice } from "../../functions/_core/notices.ts";
import { formatAmount } from "../../functions/_core/price.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const LOG_CHANNEL = "555000000000000001";

interface Subscribed {
  membershipId: string;
  discordUserId: string;
  subscriptionId: string;
}

async function withSubscriber(
  policy: { refund?: string; dispute?: string },
  fn: (world: WebhookWorld, member: Subscribed) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld();
  try {
    await world.db.sql`update rolepass.guilds set operator_log_channel_id = ${LOG_CHANNEL},
        default_locale = 'en',
        refund_policy = coalesce(${policy.refund ?? null}, refund_policy),
        dispute_policy = coalesce(${policy.dispute ?? null}, dispute_policy)
      where id = ${world.guildId}`;
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    await fn(world, { ...member, subscriptionId: subscription.id });
  } finally {
    await world.close();
  }
}

/** The operator log lines of `kind`, as the log channel would read them. */
async function operatorLines(world: WebhookWorld, kind: string): Promise<string[]> {
  const rows = await world.db.sql<
    { audience: string; kind: string; locale: string; payload: unknown }[]
  >`select audience, kind, locale::text, payload from rolepass.notices
    where audience = 'operator' and kind = ${kind} order by id`;
  return rows.map((row) => {
    const parsed = parseNotice(row);
    assert(parsed.ok, parsed.ok ? "" : parsed.reason);
    return noticeMessage(parsed.notice, { via: "channel", nonce: "n" }).content ?? "";
  });
}

/** Posts every event the double emitted, then all of them again, as Stripe's retries would. */
async function deliverTwice(world: WebhookWorld): Promise<void> {
  const events = world.takeEvents();
  await postAll(world, events);
  await postAll(world, [...events, ...world.takeEvents()]);
}

Deno.test("a partial refund keeps the role and is one operator line with its amount", async () => {
  await withSubscriber({}, async (world, member) => {
    world.stripeDouble.refundLatestCharge(member.subscriptionId, { full: false, amount: 300 });
    await deliverTwice(world);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    const lines = await operatorLines(world, "refund");
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]?.includes(`<@${member.discordUserId}>`), lines[0]);
    assert(lines[0]?.includes(formatAmount(300, "jpy", "en")), lines[0]);
  });
});

Deno.test("a full refund the keep policy answers is told to the operator once", async () => {
  await withSubscriber({ refund: "keep" }, async (world, member) => {
    const { charge } = world.stripeDouble.refundLatestCharge(member.subscriptionId);
    await deliverTwice(world);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    const lines = await operatorLines(world, "refund");
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]?.includes(formatAmount(charge.amount, "jpy", "en")), lines[0]);
  });
});

Deno.test("a dispute the keep policy answers is told to the operator once", async () => {
  await withSubscriber({ dispute: "keep" }, async (world, member) => {
    world.stripeDouble.openDispute(member.subscriptionId);
    await deliverTwice(world);
    assertEquals((await world.membership(member.membershipId)).entitled, true);
    const lines = await operatorLines(world, "dispute_opened");
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]?.includes(`<@${member.discordUserId}>`), lines[0]);
  });
});
