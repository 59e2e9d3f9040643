/**
 * The world the checkout tests run in: a fresh database from the real migrations, the Stripe
 * double on 127.0.0.1, a guild with a plan whose price exists in the double (seller notice from
 * supabase/plans.example.json), and the checkout app built by its own factory. Log lines are
 * captured so tests can check that no link token ever reaches them.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import type Stripe from "stripe";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { createApp } from "../../functions/checkout/app.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { createStripeClient, createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { assert } from "../harness/assert.ts";

export const GUILD_ID = "110000000000000001";
export const OTHER_GUILD_ID = "110000000000000002";
export const MEMBER_ID = "220000000000000001";
export const ROLE_ID = "330000000000000001";
export const SITE = "https://plans.rolepass.test";
export const STRIPE_KEY = "sk_test_rolepasscheckout";

const example = JSON.parse(
  await Deno.readTextFile(new URL("../../supabase/plans.example.json", import.meta.url)),
);
/** The example guild's seller notice and first plan's display text (operator data, not literals). */
export const SELLER_NOTICE = example.guilds[0].seller_notice;
export const PLAN_DISPLAY = example.guilds[0].plans[0].display;

/** A JSON answer of the checkout app. */
export interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** Everything a checkout test touches. */
export interface CheckoutWorld {
  db: TestDatabase;
  stripeDouble: StripeDouble;
  /** An SDK client on the double, for looking at Stripe's state as Stripe would show it. */
  stripe: Stripe;
  app: ReturnType<typeof createApp>;
  planId: string;
  priceId: string;
  logLines: string[];
  /** Stores a link the way /subscribe does (only its hash) and returns the token. */
  issueLink(options?: {
    purpose?: "join" | "manage";
    memberId?: string;
    locale?: Locale;
    expired?: boolean;
    guildId?: string;
  }): Promise<string>;
  post(path: string, body: unknown): Promise<Answer>;
  /** Every customer the double holds. */
  customers(): Promise<Stripe.Customer[]>;
}

/** Runs `fn` in a fresh world and tears it down afterwards. */
export function withCheckoutWorld(
  fn: (world: CheckoutWorld) => Promise<void>,
  options: {
    publicSiteUrl?: string;
    /** The checkout function's clock (default: the real one). */
    now?: () => Date;
    /** The Stripe double's clock, in epoch milliseconds (default: the real one). */
    stripeClock?: () => number;
  } = {},
): Promise<void> {
  return withTestDatabase(async (db) => {
    const stripeDouble = await startStripeDouble({
      secretKey: STRIPE_KEY,
      clock: options.stripeClock,
    });
    const logLines: string[] = [];
    setLogSink((line) => logLines.push(line));
    const sql = createSql(db.url, { max: 10 });
    try {
      const price = stripeDouble.createPrice({
        unitAmount: 500,
        currency: "jpy",
        interval: "month",
        productName: "Supporter",
      });
      await db.sql`insert into rolepass.guilds (id, name, seller_notice)
        values (${GUILD_ID}, 'Rolepass Lounge', ${db.sql.json(SELLER_NOTICE)}),
          (${OTHER_GUILD_ID}, 'Other guild', '{}'::jsonb)`;
      const [plan] = await db.sql<{ id: string }[]>`
        insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
          currency, billing_interval)
        values (${GUILD_ID}, ${price.id}, ${ROLE_ID}, ${db.sql.json(PLAN_DISPLAY)}, 500, 'jpy',
          'month')
        returning id`;
      assert(plan, "plan is missing");
      const stripe = createStripeClient(STRIPE_KEY, stripeDouble.url);
      const app = createApp({
        sql,
        stripe: createStripeGateway(stripe),
        publicSiteUrl: options.publicSiteUrl ?? SITE,
        now: options.now,
      });
      const world: CheckoutWorld = {
        db,
        stripeDouble,
        stripe,
        app,
        planId: plan.id,
        priceId: price.id,
        logLines,
        async issueLink(options = {}) {
          const token = newLinkToken();
          const hash = await hashLinkToken(token);
          const [created, expires] = options.expired
            ? ["-20 minutes", "-5 minutes"]
            : ["0", "15 minutes"];
          await db.sql`
            insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
              created_at, expires_at)
            values (${hash}, ${options.purpose ?? "join"}, ${options.guildId ?? GUILD_ID},
              ${options.memberId ?? MEMBER_ID}, ${options.locale ?? "ja"},
              now() + ${created}::interval, now() + ${expires}::interval)`;
          return token;
        },
        async post(path, body) {
          const response = await app.request(`/checkout/${path}`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: typeof body === "string" ? body : JSON.stringify(body),
          });
          return { status: response.status, body: await response.json() };
        },
        async customers() {
          return (await stripe.customers.list({ limit: 100 })).data;
        },
      };
      await fn(world);
    } finally {
      setLogSink(null);
      await sql.end({ timeout: 5 });
      await stripeDouble.close();
    }
  });
}

/** Rows that say what checkout did, for "nothing changed" assertions. */
export async function checkoutRecords(db: TestDatabase) {
  const memberships = await db.sql<
    { id: string; stripe_customer_id: string | null; change_cause: string }[]
  >`select id, stripe_customer_id, change_cause from rolepass.memberships order by created_at`;
  const attempts = await db.sql<
    {
      id: string;
      kind: string;
      status: string;
      stripe_session_id: string;
      link_token_id: string;
      plan_id: string | null;
    }[]
  >`select id, kind, status, stripe_session_id, link_token_id, plan_id
    from rolepass.checkout_attempts order by created_at`;
  const usedLinks = await db.sql<{ id: string }[]>`
    select id from rolepass.link_tokens where used_at is not null`;
  return { memberships: [...memberships], attempts: [...attempts], usedLinks: usedLinks.length };
}
