/**
 * Stripe-side reconciliation against the real database and the Stripe double: events whose
 * webhook never arrived are recovered from the Events API through the webhook's own processing,
 * the cursor advances, a replayed pass changes nothing, and the full pass re-reads a guild.
 */
import {
  catchUpStripeEvents,
  resyncGuildSubscriptions,
  STRIPE_CATCHUP_DEFAULTS,
  type StripeCatchUpDeps,
} from "../../functions/role-sync/reconciliation_stripe.ts";
import { runStripeResync } from "../../functions/_cli/stripe_resync.ts";
import { createApp } from "../../functions/role-sync/app.ts";
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { BOT_TOKEN, configureVault, ROLE_SYNC_SECRET } from "./role_sync_fixtures.ts";
import { postAll, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";

const MINUTE = 60_000;

async function withWorld(fn: (world: WebhookWorld) => Promise<void>): Promise<void> {
  const world = await startWebhookWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

function catchUpDeps(world: WebhookWorld): StripeCatchUpDeps {
  return { ...world.deps, ...STRIPE_CATCHUP_DEFAULTS };
}

/** A deadline on the app's clock, far enough for a whole pass. */
function soon(world: WebhookWorld): number {
  return world.clock.now.getTime() + 60_000;
}

async function counts(world: WebhookWorld) {
  const [row] = await world.db.sql<{ history: number; jobs: number }[]>`
    select (select count(*)::int from rolepass.membership_history) as history,
      (select count(*)::int from rolepass.role_jobs) as jobs`;
  return { ...row };
}

async function cursor(world: WebhookWorld) {
  const [row] = await world.db.sql<
    { caught_up_to: Date | null; status: string; resume_after: string | null }[]
  >`select caught_up_to, status, resume_after from rolepass.stripe_event_catchups`;
  assert(row, "row is missing");
  return row;
}

Deno.test("a purchase whose webhooks never arrived is granted by the Events catch-up", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    world.takeEvents(); // dropped for good: never delivered
    assertEquals((await world.membership(member.membershipId)).entitled, false);

    world.clock.now = new Date(Date.now() + 10 * MINUTE);
    const first = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(first.status, "completed");
    assert(first.replayed > 0 && first.changed === 1, JSON.stringify(first));
    const view = await world.membership(member.membershipId);
    assertEquals(view.entitled, true);
    assertEquals(view.entitled_role_id, world.plan.roleId);
    const expectedCursor = Math.floor((world.clock.now.getTime() - 5 * MINUTE) / 1000) * 1000;
    assertEquals((await cursor(world)).caught_up_to?.getTime(), expectedCursor);
    assertEquals((await counts(world)).jobs, 1);
  });
});

Deno.test("a replayed catch-up changes nothing and moves the cursor on", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    world.takeEvents();
    world.clock.now = new Date(Date.now() + 10 * MINUTE);
    await catchUpStripeEvents(catchUpDeps(world), soon(world));
    const before = await counts(world);
    const firstCursor = (await cursor(world)).caught_up_to!.getTime();

    // The same window again (the cursor put back), then the next hour's pass.
    await world.db.sql`update rolepass.stripe_event_catchups set caught_up_to = null`;
    const replay = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(replay.replayed, 0);
    world.clock.now = new Date(world.clock.now.getTime() + 60 * MINUTE);
    const next = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(next.replayed, 0);
    assertEquals(await counts(world), before);
    assert((await cursor(world)).caught_up_to!.getTime() > firstCursor);
  });
});

Deno.test("events the webhook already processed are not processed again by the catch-up", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    await postAll(world, world.takeEvents());
    const before = await counts(world);
    world.clock.now = new Date(Date.now() + 10 * MINUTE);
    const result = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(result.status, "completed");
    assertEquals(result.changed, 0);
    assertEquals(await counts(world), before);
  });
});

Deno.test("a catch-up out of time resumes from the page where it stopped", async () => {
  await withWorld(async (world) => {
    const members = [];
    for (let i = 0; i < 30; i++) {
      const member = await world.newMember();
      world.stripeDouble.completeCheckout(member.sessionId);
      members.push(member);
    }
    world.takeEvents();
    world.clock.now = new Date(Date.now() + 10 * MINUTE);
    const stopped = await catchUpStripeEvents(catchUpDeps(world), 0);
    assertEquals(stopped.status, "in_progress");
    assertEquals(stopped.listed, 100);
    const state = await cursor(world);
    assert(state, "state is missing");
    assertEquals(state.status, "in_progress");
    assert(state.resume_after?.startsWith("evt_"));
    assertEquals(state.caught_up_to, null);

    const resumed = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(resumed.status, "completed");
    for (const member of members) {
      assertEquals((await world.membership(member.membershipId)).entitled, true);
    }
  });
});

Deno.test("a pass that finds the cursor already taken leaves it alone", async () => {
  await withWorld(async (world) => {
    await world.db.sql`insert into rolepass.stripe_event_catchups (id, lease_until)
      values (true, now() + interval '1 hour')`;
    world.clock.now = new Date();
    const result = await catchUpStripeEvents(catchUpDeps(world), soon(world));
    assertEquals(result.status, "busy");
  });
});

Deno.test("the full pass re-reads every membership of the guild from Stripe", async () => {
  await withWorld(async (world) => {
    const paid = await world.newMember();
    world.stripeDouble.completeCheckout(paid.sessionId);
    const unpaid = await world.newMember();
    world.takeEvents();
    const result = await resyncGuildSubscriptions(world.deps, world.guildId);
    assertEquals(result, { checked: 2, changed: 1, withoutSubscription: 1, failed: [] });
    assertEquals((await world.membership(paid.membershipId)).entitled, true);
    assertEquals((await world.membership(paid.membershipId)).change_cause, "stripe_resync");
    assertEquals((await world.membership(unpaid.membershipId)).entitled, false);
    const again = await resyncGuildSubscriptions(world.deps, world.guildId);
    assertEquals(again.changed, 0);
  });
});

/** role-sync's app built as production builds it, reading Stripe from the world's double. */
function roleSyncApp(world: WebhookWorld, stripe: boolean) {
  const config = {
    secret: ROLE_SYNC_SECRET,
    botToken: BOT_TOKEN,
    applicationId: "100000000000000001",
    discordApiBaseUrl: "http://127.0.0.1:9/api/v10",
    databaseUrl: world.db.url,
    ...(stripe
      ? { stripe: { secretKey: "sk_test_rolepass", apiBaseUrl: world.stripeDouble.url } }
      : {}),
  };
  const deps = depsFromConfig(config, {
    runInBackground: undefined,
    now: () => world.clock.now,
  }, world.appSql);
  return createApp(deps);
}

async function postStripeEvents(app: ReturnType<typeof createApp>): Promise<Response> {
  return await app.request("/role-sync/stripe-events", {
    method: "POST",
    headers: { "content-type": "application/json", "x-rolepass-secret": ROLE_SYNC_SECRET },
    body: "{}",
  });
}

Deno.test("pg_cron's hourly wake reaches role-sync's /stripe-events, which catches up", async () => {
  await withWorld(async (world) => {
    await configureVault(world.db.sql, "http://localhost/functions/v1/role-sync");
    const [job] = await world.db.sql<{ schedule: string; command: string }[]>`
      select schedule, command from cron.job where jobname = 'rolepass-stripe-event-catchup'`;
    assertEquals(job?.schedule, "17 * * * *");
    await world.db.sql.unsafe(job.command);
    const [wake] = await world.db.sql<{ url: string; body: unknown }[]>`
      select url, body from net.http_request_queue order by id desc limit 1`;
    assert(wake, "wake is missing");
    assertEquals(wake.url, "http://localhost/functions/v1/role-sync/stripe-events");

    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    world.takeEvents();
    world.clock.now = new Date(Date.now() + 10 * MINUTE);
    const response = await postStripeEvents(roleSyncApp(world, true));
    const body = await response.json();
    assertEquals(response.status, 200, JSON.stringify(body));
    assertEquals(body.status, "completed");
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});

Deno.test("role-sync without a Stripe key answers 503 to /stripe-events and changes nothing", async () => {
  await withWorld(async (world) => {
    const response = await postStripeEvents(roleSyncApp(world, false));
    assertEquals(response.status, 503);
    assertEquals(
      (await world.db.sql`select 1 from rolepass.stripe_event_catchups`).length,
      0,
    );
  });
});

Deno.test("deno task stripe:resync repairs a guild whose events are gone", async () => {
  await withWorld(async (world) => {
    const member = await world.newMember();
    world.stripeDouble.completeCheckout(member.sessionId);
    world.takeEvents();
    const out: string[] = [];
    const code = await runStripeResync({ guild: world.guildId }, {
      DATABASE_URL: world.db.url,
      STRIPE_SECRET_KEY: "sk_test_rolepass",
      STRIPE_API_BASE_URL: world.stripeDouble.url,
    }, { out: (line) => out.push(line), error: (line) => out.push(line) });
    assertEquals(code, 0, out.join("\n"));
    assert(out.join("\n").includes("1 member(s) re-read from Stripe, 1 corrected"), out.join());
    assertEquals((await world.membership(member.membershipId)).entitled, true);
  });
});
