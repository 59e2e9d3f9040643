/**
 * A member's one-time pass Checkout (payment mode) opened through the product's own Stripe
 * gateway, for the pass tests to pay on the Stripe double.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import type { WebhookWorld } from "./webhook_harness.ts";

export async function openPassCheckout(
  world: WebhookWorld,
  priceId: string,
  buyer: { membershipId: string; customerId: string; discordUserId: string },
  locale: Locale = "ja",
): Promise<{ id: string }> {
  return await createStripeGateway(world.stripe).createCheckoutSession({
    member: {
      guildId: world.guildId,
      discordUserId: buyer.discordUserId,
      membershipId: buyer.membershipId,
    },
    customerId: buyer.customerId,
    priceId,
    mode: "payment",
    allowPromotionCodes: false,
    tax: null,
    locale,
    successUrl: "https://plans.rolepass.test/join/thanks?session_id={CHECKOUT_SESSION_ID}",
    cancelUrl: "https://plans.rolepass.test/join/cancelled",
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    idempotencyKey: crypto.randomUUID(),
  });
}
