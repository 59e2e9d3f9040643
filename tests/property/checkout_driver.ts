/**
 * The member's way into Checkout for the money property: a link stored the way `/subscribe`
 * stores it (only its hash), then the real checkout function's `checkout-session` call, which
 * creates the membership and the Stripe customer, decides the trial (one per member per guild) and
 * the Checkout mode (subscription, or payment for a one-time pass). The test then pays the session
 * on the Stripe double.
 */
import { createApp } from "../../functions/checkout/app.ts";
import { CHECKOUT_PATHS } from "../../functions/checkout/contract.ts";
import { createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import type { Locale } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import type { WebhookWorld } from "../integration/webhook_harness.ts";

const LINK_LIFE_MS = 15 * 60_000;

/** What the checkout function answered a member's choice of plan with. */
export type OpenedSession =
  | {
    kind: "checkout";
    sessionId: string;
    membershipId: string;
    customerId: string;
    /** The parameters the function sent Stripe to create the session. */
    params: Record<string, unknown>;
  }
  /** The member holds a live subscription: the function sends them to the portal instead. */
  | { kind: "portal" };

/** The checkout function built on a world's database and Stripe double, on the world's clock. */
export interface CheckoutDriver {
  open(member: { discordUserId: string; locale: Locale }, planId: string): Promise<OpenedSession>;
}

/**
 * Builds the checkout app as production does on `world` (rebuild it after the world restarts its
 * Stripe double). Its clock is the world's simulated one, so links and sessions live on it.
 */
export function checkoutDriver(world: WebhookWorld): CheckoutDriver {
  const app = createApp({
    sql: world.appSql,
    stripe: createStripeGateway(world.stripe),
    publicSiteUrl: "https://plans.rolepass.test",
    now: () => world.clock.now,
  });
  return {
    async open(member, planId) {
      const token = newLinkToken();
      const createdAt = world.clock.now;
      await world.db.sql`
        insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
          created_at, expires_at)
        values (${await hashLinkToken(token)}, 'join', ${world.guildId}, ${member.discordUserId},
          ${member.locale}, ${createdAt}, ${new Date(createdAt.getTime() + LINK_LIFE_MS)})`;
      const before = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/checkout/sessions",
      }).length;
      const response = await app.request(`/checkout/${CHECKOUT_PATHS.checkoutSession}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token, planId }),
      });
      const body = await response.json();
      assertEquals(response.status, 200, JSON.stringify(body));
      if (body.kind === "portal") return { kind: "portal" };
      assertEquals(body.kind, "checkout", JSON.stringify(body));
      const [attempt] = await world.db.sql<
        { stripe_session_id: string; membership_id: string; stripe_customer_id: string }[]
      >`
        select a.stripe_session_id, a.membership_id, m.stripe_customer_id
        from rolepass.checkout_attempts a
        join rolepass.memberships m on m.id = a.membership_id
        join rolepass.link_tokens l on l.id = a.link_token_id
        where l.token_hash = ${await hashLinkToken(token)}`;
      assert(attempt, "the checkout function recorded its session");
      const created = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/checkout/sessions",
      });
      assertEquals(created.length, before + 1, "one Checkout Session created");
      return {
        kind: "checkout",
        sessionId: attempt.stripe_session_id,
        membershipId: attempt.membership_id,
        customerId: attempt.stripe_customer_id,
        params: created.at(-1)?.params ?? {},
      };
    },
  };
}
