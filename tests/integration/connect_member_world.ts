/**
 * A platform-mode world where members pay: the Connect world (guilds A and B, each with its
 * account) with both guilds onboarded and logging to an operator channel, the checkout function
 * built from its configuration, and the platform events the double emitted posted to the webhook
 * as Stripe would, each once.
 */
import assert from "node:assert/strict";
import type Stripe from "stripe";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import { type ConnectWorld, createConnectWorld, type WorldGuild } from "./connect_world.ts";

/** The operator log channel of both guilds. */
export const LOG_CHANNEL = "400000000000000001";

/** What a test of members paying in platform mode works with. */
export interface MemberWorld extends ConnectWorld {
  /**
   * A member of `guild` pays through Checkout; returns the subscription. The Checkout events are
   * posted unless `deliver` is false.
   */
  subscribe(
    guild: WorldGuild,
    memberId: string,
    options?: { deliver?: boolean },
  ): Promise<Stripe.Subscription>;
  /** Opens the Checkout of `planId` (the guild's plan by default) for a member; its session id. */
  openCheckout(guild: WorldGuild, memberId: string, planId?: string): Promise<string>;
  /** Posts every platform event of `type` not yet posted, in order, and returns the answers. */
  deliver(type: string): Promise<Record<string, unknown>[]>;
}

/** Runs `fn` in a fresh member world and closes it. */
export async function withMemberWorld(fn: (world: MemberWorld) => Promise<void>) {
  const world = await createConnectWorld();
  const deps = checkoutDeps(
    loadCheckoutConfig({ ...world.env, PUBLIC_SITE_URL: "https://plans.rolepass.test" }),
  );
  const checkout = createCheckoutApp(deps);
  const posted = new Set<string>();
  const deliver = async (type: string) => {
    const answers: Record<string, unknown>[] = [];
    for (const event of world.stripeDouble.events({ type })) {
      if (posted.has(event.id)) continue;
      posted.add(event.id);
      const response = await world.post("/stripe-webhook", event);
      assert.equal(response.status, 200, await response.clone().text());
      answers.push(await response.json());
    }
    return answers;
  };
  try {
    for (const guild of [world.a, world.b]) {
      await world.db.sql`
        update rolepass.guilds set operator_log_channel_id = ${LOG_CHANNEL}
        where id = ${guild.guildId}`;
      world.stripeDouble.connect.completeOnboarding(guild.accountId);
      const event = world.stripeDouble.connect.events()
        .filter((e) => e.account === guild.accountId).at(-1);
      assert.ok(event, "account.updated was emitted");
      assert.equal(
        (await (await world.post("/stripe-webhook/connect", event)).json()).status,
        "applied",
      );
    }
    const openCheckout = async (guild: WorldGuild, memberId: string, planId = guild.planId) => {
      const token = newLinkToken();
      await world.db.sql`
        insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
          created_at, expires_at)
        values (${await hashLinkToken(token)}, 'join', ${guild.guildId}, ${memberId}, 'ja',
          now(), now() + interval '15 minutes')`;
      const response = await checkout.request("/checkout/checkout-session", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, planId }),
      });
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      return String(body.url).split("/").at(-1) ?? "";
    };
    await fn({
      ...world,
      openCheckout,
      async subscribe(guild, memberId, options = {}) {
        const sessionId = await openCheckout(guild, memberId);
        const subscription = world.stripeDouble.completeCheckout(sessionId).subscription;
        if (options.deliver !== false) await deliver("checkout.session.completed");
        return subscription;
      },
      deliver,
    });
  } finally {
    await deps.sql.end({ timeout: 5 });
    await world.close();
  }
}
