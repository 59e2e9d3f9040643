/**
 * Runs every check in order: the environment, then the database (migrations, the configured
 * guilds and plans, Vault), then Discord (token, then per guild: membership, permissions, roles),
 * then Stripe (key, prices, webhook endpoint, portal). A check whose inputs are unusable is
 * reported as not checked rather than guessed.
 */
import { createDiscordApi } from "../../_shared/discord_api.ts";
import { createSql } from "../../_shared/db.ts";
import { connectStripe } from "../../_shared/stripe_gateway.ts";
import {
  checkConfiguredPlans,
  type ConfiguredGuild,
  fetchConfiguredGuilds,
} from "./configured_plans.ts";
import {
  checkMigrations,
  fetchAppliedVersions,
  migrationFileVersions,
} from "./database_migrations_check.ts";
import { fetchBotFacts, fetchGuildFacts } from "./discord_facts.ts";
import { checkBotInGuild } from "./discord_guild_check.ts";
import { checkBotCanManageRoles } from "./discord_permissions_check.ts";
import { checkPaidRolesExist } from "./discord_roles_check.ts";
import { checkDiscordToken } from "./discord_token_check.ts";
import { checkEnvironment } from "./env_check.ts";
import { type Finding, skip } from "./finding.ts";
import { fetchStripeFacts } from "./stripe_facts.ts";
import { checkPlatformMode, fetchConnectFacts } from "./stripe_connect_check.ts";
import { checkStripeKey } from "./stripe_key_check.ts";
import { checkPrices } from "./stripe_prices_check.ts";
import { checkCustomerPortal, checkPortalPlanSwitching } from "./stripe_portal_check.ts";
import { checkWebhookEndpoint } from "./stripe_webhook_check.ts";
import { checkVault, fetchVaultFacts } from "./vault_check.ts";

/** What the doctor needs besides the environment. */
export interface DoctorOptions {
  /** The folder of migration files. Default: this project's supabase/migrations. */
  migrationsDir?: string | URL;
}

const DEFAULT_MIGRATIONS_DIR = new URL("../../../supabase/migrations/", import.meta.url);

/** Checks the configuration in `rawEnv` against the services it names; returns every finding. */
export async function runDoctor(
  rawEnv: Record<string, string | undefined>,
  options: DoctorOptions = {},
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const report = (more: Finding[]) => findings.push(...more);

  const { findings: envFindings, env } = checkEnvironment(rawEnv);
  report(envFindings);

  let guilds: ConfiguredGuild[] | null = null;
  if (env.DATABASE_URL) {
    const sql = createSql(env.DATABASE_URL, { max: 1 });
    try {
      const files = await migrationFileVersions(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
      report(checkMigrations(files, await fetchAppliedVersions(sql)));
      const configured = await fetchConfiguredGuilds(sql);
      report(checkConfiguredPlans(configured));
      if (configured.ok && configured.value.length) guilds = configured.value;
      report(checkVault(await fetchVaultFacts(sql), {
        supabaseUrl: env.SUPABASE_URL,
        roleSyncSecret: env.ROLE_SYNC_SECRET,
      }));
    } finally {
      await sql.end({ timeout: 5 });
    }
  } else {
    report([
      skip("database.migrations", "Database migrations", "DATABASE_URL"),
      skip("database.plans", "Configured guilds and plans", "DATABASE_URL"),
      skip("vault.role_sync", "Vault's role_sync_url and role_sync_secret", "DATABASE_URL"),
    ]);
  }

  if (env.DISCORD_BOT_TOKEN && env.DISCORD_API_BASE_URL) {
    const discord = createDiscordApi(env.DISCORD_API_BASE_URL, env.DISCORD_BOT_TOKEN);
    const bot = await fetchBotFacts(discord);
    report(checkDiscordToken(bot, {
      applicationId: env.DISCORD_APPLICATION_ID,
      publicKey: env.DISCORD_PUBLIC_KEY,
    }));
    if (!bot.user.ok) {
      report([skip("discord.guild", "The bot's guilds, permissions and roles", "a valid token")]);
    } else if (!guilds) {
      report([
        skip("discord.guild", "The bot's guilds, permissions and roles", "configured plans"),
      ]);
    } else {
      for (const guild of guilds) {
        const facts = await fetchGuildFacts(discord, guild.id, bot.user.value.id);
        const applicationId = env.DISCORD_APPLICATION_ID ?? bot.user.value.id;
        report(checkBotInGuild(guild, facts, applicationId));
        report(checkBotCanManageRoles(guild, facts));
        report(checkPaidRolesExist(guild, facts));
      }
    }
  } else {
    report([skip("discord.token", "Discord bot token, guilds and roles", "DISCORD_BOT_TOKEN")]);
  }

  if (env.STRIPE_SECRET_KEY && env.STRIPE_API_BASE_URL) {
    const stripe = connectStripe(env.STRIPE_SECRET_KEY, env.STRIPE_API_BASE_URL, {
      maxNetworkRetries: 0,
    });
    const priceIds = (guilds ?? []).flatMap((guild) => guild.plans.map((p) => p.stripePriceId));
    const facts = await fetchStripeFacts(stripe, priceIds);
    report(checkStripeKey(facts));
    report(
      guilds
        ? checkPrices(guilds, facts)
        : [skip("stripe.prices", "Stripe prices of the plans", "configured plans")],
    );
    report(
      env.SUPABASE_URL
        ? checkWebhookEndpoint(facts, env.SUPABASE_URL)
        : [skip("stripe.webhook", "Stripe webhook endpoint", "SUPABASE_URL")],
    );
    report(checkCustomerPortal(facts));
    if (guilds) report(checkPortalPlanSwitching(facts, guilds));
    report(checkPlatformMode(
      await fetchConnectFacts(rawEnv, {
        databaseUrl: env.DATABASE_URL,
        stripe,
        guilds,
        webhookEndpoints: facts.webhookEndpoints,
        supabaseUrl: env.SUPABASE_URL,
      }),
    ));
  } else {
    report([
      skip("stripe.key", "Stripe key, prices, webhook endpoint and portal", "STRIPE_SECRET_KEY"),
    ]);
  }
  return findings;
}
