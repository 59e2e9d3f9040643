/**
 * Shared arrangement for the role-sync integration tests: a fresh migrated database, the Discord
 * double with a guild and two plan roles, and the role-sync app built from its real dependencies.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { holdsLiveSubscription } from "../../functions/_core/subscription_state.ts";
import { createApp, type RoleSyncDeps } from "../../functions/role-sync/app.ts";
import { depsFromConfig, type RoleSyncTuning } from "../../functions/role-sync/config.ts";
import type { DrainSummary } from "../../functions/role-sync/role_sync.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { createSql, type Sql } from "../../functions/_shared/db.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import {
  type DiscordDouble,
  type DiscordDoubleOptions,
  startDiscordDouble,
} from "../doubles/discord.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";

/** The shared secret the tests send. */
export const ROLE_SYNC_SECRET = "test-role-sync-secret-0123456789";
/** A bot token long enough for the configuration schema. */
export const BOT_TOKEN = "test-bot-token-0123456789abcdef";

/** Everything a role-sync test works with. */
export interface RoleSyncWorld {
  db: TestDatabase;
  discord: DiscordDouble;
  /** The app's own database client (the one role-sync uses). */
  appSql: Sql;
  deps: RoleSyncDeps;
  app: ReturnType<typeof createApp>;
  guildId: string;
  goldRoleId: string;
  silverRoleId: string;
  goldPlanId: string;
  silverPlanId: string;
  /** Adds a Discord member and a (not yet entitled) membership; returns the membership id. */
  addMember(
    userId: string,
    options?: { locale?: Locale; inDiscord?: boolean; dmsClosed?: boolean },
  ): Promise<string>;
  /** Sets what the membership entitles: a plan's role, or nothing. */
  entitle(membershipId: string, plan: "gold" | "silver" | null, cause?: string): Promise<void>;
  /** Drains once with the app's dependencies. */
  drain(budgetMs?: number): Promise<DrainSummary>;
  /** Drains until no job is open (waiting out backoffs), or throws after `maxMs`. */
  settle(maxMs?: number): Promise<void>;
  jobs(): Promise<JobRow[]>;
}

/** A role_jobs row as tests read it. */
export interface JobRow {
  id: number;
  membership_id: string;
  discord_user_id: string;
  status: string;
  outcome: string | null;
  attempts: number;
  last_error: string | null;
  notice_status: string | null;
  alerted_at: Date | null;
}

/** Options of {@linkcode withRoleSync}. */
export interface RoleSyncWorldOptions {
  tuning?: RoleSyncTuning;
  double?: DiscordDoubleOptions;
  operatorLogChannel?: boolean;
}

/** Runs `fn` in a fresh world and tears it down afterwards. */
export function withRoleSync(
  fn: (world: RoleSyncWorld) => Promise<void>,
  options: RoleSyncWorldOptions = {},
): Promise<void> {
  return withTestDatabase(async (db) => {
    setLogSink(() => {});
    const discord = await startDiscordDouble({ botToken: BOT_TOKEN, ...options.double });
    const appSql = createSql(db.url, { max: 10 });
    try {
      const guild = discord.addGuild({ botRolePosition: 10 });
      const gold = discord.addRole(guild.id, { name: "Gold", position: 5 });
      const silver = discord.addRole(guild.id, { name: "Silver", position: 4 });
      const channel = options.operatorLogChannel ? discord.addChannel(guild.id) : null;
      const sql = db.sql;
      await sql`insert into rolepass.guilds (id, name, operator_log_channel_id)
        values (${guild.id}, 'Test guild', ${channel?.id ?? null})`;
      const insertPlan = async (price: string, roleId: string, name: string, ja: string) => {
        const [plan] = await sql<{ id: string }[]>`
          insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
            unit_amount, currency, billing_interval)
          values (${guild.id}, ${price}, ${roleId},
            ${sql.json({ en: { name }, ja: { name: ja } })}, 500, 'jpy', 'month')
          returning id`;
        assert(plan, "plan is missing");
        return plan.id;
      };
      const goldPlanId = await insertPlan("price_gold", gold.id, "Gold", "ゴールド");
      const silverPlanId = await insertPlan("price_silver", silver.id, "Silver", "シルバー");
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
          discordTimeoutMs: 2_000,
          retryPolicy: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 },
          ...options.tuning,
        },
        appSql,
      );
      const app = createApp(deps);
      const world: RoleSyncWorld = {
        db,
        discord,
        appSql,
        deps,
        app,
        guildId: guild.id,
        goldRoleId: gold.id,
        silverRoleId: silver.id,
        goldPlanId,
        silverPlanId,
        async addMember(userId, memberOptions = {}) {
          if (memberOptions.inDiscord !== false) {
            discord.addMember(guild.id, userId, { dmsClosed: memberOptions.dmsClosed });
          }
          const [row] = await sql<{ id: string }[]>`
            insert into rolepass.memberships (guild_id, discord_user_id, locale,
              stripe_customer_id, stripe_subscription_id)
            values (${guild.id}, ${userId}, ${memberOptions.locale ?? "en"}, ${"cus_" + userId},
              ${"sub_" + userId})
            returning id`;
          assert(row, "row is missing");
          return row.id;
        },
        async entitle(membershipId, plan, cause = "test") {
          const planId = plan === "gold" ? goldPlanId : plan === "silver" ? silverPlanId : null;
          const roleId = plan === "gold" ? gold.id : plan === "silver" ? silver.id : null;
          const status = plan === null ? "canceled" : "active";
          // What the sync stores with it, decided by the core as the sync decides it.
          const live = holdsLiveSubscription({
            entitled: plan !== null,
            stripeSubscriptionId: "sub",
            status,
          });
          await sql`
            update rolepass.memberships
            set entitled = ${plan !== null}, entitled_role_id = ${roleId},
              plan_id = coalesce(${planId}::uuid, plan_id),
              status = ${status}, subscription_live = ${live}, change_cause = ${cause}
            where id = ${membershipId}`;
        },
        drain(budgetMs = 10_000) {
          return drainRoleJobs(deps, Date.now() + budgetMs);
        },
        async settle(maxMs = 20_000) {
          const until = Date.now() + maxMs;
          while (Date.now() < until) {
            await drainRoleJobs(deps, Date.now() + 10_000);
            const { open } = first(
              await sql<{ open: number }[]>`
              select (select count(*) from rolepass.role_jobs
                where status in ('pending', 'running'))::int
                + (select count(*) from rolepass.notices
                  where status in ('pending', 'running'))::int as open`,
              "a row",
            );
            if (open === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
          throw new Error("role jobs did not settle in time");
        },
        jobs() {
          return sql<JobRow[]>`
            select id::int, membership_id, discord_user_id, status, outcome, attempts, last_error,
              notice_status, alerted_at
            from rolepass.role_jobs order by id`;
        },
      };
      await fn(world);
    } finally {
      await appSql.end({ timeout: 5 });
      await discord.close();
      setLogSink(null);
    }
  });
}

/** Sets the rows the database webhook stand-in reads (Vault's role_sync_url and secret). */
export async function configureVault(sql: Sql, url: string): Promise<void> {
  await sql`select vault.create_secret(${url}, 'role_sync_url')`;
  await sql`select vault.create_secret(${ROLE_SYNC_SECRET}, 'role_sync_secret')`;
}
