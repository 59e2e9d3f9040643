/**
 * The member's timeline and the operator log, through the real webhook function and the Stripe
 * double: each change that calls for a message queues exactly one notice (a replayed event
 * queues none), with the facts its message needs and nothing secret.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { noticeMessage, parseNotice } from "../../functions/_core/notices.ts";
import { type Member, postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const LOG_CHANNEL = "555000000000000001";

interface NoticeRow {
  audience: string;
  kind: string;
  locale: string;
  payload: Record<string, unknown>;
  discord_user_id: string | null;
}

async function withWorld(
  grace: string | undefined,
  fn: (world: WebhookWorld, member: Member & { subscriptionId: string }) => Promise<void>,
): Promise<void> {
  const world = await startWebhookWorld(grace ? { guild: { pastDueGrace: grace } } : {});
  try {
    await world.db.sql`update rolepass.guilds set operator_log_channel_id = ${LOG_CHANNEL}
      where id = ${world.guildId}`;
    const member = await world.newMember();
    const { subscription } = world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    await fn(world, { ...member, subscriptionId: subscription.id });
  } finally {
    await world.close();
  }
}

function notices(world: WebhookWorld): Promise<NoticeRow[]> {
  return world.db.sql<NoticeRow[]>`
    select audience, kind, locale, payload, discord_user_id from rolepass.notices order by id`;
}

function kinds(rows: NoticeRow[], audience: "member" | "operator"): string[] {
  return rows.filter((row) => row.audience === audience).map((row) => row.kind);
}

function text(row: NoticeRow): string {
  const parsed = parseNotice(row);
  assert(parsed.ok, parsed.ok ? "" : parsed.reason);
  return noticeMessage(parsed.notice, { via: "channel", nonce: "n" }).content ?? "";
}

Deno.test("a failed renewal in grace tells the member until when they keep the role and how to fix it; the recovery tells them all is well; replays tell nothing twice", async () => {
  await withWorld("7 days", async (world, member) => {
    world.stripeDouble.failRenewal(member.subscriptionId);
    const failed = world.takeEvents();
    await postAll(world, failed);
    const membership = await world.membership(member.membershipId);
    assertEquals([membership.status, membership.entitled], ["past_due", true]);
    let rows = await notices(world);
    assertEquals(kinds(rows, "member"), ["payment_failed"]);
    const failedNotice = rows.find((row) => row.kind === "payment_failed")!;
    assertEquals(
      new Date(failedNotice.payload.at as string).getTime(),
      membership.entitled_until!.getTime(),
    );
    const words = text(failedNotice);
    assert(words.includes(`<t:${Math.floor(membership.entitled_until!.getTime() / 1000)}:D>`));
    assert(words.includes("/subscribe"), words);
    assert(!/sk_|whsec_|cus_|sub_/.test(words), words);

    world.stripeDouble.recoverRenewal(member.subscriptionId);
    const recovered = world.takeEvents();
    await postAll(world, recovered);
    await postAll(world, [...failed, ...recovered]);
    rows = await notices(world);
    assertEquals(kinds(rows, "member"), ["payment_failed", "payment_recovered"]);
    assert(kinds(rows, "operator").includes("payment_failed"));
  });
});

Deno.test("the grace reminder is queued once, and only when the end is near", async () => {
  await withWorld("7 days", async (world, member) => {
    world.stripeDouble.failRenewal(member.subscriptionId);
    await postAll(world, world.takeEvents());
    const { reminded: early } = first(
      await world.db.sql<{ reminded: number }[]>`
      select rolepass.remind_grace_ending() as reminded`,
      "a row",
    );
    assertEquals(early, 0);
    // The grace period has less than a day to run.
    await world.db.sql`update rolepass.memberships
      set past_due_since = now() - interval '6 days 12 hours',
        entitled_until = now() + interval '12 hours'
      where id = ${member.membershipId}`;
    const { reminded } = first(
      await world.db.sql<{ reminded: number }[]>`
      select rolepass.remind_grace_ending() as reminded`,
      "a row",
    );
    const { again } = first(
      await world.db.sql<{ again: number }[]>`
      select rolepass.remind_grace_ending() as again`,
      "a row",
    );
    assertEquals([reminded, again], [1, 0]);
    const reminder = (await notices(world)).filter((row) => row.kind === "grace_ending");
    assertEquals(reminder.length, 1);
    assert(text(first(reminder, "a grace_ending notice")).includes("/subscribe"));
  });
});

Deno.test("a scheduled cancel tells the member the end date and how to undo it; undoing it is told too", async () => {
  await withWorld(undefined, async (world, member) => {
    const scheduled = world.stripeDouble.cancelAtPeriodEnd(member.subscriptionId);
    const events = world.takeEvents();
    await postAll(world, events);
    await postAll(world, events);
    let rows = await notices(world);
    assertEquals(kinds(rows, "member"), ["cancel_scheduled"]);
    const words = text(rows.find((row) => row.kind === "cancel_scheduled")!);
    assert(words.includes(`<t:${scheduled.cancel_at}:D>`), words);
    assert(words.includes("/subscribe"), words);
    assert(kinds(rows, "operator").includes("cancellation_scheduled"));

    world.stripeDouble.keepSubscription(member.subscriptionId);
    await postAll(world, world.takeEvents());
    rows = await notices(world);
    assertEquals(kinds(rows, "member"), ["cancel_scheduled", "cancel_undone"]);
  });
});

Deno.test("the operator log gets one line per money fact: new subscription, refund, dispute opened and closed", async () => {
  await withWorld(undefined, async (world, member) => {
    const dispute = world.stripeDouble.openDispute(member.subscriptionId);
    await postAll(world, world.takeEvents());
    world.stripeDouble.closeDispute(dispute.id, "won");
    const closed = world.takeEvents();
    await postAll(world, closed);
    await postAll(world, closed);
    const rows = await notices(world);
    const operator = kinds(rows, "operator");
    assertEquals(operator.filter((kind) => kind === "new_subscription").length, 1);
    assertEquals(operator.filter((kind) => kind === "dispute_opened").length, 1);
    assertEquals(operator.filter((kind) => kind === "dispute_closed").length, 1);
    const line = text(rows.find((row) => row.kind === "new_subscription")!);
    assert(line.includes(`<@${member.discordUserId}>`), line);
    assert(!/cus_|sub_|@[a-z]+\./.test(line), line);
  });
});

Deno.test("a full refund is one operator log line with the amount", async () => {
  await withWorld(undefined, async (world, member) => {
    world.stripeDouble.refundLatestCharge(member.subscriptionId);
    const events = world.takeEvents();
    await postAll(world, events);
    await postAll(world, events);
    const refunds = (await notices(world)).filter((row) => row.kind === "refund");
    assertEquals(refunds.length, 1);
    assert(/[0-9]/.test(text(first(refunds, "a refund notice"))));
  });
});

Deno.test("a trial ending soon (customer.subscription.trial_will_end) is told once, with the day the first charge comes", async () => {
  await withWorld(undefined, async (world, member) => {
    const trialing = world.stripeDouble.beginTrial(member.subscriptionId);
    await postAll(world, world.takeEvents());
    world.stripeDouble.trialWillEnd(member.subscriptionId);
    const events = world.takeEvents();
    await postAll(world, events);
    await postAll(world, events);
    const trial = (await notices(world)).filter((row) => row.kind === "trial_ending");
    assertEquals(trial.length, 1);
    const words = text(first(trial, "a trial_ending notice"));
    assert(words.includes(`<t:${trialing.trial_end}:D>`), words);
    assert(words.includes("/subscribe"), words);
  });
});

Deno.test("the operator log gets a renewal paid and a subscription ended, once each", async () => {
  await withWorld(undefined, async (world, member) => {
    world.stripeDouble.advanceToPeriodEnd(member.subscriptionId);
    const renewed = world.takeEvents();
    await postAll(world, renewed);
    await postAll(world, renewed);
    world.stripeDouble.cancelNow(member.subscriptionId);
    const ended = world.takeEvents();
    await postAll(world, ended);
    await postAll(world, ended);
    const operator = kinds(await notices(world), "operator");
    assertEquals(operator.filter((kind) => kind === "renewal_paid").length, 1, String(operator));
    assertEquals(
      operator.filter((kind) => kind === "subscription_ended").length,
      1,
      String(operator),
    );
  });
});
