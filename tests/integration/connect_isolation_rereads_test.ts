/**
 * Platform mode: every re-read of a member's customer outside the webhook keeps only the
 * subscriptions paying the member's guild's own account. The member's customer also holds a live
 * subscription of the guild's price paying guild B's account; once the member's own subscription
 * ends, the thank-you page, `/rolepass resync` (role-sync) and `deno task stripe:resync` each
 * end the member's role in guild A instead of keeping it on guild B's money. Each entry point is
 * built from its own configuration, as deployed, so one that forgot platform mode fails here.
 */
import assert from "node:assert/strict";
import { runStripeResync } from "../../functions/_cli/stripe_resync.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import { resyncMember } from "../../functions/role-sync/admin_requests.ts";
import {
  depsFromConfig as roleSyncDeps,
  loadConfig as loadRoleSyncConfig,
} from "../../functions/role-sync/config.ts";
import { type MemberWorld, withMemberWorld } from "./connect_member_world.ts";
import { BOT_TOKEN } from "./role_sync_fixtures.ts";

const MEMBER = "200000000000000061";

/**
 * The member pays guild A through Checkout; then their customer gets a live subscription of A's
 * price paying guild B's account, and their own subscription ends, with no event delivered.
 */
async function endOwnBesideForeign(world: MemberWorld) {
  const sessionId = await world.openCheckout(world.a, MEMBER);
  const own = world.stripeDouble.completeCheckout(sessionId).subscription;
  await world.deliver("checkout.session.completed");
  assert.equal((await membership(world))?.entitled, true);
  const foreign = world.stripeDouble.createForeignSubscription({
    priceId: world.a.priceId,
    customerId: String(own.customer),
  });
  world.stripeDouble.connect.redirectSubscription(foreign.id, world.b.accountId);
  world.stripeDouble.cancelNow(own.id);
  return { sessionId, own };
}

async function membership(world: MemberWorld) {
  const [row] = await world.db.sql<
    { entitled: boolean; status: string | null; stripe_subscription_id: string | null }[]
  >`
    select entitled, status, stripe_subscription_id from rolepass.memberships
    where guild_id = ${world.a.guildId} and discord_user_id = ${MEMBER}`;
  return row && { ...row };
}

async function assertEndedOnOwn(world: MemberWorld, ownId: string) {
  assert.deepEqual(await membership(world), {
    entitled: false,
    status: "canceled",
    stripe_subscription_id: ownId,
  });
  const inB = await world.db.sql`
    select 1 from rolepass.memberships where guild_id = ${world.b.guildId}`;
  assert.equal(inB.length, 0, "nothing is written in guild B");
}

Deno.test("the thank-you page keeps no role on another guild's money", async () => {
  await withMemberWorld(async (world) => {
    const { sessionId, own } = await endOwnBesideForeign(world);
    const deps = checkoutDeps(
      loadCheckoutConfig({ ...world.env, PUBLIC_SITE_URL: "https://plans.rolepass.test" }),
    );
    try {
      const response = await createCheckoutApp(deps).request("/checkout/checkout-complete", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionId }),
      });
      assert.equal(response.status, 200, await response.clone().text());
      assert.notEqual((await response.json()).status, "granting");
    } finally {
      await deps.sql.end({ timeout: 5 });
    }
    await assertEndedOnOwn(world, own.id);
  });
});

Deno.test("/rolepass resync keeps no role on another guild's money", async () => {
  await withMemberWorld(async (world) => {
    const { own } = await endOwnBesideForeign(world);
    const deps = roleSyncDeps(
      loadRoleSyncConfig({
        ...world.env,
        ROLE_SYNC_SECRET: "r".repeat(40),
        DISCORD_BOT_TOKEN: BOT_TOKEN,
        DISCORD_APPLICATION_ID: "500000000000000001",
      }),
      {},
      world.db.sql,
    );
    const result = await resyncMember(
      deps.admin,
      { guildId: world.a.guildId, memberId: MEMBER, heldRoleIds: null },
      createLogger("role-sync"),
    );
    assert.equal(result.kind, "synced", JSON.stringify(result));
    await assertEndedOnOwn(world, own.id);
  });
});

Deno.test("deno task stripe:resync keeps no role on another guild's money", async () => {
  await withMemberWorld(async (world) => {
    const { own } = await endOwnBesideForeign(world);
    const output: string[] = [];
    const code = await runStripeResync({ guild: world.a.guildId }, world.env, {
      out: (text) => output.push(text),
      error: (text) => output.push(text),
    });
    assert.equal(code, 0, output.join("\n"));
    await assertEndedOnOwn(world, own.id);
  });
});
