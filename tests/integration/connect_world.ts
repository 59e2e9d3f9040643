/**
 * A platform-mode world for Connect tests: a fresh database with the real migrations, the Stripe
 * double with Connect, two guilds (A and B) each with a plan and an Express account recorded as
 * `deno task connect -- onboard` records it, and the stripe-webhook app built from its
 * configuration in platform mode. Events are taken from the double, really signed and POSTed.
 */
import type Stripe from "stripe";
import { createApp } from "../../functions/stripe-webhook/app.ts";
import { depsFromConfig, loadConfig } from "../../functions/stripe-webhook/config.ts";
import {
  eventBody,
  signPayload,
  startStripeDouble,
  type StripeDouble,
} from "../../functions/_doubles/stripe/index.ts";
import { recordGuildStripeAccount } from "../../functions/_shared/guild_stripe_accounts.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { connectStripe, type StripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { createTestDatabase, type TestDatabase } from "../harness/database.ts";

export const SECRET_KEY = "sk_test_rolepass_platform_0001";
export const WEBHOOK_SECRET = "whsec_rolepass_platform_endpoint_01";
export const CONNECT_WEBHOOK_SECRET = "whsec_rolepass_connect_endpoint_01";

/** A guild of the world with its plan and connected account. */
export interface WorldGuild {
  guildId: string;
  accountId: string;
  planId: string;
  priceId: string;
  roleId: string;
}

/** What a Connect test works with. */
export interface ConnectWorld {
  db: TestDatabase;
  stripeDouble: StripeDouble;
  gateway: StripeGateway;
  app: ReturnType<typeof createApp>;
  a: WorldGuild;
  b: WorldGuild;
  /** The environment the functions are configured from (platform mode). */
  env: Record<string, string>;
  /** Signs `event` with `secret` and POSTs it to `path` of the webhook function. */
  post(
    path: "/stripe-webhook" | "/stripe-webhook/connect",
    event: Stripe.Event,
    secret?: string,
  ): Promise<Response>;
  close(): Promise<void>;
}

setLogSink(() => {});

/** Builds the world: both guilds' accounts exist, neither has finished onboarding. */
export async function createConnectWorld(
  options: { platformFeePercent?: number } = {},
): Promise<ConnectWorld> {
  const db = await createTestDatabase();
  const stripeDouble = await startStripeDouble({ secretKey: SECRET_KEY });
  const env: Record<string, string> = {
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE_URL: stripeDouble.url,
    DATABASE_URL: db.url,
    ROLEPASS_STRIPE_MODE: "platform",
    STRIPE_CONNECT_WEBHOOK_SECRET: CONNECT_WEBHOOK_SECRET,
  };
  const deps = depsFromConfig(loadConfig(env));
  const app = createApp(deps);
  const gateway = connectStripe(SECRET_KEY, stripeDouble.url);
  const addGuild = async (guildId: string, roleId: string): Promise<WorldGuild> => {
    await db.sql`insert into rolepass.guilds (id, name) values (${guildId}, ${"Guild " + guildId})`;
    const price = stripeDouble.createPrice({
      unitAmount: 1000,
      currency: "jpy",
      interval: "month",
    });
    const [plan] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval)
      values (${guildId}, ${price.id}, ${roleId},
        ${db.sql.json({ en: { name: "VIP", description: "VIP role" } })}, 1000, 'jpy', 'month')
      returning id`;
    if (!plan) throw new Error("the plan was not inserted");
    const facts = await gateway.createExpressAccount({
      country: "JP",
      email: null,
      metadata: { guild_id: guildId },
      idempotencyKey: `connect-onboard-${guildId}`,
    });
    await recordGuildStripeAccount(db.sql, {
      guildId,
      facts,
      platformFeePercent: options.platformFeePercent ?? 10,
    });
    return { guildId, accountId: facts.accountId, planId: plan.id, priceId: price.id, roleId };
  };
  const a = await addGuild("100000000000000001", "300000000000000001");
  const b = await addGuild("100000000000000002", "300000000000000002");
  return {
    db,
    stripeDouble,
    gateway,
    app,
    a,
    b,
    env,
    async post(path, event, secret) {
      const body = eventBody(event);
      const signed = secret ??
        (path === "/stripe-webhook/connect" ? CONNECT_WEBHOOK_SECRET : WEBHOOK_SECRET);
      const header = await signPayload(body, signed, Math.floor(Date.now() / 1000));
      return await app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": header },
        body,
      });
    },
    async close() {
      await deps.sql.end({ timeout: 5 });
      await stripeDouble.close();
      await db.drop();
    },
  };
}
