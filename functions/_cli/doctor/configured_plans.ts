/**
 * Check: the database holds the configuration the other checks verify — the guilds and active
 * plans `deno task plans:apply` wrote.
 */
import type { PassAccess } from "../../_core/one_time_pass.ts";
import type { Sql } from "../../_shared/db.ts";
import { fail, type Finding, pass } from "./finding.ts";
import { answered, type Probe, refused } from "./probe.ts";

/** An active plan as the database has it. */
export interface ConfiguredPlan {
  stripePriceId: string;
  discordRoleId: string;
  /** The plan's English name, for messages. */
  name: string;
  unitAmount: number;
  currency: string;
  /** Null for a pass. */
  billingInterval: string | null;
  intervalCount: number;
  /** What a one-time price sells; null for a subscription. */
  access: PassAccess | null;
}

/** A guild with its active plans. */
export interface ConfiguredGuild {
  id: string;
  name: string;
  /** Whether Checkout turns Stripe Tax on, which the prices must allow. */
  automaticTax: boolean;
  /** The guild's own Customer Portal configuration (saved by plans:apply), or null. */
  portalConfigurationId: string | null;
  plans: ConfiguredPlan[];
}

function accessOf(kind: string, seconds: number | null): PassAccess | null {
  if (kind === "lifetime") return { kind: "lifetime" };
  if (kind === "duration" && seconds !== null) return { kind: "duration", seconds, iso: "" };
  return null;
}

/** Reads every guild that has active plans, with those plans. */
export async function fetchConfiguredGuilds(sql: Sql): Promise<Probe<ConfiguredGuild[]>> {
  try {
    const rows = await sql<{
      guild_id: string;
      guild_name: string;
      automatic_tax: boolean;
      stripe_portal_configuration_id: string | null;
      stripe_price_id: string;
      discord_role_id: string;
      plan_name: string;
      unit_amount: number;
      currency: string;
      billing_interval: string | null;
      interval_count: number;
      access_kind: string;
      access_seconds: number | null;
    }[]>`
      select g.id as guild_id, g.name as guild_name, g.automatic_tax,
        g.stripe_portal_configuration_id, p.stripe_price_id,
        p.discord_role_id, p.display -> 'en' ->> 'name' as plan_name, p.unit_amount, p.currency,
        p.billing_interval, p.interval_count, p.access_kind,
        extract(epoch from p.access_duration)::float8 as access_seconds
      from rolepass.guilds g join rolepass.plans p on p.guild_id = g.id
      where p.active
      order by g.id, p.sort_order, p.stripe_price_id`;
    const guilds = new Map<string, ConfiguredGuild>();
    for (const row of rows) {
      const guild = guilds.get(row.guild_id) ??
        {
          id: row.guild_id,
          name: row.guild_name,
          automaticTax: row.automatic_tax,
          portalConfigurationId: row.stripe_portal_configuration_id,
          plans: [],
        };
      guild.plans.push({
        stripePriceId: row.stripe_price_id,
        discordRoleId: row.discord_role_id,
        name: row.plan_name,
        unitAmount: row.unit_amount,
        currency: row.currency,
        billingInterval: row.billing_interval,
        intervalCount: row.interval_count,
        access: accessOf(row.access_kind, row.access_seconds),
      });
      guilds.set(row.guild_id, guild);
    }
    return answered([...guilds.values()]);
  } catch (error) {
    const code = (error as { code?: string }).code ?? null;
    return refused(null, code, error instanceof Error ? error.message : String(error));
  }
}

/** Whether there is anything to sell. */
export function checkConfiguredPlans(guilds: Probe<ConfiguredGuild[]>): Finding[] {
  if (!guilds.ok) {
    return [fail(
      "database.plans",
      `Cannot read guilds and plans from the database: ${guilds.error}`,
      "migrate the database first (supabase db push), then run `deno task plans:apply`",
    )];
  }
  if (guilds.value.length === 0) {
    return [fail(
      "database.plans",
      "No guild has an active plan: there is nothing to sell",
      "copy supabase/plans.example.json to supabase/plans.json, fill it in, and run " +
        "`deno task plans:apply`",
    )];
  }
  const plans = guilds.value.reduce((sum, guild) => sum + guild.plans.length, 0);
  return [pass(
    "database.plans",
    `Configured: ${guilds.value.length} guild(s) with ${plans} active plan(s)`,
  )];
}
