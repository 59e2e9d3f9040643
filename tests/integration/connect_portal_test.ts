/**
 * The Customer Portal of a guild's member in platform mode opens on behalf of that guild's
 * connected account, so it shows only the subscriptions and invoices settled for that community;
 * a standalone deployment never sends `on_behalf_of`, even for a guild with an account recorded.
 */
import assert from "node:assert/strict";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { recordGuildStripeAccount } from "../../functions/_shared/guild_stripe_accounts.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import { GUILD_ID, MEMBER_ID, ROLE_ID, STRIPE_KEY, withCheckoutWorld } from "./checkout_harness.ts";
import type { ConnectWorld, WorldGuild } from "./connect_world.ts";
import { withMemberWorld } from "./connect_member_world.ts";

const MEMBER_A = "200000000000000021";
const MEMBER_B = "200000000000000022";

function portalRequests(world: { stripeDouble: ConnectWorld["stripeDouble"] }) {
  return world.stripeDouble.requests({ method: "POST", path: "/v1/billing_portal/sessions" });
}

/** Opens the portal for a member of `guild` through the checkout function in platform mode. */
async function openPortal(world: ConnectWorld, guild: WorldGuild, memberId: string) {
  const deps = checkoutDeps(
    loadCheckoutConfig({ ...world.env, PUBLIC_SITE_URL: "https://plans.rolepass.test" }),
  );
  try {
    const token = newLinkToken();
    await world.db.sql`
      insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
        created_at, expires_at)
      values (${await hashLinkToken(token)}, 'manage', ${guild.guildId}, ${memberId}, 'ja',
        now(), now() + interval '15 minutes')`;
    const response = await createCheckoutApp(deps).request("/checkout/portal-session", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    assert.equal(response.status, 200, await response.clone().text());
  } finally {
    await deps.sql.end({ timeout: 5 });
  }
}

Deno.test("platform mode: the portal opens on behalf of the guild's account", async () => {
  await withMemberWorld(async (world) => {
    await world.subscribe(world.a, MEMBER_A);
    await world.subscribe(world.b, MEMBER_B);

    await openPortal(world, world.a, MEMBER_A);
    await openPortal(world, world.b, MEMBER_B);

    assert.deepEqual(
      portalRequests(world).map((request) => request.params.on_behalf_of),
      [world.a.accountId, world.b.accountId],
    );
  });
});

Deno.test("in standalone mode the portal never opens on behalf of an account", async () => {
  await withCheckoutWorld(async (world) => {
    const gateway = connectStripe(STRIPE_KEY, world.stripeDouble.url);
    const facts = await gateway.createExpressAccount({
      country: "JP",
      email: null,
      metadata: { guild_id: GUILD_ID },
      idempotencyKey: `connect-onboard-${GUILD_ID}`,
    });
    await recordGuildStripeAccount(world.db.sql, {
      guildId: GUILD_ID,
      facts,
      platformFeePercent: 10,
    });
    const customer = world.stripeDouble.createCustomer({});
    await world.db.sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, status,
        plan_id, entitled, entitled_role_id, subscription_live, change_cause)
      values (${GUILD_ID}, ${MEMBER_ID}, ${customer.id}, 'active', ${world.planId}, true,
        ${ROLE_ID}, true, 'test')`;

    const opened = await world.post("portal-session", {
      token: await world.issueLink({ purpose: "manage" }),
    });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const [request] = portalRequests(world);
    assert.ok(request, "the portal was opened");
    assert.equal("on_behalf_of" in request.params, false);
  });
});
