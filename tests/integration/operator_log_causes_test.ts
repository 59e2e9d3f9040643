/**
 * Operator log lines produced by their real causes: `queue_stalled` when role jobs are due and
 * not progressing for ten minutes (pg_cron's `rolepass-queue-stalled`), `webhook_failing` when a
 * Stripe event fails three times at the webhook. Each is told once, also while Discord fails 30%
 * of calls (the notices outbox retries with a nonce).
 */
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";
import { startWebhookWorld } from "./webhook_harness.ts";

const ALICE = "120000000000000001";

function logLines(w: RoleSyncWorld): string[] {
  return w.discord.messages({ kind: "channel" }).map((message) => message.content);
}

/** A role job due for eleven minutes that nothing has picked up (role-sync was never woken). */
async function stalledJob(w: RoleSyncWorld): Promise<void> {
  const membershipId = await w.addMember(ALICE);
  await w.entitle(membershipId, "gold");
  await w.db.sql`update rolepass.role_jobs
    set next_attempt_at = now() - interval '11 minutes', created_at = now() - interval '11 minutes'`;
}

async function alertStalledQueues(w: RoleSyncWorld): Promise<number> {
  const [job] = await w.db.sql<{ schedule: string; command: string }[]>`
    select schedule, command from cron.job where jobname = 'rolepass-queue-stalled'`;
  assertEquals(job?.schedule, "*/5 * * * *");
  const [row] = await w.db.sql<{ told: number }[]>`
    select rolepass.alert_stalled_role_queues() as told`;
  return row?.told ?? 0;
}

/** Posts one Stripe event to the webhook three times while Stripe cannot be read. */
async function failWebhookThreeTimes(w: RoleSyncWorld): Promise<void> {
  const stripe = await startWebhookWorld({ db: w.db });
  try {
    const member = await stripe.newMember();
    stripe.stripeDouble.completeCheckout(member.sessionId);
    const event = stripe.takeEvents().find((e) => e.type === "checkout.session.completed");
    assert(event, "Checkout emitted its event");
    stripe.stripeDouble.inject({ path: /^\/v1\/subscriptions/, status: 500 });
    for (let attempt = 0; attempt < 4; attempt++) {
      assertEquals((await stripe.post(event)).status, 500);
    }
  } finally {
    await stripe.close();
  }
}

Deno.test("role jobs due and not progressing for ten minutes are told to the log channel once", async () => {
  await withRoleSync(async (w) => {
    await stalledJob(w);
    assertEquals(await alertStalledQueues(w), 1);
    assertEquals(await alertStalledQueues(w), 0);
    await w.settle();
    const lines = logLines(w);
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]?.startsWith("⏳"), lines[0]);
    assert(/1/.test(lines[0] ?? "") && /11/.test(lines[0] ?? ""), lines[0]);
    // A queue that moves is not stalled.
    assertEquals(await alertStalledQueues(w), 0);
  }, { operatorLogChannel: true });
});

Deno.test("a Stripe event failing three times at the webhook is told to the log channel once", async () => {
  await withRoleSync(async (w) => {
    await failWebhookThreeTimes(w);
    await w.settle();
    const lines = logLines(w);
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]?.startsWith("⚠️"), lines[0]);
    assert(lines[0]?.includes("checkout.session.completed evt_"), lines[0]);
  }, { operatorLogChannel: true });
});

Deno.test("with 30% of Discord calls failing, queue_stalled and webhook_failing are each posted exactly once", async () => {
  await withRoleSync(async (w) => {
    await stalledJob(w);
    await failWebhookThreeTimes(w);
    await alertStalledQueues(w);
    w.discord.randomFaults({ rate: 0.3, seed: 20261203, timeoutMs: 300 });
    for (let round = 0; round < 15; round++) {
      await drainRoleJobs(w.deps, Date.now() + 2_000);
      await alertStalledQueues(w);
    }
    assert(w.discord.stats().faultsInjected > 0, "faults were injected");
    w.discord.clearFaults();
    await w.db.sql`update rolepass.notices set next_attempt_at = now()
      where status in ('pending', 'running') and lease_expires_at is null`;
    await w.settle(30_000);
    const lines = logLines(w);
    assertEquals(lines.filter((line) => line.startsWith("⏳")).length, 1, lines.join("\n"));
    assertEquals(lines.filter((line) => line.startsWith("⚠️")).length, 1, lines.join("\n"));
    const unsent = await w.db.sql`select id from rolepass.notices where status <> 'sent'`;
    assertEquals(unsent.length, 0, "no log line lost");
  }, {
    operatorLogChannel: true,
    tuning: {
      discordTimeoutMs: 250,
      retryPolicy: { maxAttempts: 14, baseDelayMs: 20, maxDelayMs: 200 },
    },
  });
});
