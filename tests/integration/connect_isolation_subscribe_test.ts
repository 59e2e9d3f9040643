/**
 * Platform mode, from `/subscribe` to Stripe: a member who pays guild A and runs `/subscribe` in
 * guild B gets guild B's join link, not a way into guild A's subscription; paying through it makes
 * a customer of its own for (guild B, member) whose money goes to guild B's account. Back in guild
 * A, the same member's manage link opens guild A's customer on behalf of guild A's account only.
 */
import assert from "node:assert/strict";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import { withMemberWorld } from "./connect_member_world.ts";
import type { WorldGuild } from "./connect_world.ts";
import {
  buildApp,
  createDiscordSigner,
  postSigned,
  SITE_URL,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

const MEMBER = "200000000000000071";

Deno.test("/subscribe in another server reaches only its customer and account", async () => {
  await withMemberWorld(async (world) => {
    const inA = await world.subscribe(world.a, MEMBER);
    const signer = await createDiscordSigner();
    const interactions = buildApp(world.db.url, signer.publicKeyHex);
    const checkoutConfig = { ...world.env, PUBLIC_SITE_URL: SITE_URL };
    const checkout = checkoutDeps(loadCheckoutConfig(checkoutConfig));
    const checkoutApp = createCheckoutApp(checkout);
    /** `/subscribe` of the member in `guild`: the link's kind and token. */
    const subscribe = async (guild: WorldGuild) => {
      const response = await postSigned(
        interactions.app,
        signer,
        await subscribeInteraction({ guildId: guild.guildId, memberId: MEMBER }),
      );
      assert.equal(response.status, 200);
      const reply = await response.json();
      const url = new URL(reply.data.components[0].components[0].url);
      const [, kind, token] = url.pathname.split("/");
      return { kind, token };
    };
    const ask = async (path: string, body: unknown) => {
      const response = await checkoutApp.request(`/checkout/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    try {
      const inB = await subscribe(world.b);
      assert.equal(inB.kind, "join", "guild A's subscription gives no manage link in guild B");
      const view = await ask("plan-view", { token: inB.token });
      assert.equal(view.status, 200, JSON.stringify(view.body));
      assert.equal(view.body.guild.id, world.b.guildId);
      assert.equal(view.body.entitled, false);
      const foreignPlan = await ask("checkout-session", {
        token: inB.token,
        planId: world.a.planId,
      });
      assert.equal(foreignPlan.status, 404, "guild B's link cannot buy guild A's plan");

      const opened = await ask("checkout-session", { token: inB.token, planId: world.b.planId });
      assert.equal(opened.status, 200, JSON.stringify(opened.body));
      const sessionId = String(opened.body.url).split("/").at(-1) ?? "";
      const paidB = world.stripeDouble.completeCheckout(sessionId).subscription;
      assert.notEqual(paidB.customer, inA.customer, "one customer per (guild, member)");
      assert.equal(paidB.transfer_data?.destination, world.b.accountId);
      assert.equal(paidB.on_behalf_of, world.b.accountId);

      const manage = await subscribe(world.a);
      assert.equal(manage.kind, "manage");
      const portal = await ask("portal-session", { token: manage.token });
      assert.equal(portal.status, 200, JSON.stringify(portal.body));
      const [session] = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/billing_portal/sessions",
      });
      assert.equal(session?.params.customer, inA.customer);
      assert.equal(session?.params.on_behalf_of, world.a.accountId);
    } finally {
      await checkout.sql.end({ timeout: 5 });
      await interactions.sql.end({ timeout: 5 });
    }
  });
});
