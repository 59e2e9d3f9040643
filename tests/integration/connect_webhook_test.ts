/**
 * The Connect endpoint in platform mode: account.updated keeps each guild's account state, read
 * again from Stripe on the account the event came from, with the platform endpoint's signature,
 * dedupe and lock rules; an event of one community never touches another's row, and an event of
 * an account no guild owns is recorded as ignored.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { ConfigError } from "../../functions/_shared/env.ts";
import { guildStripeAccount } from "../../functions/_shared/guild_stripe_accounts.ts";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { depsFromConfig, loadConfig } from "../../functions/stripe-webhook/config.ts";
import { first } from "../harness/assert.ts";
import { type ConnectWorld, createConnectWorld, WEBHOOK_SECRET } from "./connect_world.ts";

async function withWorld(fn: (world: ConnectWorld) => Promise<void>) {
  const world = await createConnectWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

function accountEvents(world: ConnectWorld, accountId: string): Stripe.Event[] {
  return world.stripeDouble.connect.events().filter((event) => event.account === accountId);
}

async function ledgerRow(world: ConnectWorld, eventId: string) {
  const [row] = await world.db.sql<{ status: string; ignored_reason: string | null }[]>`
    select status, ignored_reason from rolepass.stripe_events where id = ${eventId}`;
  return row;
}

Deno.test("account.updated after onboarding lets the guild sell, and only that guild", async () => {
  await withWorld(async (world) => {
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    const event = first(accountEvents(world, world.a.accountId), "guild A's account.updated");
    const response = await world.post("/stripe-webhook/connect", event);
    assert.equal(response.status, 200);
    const answer = await response.json();
    assert.equal(answer.status, "applied");
    assert.equal(answer.guildId, world.a.guildId);
    assert.equal(answer.standing, "selling");

    const a = await guildStripeAccount(world.db.sql, world.a.guildId);
    assert.equal(a?.facts.chargesEnabled, true);
    assert.equal(a?.facts.detailsSubmitted, true);
    assert.equal(a?.facts.payoutsEnabled, true);
    assert.deepEqual(a?.facts.requirementsDue, []);
    const b = await guildStripeAccount(world.db.sql, world.b.guildId);
    assert.equal(b?.facts.chargesEnabled, false, "guild B's account is untouched");
    assert.equal(b?.readAt, null);
    assert.equal((await ledgerRow(world, event.id))?.status, "processed");

    const replay = await world.post("/stripe-webhook/connect", event);
    assert.equal((await replay.json()).status, "duplicate");
  });
});

Deno.test("the state applied is Stripe's now, read on the account, whatever the order of events", async () => {
  await withWorld(async (world) => {
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    world.stripeDouble.connect.requireInformation(world.a.accountId, ["individual.verification"]);
    const [enabled, restricted] = accountEvents(world, world.a.accountId);
    assert.ok(enabled && restricted);
    await world.post("/stripe-webhook/connect", restricted);
    await world.post("/stripe-webhook/connect", enabled);
    const a = await guildStripeAccount(world.db.sql, world.a.guildId);
    assert.equal(a?.facts.chargesEnabled, false, "the late event re-read Stripe's current state");
    assert.deepEqual(a?.facts.requirementsDue, ["individual.verification"]);
    const reads = world.stripeDouble.requests({ method: "GET" })
      .filter((request) => request.path.startsWith("/v1/accounts/"));
    assert.ok(reads.every((request) => request.path === `/v1/accounts/${world.a.accountId}`));
  });
});

Deno.test("an event of an account no guild owns is recorded as ignored and Stripe is not asked", async () => {
  await withWorld(async (world) => {
    const stranger = await world.gateway.createExpressAccount({
      country: "JP",
      email: null,
      metadata: {},
      idempotencyKey: "stranger-account",
    });
    world.stripeDouble.connect.completeOnboarding(stranger.accountId);
    const event = first(accountEvents(world, stranger.accountId), "the stranger's event");
    world.stripeDouble.clearRequests();
    const answer = await (await world.post("/stripe-webhook/connect", event)).json();
    assert.equal(answer.status, "ignored");
    assert.match(answer.why, /belongs to no guild/);
    const row = await ledgerRow(world, event.id);
    assert.equal(row?.status, "ignored");
    assert.match(row?.ignored_reason ?? "", /belongs to no guild/);
    assert.equal(
      world.stripeDouble.requests({ path: `/v1/accounts/${stranger.accountId}` }).length,
      0,
    );
    const rows = await world.db.sql`
      select 1 from rolepass.guild_stripe_accounts where stripe_account_id = ${stranger.accountId}`;
    assert.equal(rows.length, 0);
  });
});

Deno.test("the Connect endpoint checks its own secret and the platform endpoint ignores Connect events", async () => {
  await withWorld(async (world) => {
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    const event = first(accountEvents(world, world.a.accountId), "guild A's account.updated");
    const wrongSecret = await world.post("/stripe-webhook/connect", event, WEBHOOK_SECRET);
    assert.equal(wrongSecret.status, 400);
    assert.equal(await ledgerRow(world, event.id), undefined, "a refused request records nothing");

    const onPlatform = await (await world.post("/stripe-webhook", event)).json();
    assert.equal(onPlatform.status, "ignored");
    const a = await guildStripeAccount(world.db.sql, world.a.guildId);
    assert.equal(a?.facts.chargesEnabled, false, "the platform endpoint applies no Connect event");

    const unsigned = await world.app.request("/stripe-webhook/connect", {
      method: "POST",
      body: JSON.stringify(event),
    });
    assert.equal(unsigned.status, 400);
  });
});

Deno.test("a platform event sent to the Connect endpoint is ignored", async () => {
  await withWorld(async (world) => {
    await world.gateway.createExpressAccount({
      country: "JP",
      email: null,
      metadata: {},
      idempotencyKey: "noise",
    });
    world.stripeDouble.createCustomer({ email: "someone@example.com" });
    const platformEvent = first(world.stripeDouble.events({ type: "customer.created" }), "event");
    const answer = await (await world.post("/stripe-webhook/connect", platformEvent)).json();
    assert.equal(answer.status, "ignored");
    assert.match(answer.why, /platform's own account/);
  });
});

Deno.test("standalone mode serves no Connect endpoint and platform mode needs its secret", async () => {
  await withWorld(async (world) => {
    const standaloneEnv = { ...world.env, ROLEPASS_STRIPE_MODE: "" };
    delete (standaloneEnv as Record<string, string | undefined>).STRIPE_CONNECT_WEBHOOK_SECRET;
    const deps = depsFromConfig(loadConfig(standaloneEnv));
    try {
      assert.equal(deps.connect, null);
      const response = await createApp(deps).request("/stripe-webhook/connect", {
        method: "POST",
        headers: { "stripe-signature": "t=1,v1=" + "0".repeat(64) },
        body: "{}",
      });
      assert.equal(response.status, 404);
    } finally {
      await deps.sql.end({ timeout: 5 });
    }
    const { STRIPE_CONNECT_WEBHOOK_SECRET: _secret, ...withoutSecret } = world.env;
    assert.throws(
      () => loadConfig(withoutSecret),
      (error: unknown) =>
        error instanceof ConfigError && /STRIPE_CONNECT_WEBHOOK_SECRET/.test(error.message),
    );
    assert.throws(
      () => loadConfig({ ...world.env, ROLEPASS_STRIPE_MODE: "marketplace" }),
      (error: unknown) =>
        error instanceof ConfigError && /ROLEPASS_STRIPE_MODE/.test(error.message),
    );
  });
});
