/**
 * A world for the stories of plans that grant several roles: one database, the Stripe double with
 * the stripe-webhook app (tests/integration/webhook_harness.ts), the Discord double with a guild of
 * four roles, and role-sync built from its real dependencies on the same database. A member pays
 * through the double's Checkout, the events are signed and POSTed to the webhook, and role-sync
 * drains the jobs the triggers queued, so each story runs through the real functions.
 */
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { createSql, type Sql } from "../../functions/_shared/db.ts";
import { type DiscordDouble, startDiscordDouble } from "../doubles/discord.ts";
import { createTestDatabase, type TestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";
import { postAll, startCheckout, startWebhookWorld, type WebhookWorld } from "./webhook_harness.ts";
import { BOT_TOKEN, ROLE_SYNC_SECRET } from "./role_sync_fixtures.ts";
import type { CheckoutTrial } from "../../functions/_core/trial.ts";

/** The guild's roles, by what the plans use them for. */
export interface GuildRoles {
  gold: string;
  silver: string;
  /** A role both plans grant. */
  shared: string;
  /** A role only a trial grants. */
  trial: string;
}

/** A plan of the world's guild, with its Stripe price. */
export interface WorldPlan {
  id: string;
  priceId: string;
}

/** Everything a plan-roles story works with. */
export interface PlanRolesWorld {
  db: TestDatabase;
  web: WebhookWorld;
  discord: DiscordDouble;
  guildId: string;
  roles: GuildRoles;
  /** Gold grants gold and shared; silver grants silver and shared. */
  gold: WorldPlan;
  silver: WorldPlan;
  /** Adds a plan on a new monthly price; returns it. */
  addPlan(name: string, roleIds: string[], amount?: number): Promise<WorldPlan>;
  /**
   * A member who paid `plan` through Checkout (or started its trial, with `trial`), with every
   * event delivered and role-sync settled.
   */
  subscribe(userId: string, plan: WorldPlan, trial?: CheckoutTrial | null): Promise<Subscriber>;
  /** Delivers every event the double emitted since the last call, then settles role-sync. */
  deliver(): Promise<void>;
  /** Drains role jobs and notices until none is open. */
  settle(): Promise<void>;
  /** The member's roles as Discord shows them, sorted. */
  memberRoles(userId: string): string[];
  /** The messages queued to the member, oldest first. */
  memberNotices(userId: string): Promise<{ kind: string; payload: Record<string, unknown> }[]>;
  close(): Promise<void>;
}

/** A member with a subscription. */
export interface Subscriber {
  userId: string;
  membershipId: string;
  customerId: string;
  subscriptionId: string;
}

/** Builds the world; `close()` tears it down. */
export async function startPlanRolesWorld(): Promise<PlanRolesWorld> {
  const db = await createTestDatabase();
  const web = await startWebhookWorld({ db });
  const discord = await startDiscordDouble({ botToken: BOT_TOKEN });
  const appSql: Sql = createSql(db.url, { max: 6 });
  const guild = discord.addGuild({ botRolePosition: 10 });
  const role = (name: string, position: number) => discord.addRole(guild.id, { name, position }).id;
  const roles: GuildRoles = {
    gold: role("Gold", 6),
    silver: role("Silver", 5),
    shared: role("Supporters", 4),
    trial: role("Trial", 3),
  };
  await db.sql`insert into rolepass.guilds (id, name) values (${guild.id}, 'Plan roles guild')`;
  const deps = depsFromConfig(
    {
      secret: ROLE_SYNC_SECRET,
      botToken: BOT_TOKEN,
      applicationId: discord.applicationId,
      discordApiBaseUrl: discord.apiBaseUrl,
      databaseUrl: db.url,
    },
    {
      runInBackground: undefined,
      // Generous: on a loaded machine a local answer can take seconds, and a timed-out call
      // spends one of the job's attempts.
      discordTimeoutMs: 10_000,
      retryPolicy: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 100 },
    },
    appSql,
  );

  let sortOrder = 0;
  const addPlan = async (name: string, roleIds: string[], amount = 980): Promise<WorldPlan> => {
    const price = web.stripeDouble.createPrice({
      unitAmount: amount,
      currency: "jpy",
      interval: "month",
      productName: name,
    });
    const [row] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
        display, unit_amount, currency, billing_interval, sort_order)
      values (${guild.id}, ${price.id}, ${roleIds[0] ?? null}, ${roleIds},
        ${db.sql.json({ en: { name }, ja: { name } })}, ${amount}, 'jpy', 'month', ${sortOrder++})
      returning id`;
    assert(row, "plan row is missing");
    return { id: row.id, priceId: price.id };
  };

  const settle = async () => {
    // Waits up to two minutes (a loaded machine's notices and rate-limit windows take their
    // time); returns as soon as nothing is open.
    const giveUpAt = Date.now() + 120_000;
    while (Date.now() < giveUpAt) {
      await drainRoleJobs(deps, Date.now() + 10_000);
      const { open } = first(
        await db.sql<{ open: number }[]>`
          select (select count(*) from rolepass.role_jobs
            where status in ('pending', 'running'))::int
            + (select count(*) from rolepass.notices
              where status in ('pending', 'running'))::int as open`,
        "the open count",
      );
      if (open === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error("role jobs did not settle");
  };

  const deliver = async () => {
    await postAll(web, web.takeEvents());
    await settle();
  };

  /** Checkout as rolepass's checkout function opens it with a trial (stripe_gateway.ts). */
  const startTrialCheckout = async (userId: string, priceId: string, trial: CheckoutTrial) => {
    const [row] = await db.sql<{ id: string }[]>`
      insert into rolepass.memberships (guild_id, discord_user_id)
      values (${guild.id}, ${userId}) returning id`;
    assert(row, "membership row is missing");
    const metadata = {
      rolepass_guild_id: guild.id,
      rolepass_discord_user_id: userId,
      rolepass_membership_id: row.id,
    };
    const customer = await web.stripe.customers.create({ metadata });
    await db.sql`update rolepass.memberships set stripe_customer_id = ${customer.id}
      where id = ${row.id}`;
    const session = await web.stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customer.id,
      line_items: [{ price: priceId, quantity: 1 }],
      metadata,
      subscription_data: {
        metadata,
        trial_period_days: trial.trialPeriodDays,
        trial_settings: { end_behavior: { missing_payment_method: trial.missingPaymentMethod } },
      },
      payment_method_collection: trial.paymentMethodCollection,
      success_url: "https://example.com/done",
      cancel_url: "https://example.com/cancel",
    });
    return { row, customer, session };
  };

  const gold = await addPlan("Gold", [roles.gold, roles.shared], 1500);
  const silver = await addPlan("Silver", [roles.silver, roles.shared], 800);

  return {
    db,
    web,
    discord,
    guildId: guild.id,
    roles,
    gold,
    silver,
    addPlan,
    async subscribe(userId, plan, trial = null) {
      discord.addMember(guild.id, userId);
      const { row, customer, session } = trial
        ? await startTrialCheckout(userId, plan.priceId, trial)
        : await startCheckout(db.sql, web.stripe, guild.id, userId, plan.priceId);
      const { subscription } = web.stripeDouble.completeCheckout(session.id);
      await deliver();
      return {
        userId,
        membershipId: row.id,
        customerId: customer.id,
        subscriptionId: subscription.id,
      };
    },
    deliver,
    settle,
    memberRoles(userId) {
      return [...(discord.memberRoles(guild.id, userId) ?? [])].sort();
    },
    async memberNotices(userId) {
      const rows = await db.sql<{ kind: string; payload: Record<string, unknown> }[]>`
        select kind, payload from rolepass.notices
        where audience = 'member' and discord_user_id = ${userId} order by id`;
      return rows.map((row) => ({ kind: row.kind, payload: row.payload }));
    },
    async close() {
      await appSql.end({ timeout: 5 });
      await discord.close();
      await web.close();
      await db.drop();
    },
  };
}

/** Runs `fn` in a fresh world and tears it down afterwards. */
export async function withPlanRolesWorld(fn: (world: PlanRolesWorld) => Promise<void>) {
  const world = await startPlanRolesWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}
