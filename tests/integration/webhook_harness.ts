/**
 * A world for stripe-webhook tests: a fresh database with the real migrations, the Stripe double
 * as the truth, a guild with a plan, and the function's app built exactly as production builds it
 * (only the clock and the Stripe base URL differ). Events are taken from the double, really signed
 * and POSTed to the app's fetch handler in process.
 */
import type Stripe from "stripe";
import { createApp, type WebhookDeps } from "../../functions/stripe-webhook/app.ts";
import { createSql, type Sql } from "../../functions/_shared/db.ts";
import { createLogger, type Logger, setLogSink } from "../../functions/_shared/log.ts";
import { createStripeClient, createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import {
  eventBody,
  signPayload,
  startStripeDouble,
  type StripeDouble,
  type StripeDoubleOptions,
} from "../../functions/_doubles/stripe/index.ts";
import { createTestDatabase, type TestDatabase } from "../harness/database.ts";
import { assert } from "../harness/assert.ts";

/** The endpoint's signing secret in tests. */
export const WEBHOOK_SECRET = "whsec_rolepass_test_secret_0001";
/** The secret before a rotation. */
export const OLD_WEBHOOK_SECRET = "whsec_rolepass_test_secret_0000";

/** Guild settings a test may change. */
export interface GuildSettings {
  pastDueGrace?: string;
  revokeOnRefund?: boolean;
  revokeOnDispute?: boolean;
}

/** A member who went to Checkout: the membership row, the Stripe customer and the session. */
export interface Member {
  membershipId: string;
  discordUserId: string;
  customerId: string;
  sessionId: string;
}

/** What a test works with. */
export interface WebhookWorld {
  db: TestDatabase;
  readonly stripeDouble: StripeDouble;
  /** The SDK client the app uses (talks to the double). */
  readonly stripe: Stripe;
  /** The app's own pool (tests may terminate its connections). */
  appSql: Sql;
  readonly app: ReturnType<typeof createApp>;
  readonly deps: WebhookDeps;
  guildId: string;
  readonly plan: { id: string; priceId: string; roleId: string };
  /** The app's clock; tests move it. */
  clock: { now: Date };
  newMember(options?: { billingMode?: "classic" | "flexible" }): Promise<Member>;
  /**
   * Replaces the double with a fresh one (and a new plan on the same role), for long runs: the
   * double's lists (events by type, its objects) grow with every member it has served.
   */
  restartDouble(): Promise<void>;
  /** Events emitted by the double since the last call. */
  takeEvents(): Stripe.Event[];
  /** Signs `event` and POSTs it to the app. */
  post(event: Stripe.Event, options?: { secret?: string; timestamp?: number }): Promise<Response>;
  membership(membershipId: string): Promise<MembershipView>;
  close(): Promise<void>;
}

/** The membership columns tests assert on. */
export interface MembershipView {
  status: string | null;
  entitled: boolean;
  entitled_role_id: string | null;
  entitled_until: Date | null;
  stripe_subscription_id: string | null;
  cancel_at: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  revoked_reason: string | null;
  change_cause: string;
  change_event_id: string | null;
}

let guildCounter = 0;

function snowflake(seed: number): string {
  return String(100_000_000_000_000_000n + BigInt(seed));
}

/** Log lines of the function, kept for assertions instead of cluttering the test output. */
export const capturedLogs: string[] = [];
setLogSink((line) => {
  capturedLogs.push(line);
});

const quietLogger: Logger = createLogger("stripe-webhook");

/**
 * A member who went to Checkout, as the checkout function leaves one: the membership row, its
 * Stripe customer with rolepass metadata, and an open subscription-mode Checkout Session.
 */
export async function startCheckout(
  sql: Sql,
  stripe: Stripe,
  guildId: string,
  discordUserId: string,
  priceId: string,
) {
  const [row] = await sql<{ id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id)
    values (${guildId}, ${discordUserId}) returning id`;
  assert(row, "row is missing");
  const metadata = {
    rolepass_guild_id: guildId,
    rolepass_discord_user_id: discordUserId,
    rolepass_membership_id: row.id,
  };
  const customer = await stripe.customers.create({ metadata });
  await sql`
    update rolepass.memberships set stripe_customer_id = ${customer.id}, change_cause = 'checkout'
    where id = ${row.id}`;
  const session = await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: priceId, quantity: 1 }],
    metadata,
    subscription_data: { metadata },
    success_url: "https://example.com/done",
    cancel_url: "https://example.com/cancel",
  });
  return { row, customer, session };
}

/** Builds a world on a database of its own (or `db` when given). */
export async function startWebhookWorld(
  options: {
    guild?: GuildSettings;
    double?: StripeDoubleOptions;
    db?: TestDatabase;
    stripeTimeoutMs?: number;
    logger?: Logger;
  } = {},
): Promise<WebhookWorld> {
  const db = options.db ?? await createTestDatabase();
  const appSql = createSql(db.url, { max: 8 });
  const clock = { now: new Date() };
  let stripeDouble = await startStripeDouble(options.double ?? {});
  const connect = (double: StripeDouble) => {
    const stripe = createStripeClient("sk_test_rolepass", double.url, {
      timeoutMs: options.stripeTimeoutMs ?? 2_000,
    });
    const deps: WebhookDeps = {
      sql: appSql,
      stripe: createStripeGateway(stripe),
      webhookSecrets: [OLD_WEBHOOK_SECRET, WEBHOOK_SECRET],
      livemode: false,
      now: () => clock.now,
      logger: options.logger ?? quietLogger,
    };
    return { stripe, deps, app: createApp(deps) };
  };
  let { stripe, deps, app } = connect(stripeDouble);

  const seed = ++guildCounter * 1000 + Deno.pid % 997;
  const guildId = snowflake(seed);
  const roleId = snowflake(seed + 500);
  const guild = options.guild ?? {};
  await db.sql`
    insert into rolepass.guilds (id, name, past_due_grace, revoke_on_refund, revoke_on_dispute)
    values (${guildId}, 'Test guild', ${guild.pastDueGrace ?? "0"}::interval,
      ${guild.revokeOnRefund ?? true}, ${guild.revokeOnDispute ?? true})`;
  const addPlan = async () => {
    const price = stripeDouble.createPrice({ unitAmount: 980, currency: "jpy", interval: "month" });
    const [row] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans
        (guild_id, stripe_price_id, discord_role_id, display, unit_amount, currency, billing_interval)
      values (${guildId}, ${price.id}, ${roleId},
        ${db.sql.json({ en: { name: "Supporter", description: "Supporter role" } })},
        980, 'jpy', 'month')
      returning id`;
    assert(row, "row is missing");
    return { id: row.id, priceId: price.id, roleId };
  };
  let plan = await addPlan();

  let memberCounter = 0;
  let cursor = 0;

  const world: WebhookWorld = {
    db,
    get stripeDouble() {
      return stripeDouble;
    },
    get stripe() {
      return stripe;
    },
    appSql,
    get app() {
      return app;
    },
    get deps() {
      return deps;
    },
    guildId,
    get plan() {
      return plan;
    },
    clock,
    async restartDouble() {
      await stripeDouble.close();
      stripeDouble = await startStripeDouble(options.double ?? {});
      ({ stripe, deps, app } = connect(stripeDouble));
      plan = await addPlan();
      cursor = 0;
    },
    async newMember(memberOptions = {}) {
      const discordUserId = snowflake(seed * 1000 + ++memberCounter);
      if (memberOptions.billingMode) stripeDouble.setDefaultBillingMode(memberOptions.billingMode);
      const { row, customer, session } = await startCheckout(
        db.sql,
        stripe,
        guildId,
        discordUserId,
        plan.priceId,
      );
      return {
        membershipId: row.id,
        discordUserId,
        customerId: customer.id,
        sessionId: session.id,
      };
    },
    takeEvents() {
      const fresh = stripeDouble.events({ from: cursor });
      cursor += fresh.length;
      return fresh;
    },
    async post(event, postOptions = {}) {
      const body = eventBody(event);
      const timestamp = postOptions.timestamp ?? Math.floor(clock.now.getTime() / 1000);
      const header = await signPayload(body, postOptions.secret ?? WEBHOOK_SECRET, timestamp);
      return await app.fetch(
        new Request("http://localhost/stripe-webhook", {
          method: "POST",
          headers: { "content-type": "application/json", "stripe-signature": header },
          body,
        }),
      );
    },
    async membership(membershipId) {
      const [row] = await db.sql<MembershipView[]>`
        select status, entitled, entitled_role_id, entitled_until, stripe_subscription_id,
          cancel_at, cancel_at_period_end, past_due_since, revoked_reason, change_cause,
          change_event_id
        from rolepass.memberships where id = ${membershipId}`;
      assert(row, "row is missing");
      return row;
    },
    async close() {
      await appSql.end({ timeout: 5 });
      await stripeDouble.close();
      if (!options.db) await db.drop();
    },
  };
  return world;
}

/** Posts every event and asserts each answer was 200; returns the parsed bodies. */
export async function postAll(
  world: WebhookWorld,
  events: Stripe.Event[],
): Promise<Record<string, unknown>[]> {
  const bodies: Record<string, unknown>[] = [];
  for (const event of events) {
    const response = await world.post(event);
    const body = await response.json();
    if (response.status !== 200) {
      throw new Error(
        `${event.type} ${event.id} answered ${response.status}: ${JSON.stringify(body)}`,
      );
    }
    bodies.push(body);
  }
  return bodies;
}
