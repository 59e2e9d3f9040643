/**
 * `deno task plans:apply [file] [--dry-run]`: writes the operator's plans file (default
 * `supabase/plans.json`) to the `guilds` and `plans` tables.
 *
 * 1. The file is validated with zod; every bad field is reported by its path.
 * 2. Each price is fetched from Stripe, which is the truth for money: the amount, currency and
 *    interval stored with the plan come from there; archived, metered or tiered prices are
 *    refused, as are a one-time price without an access, a recurring price with one, and (with
 *    Stripe Tax on) a price that does not say whether it includes tax.
 * 3. Guilds and plans are upserted in one transaction; plans that left the file become inactive,
 *    never deleted, since memberships and history refer to them.
 * 4. Each guild's own Customer Portal configuration is saved in Stripe (switching between exactly
 *    its subscription prices) and its id stored on the guild.
 *
 * Nothing is written when any step finds a problem. Variables come from the environment and the
 * project's `.env`: STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, DATABASE_URL or SUPABASE_DB_URL.
 */
import { z } from "zod";
import {
  parsePlansFile,
  type PlanPriceTerms,
  planPriceTerms,
  type PlansFile,
  type StripePriceFacts,
} from "../_core/plans_file.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { ConfigError, databaseUrlFrom, parseEnv } from "../_shared/env.ts";
import {
  connectStripe,
  type StripeGateway,
  stripeRefusalOf,
  stripeTaskEnv,
} from "../_shared/stripe_gateway.ts";
import { createLogger } from "../_shared/log.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import { resyncGuildSubscriptions } from "../role-sync/reconciliation_stripe.ts";
import { parseCommandLine, runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The default location of the operator's plans file. */
export const DEFAULT_PLANS_FILE = "supabase/plans.json";

/** A plans file that cannot be applied; `problems` name each bad field. Nothing was written. */
export class PlansApplyError extends Error {
  constructor(readonly problems: string[]) {
    super(`Cannot apply the plans file:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "PlansApplyError";
  }
}

/** Price terms by Stripe price id. */
export type PriceTermsById = Map<string, StoredPriceTerms>;

/** What `plans` stores of a price: a subscription's interval, or a pass's access. */
export interface StoredPriceTerms {
  unit_amount: number;
  currency: string;
  /** Null for a pass. */
  billing_interval: string | null;
  interval_count: number;
  access_kind: "subscription" | "lifetime" | "duration";
  /** A duration pass's length, as a Postgres interval. */
  access_duration: string | null;
  tax_behavior: PlanPriceTerms["tax_behavior"];
}

/** A Postgres interval of `seconds`, in whole days when it is some ("30 days"). */
function intervalOf(seconds: number): string {
  return seconds % 86_400 === 0 ? `${seconds / 86_400} days` : `${seconds} seconds`;
}

function storedTerms(terms: PlanPriceTerms): StoredPriceTerms {
  const { sale } = terms;
  const subscription = sale.kind === "subscription";
  return {
    unit_amount: terms.unit_amount,
    currency: terms.currency,
    billing_interval: subscription ? sale.billing_interval : null,
    interval_count: subscription ? sale.interval_count : 1,
    access_kind: subscription ? "subscription" : sale.access.kind,
    access_duration: !subscription && sale.access.kind === "duration"
      ? intervalOf(sale.access.seconds)
      : null,
    tax_behavior: terms.tax_behavior,
  };
}

/**
 * Fetches every price of the file from Stripe and checks it can back its plan.
 * Throws PlansApplyError listing every price that cannot, by its path in the file.
 */
export async function fetchPriceTerms(
  stripe: StripeGateway,
  file: PlansFile,
): Promise<PriceTermsById> {
  const terms: PriceTermsById = new Map();
  const problems: string[] = [];
  for (const [g, guild] of file.guilds.entries()) {
    for (const [p, plan] of guild.plans.entries()) {
      const at = `guilds[${g}].plans[${p}]`;
      const where = `${at}.stripe_price_id`;
      let price: StripePriceFacts;
      try {
        price = await stripe.retrievePrice(plan.stripe_price_id);
      } catch (error) {
        const refusal = stripeRefusalOf(error);
        if (refusal?.type === "StripeAuthenticationError") {
          throw new PlansApplyError([
            "Stripe rejected STRIPE_SECRET_KEY: copy the secret key from Dashboard → Developers → " +
            "API keys",
          ]);
        }
        if (refusal?.code === "resource_missing") {
          problems.push(
            `${where}: price ${plan.stripe_price_id} does not exist in this Stripe account ` +
              "(check test vs live mode)",
          );
          continue;
        }
        throw error;
      }
      const decided = planPriceTerms(price, {
        allowArchived: !plan.active,
        access: plan.access,
        automaticTax: guild.tax.automatic,
      });
      if (decided.ok) terms.set(plan.stripe_price_id, storedTerms(decided.terms));
      else {problems.push(...decided.problems.map((problem) =>
          `${at}.${problem.field}: ${problem.reason}`
        ));}
    }
  }
  if (problems.length) throw new PlansApplyError(problems);
  return terms;
}

/** What one apply changed. */
export interface ApplySummary {
  guildsAdded: number;
  guildsUpdated: number;
  plansAdded: number;
  plansUpdated: number;
  plansUnchanged: number;
  /** Price ids of plans that left the file and were made inactive. */
  plansDeactivated: string[];
  /** Guilds whose past_due grace changed: their past_due members are decided again. */
  graceChangedGuildIds: string[];
}

/**
 * Upserts the file's guilds and plans in one transaction and deactivates plans that are no
 * longer in it. A price already sold in another guild is refused: its memberships belong there.
 */
export async function applyPlansFile(
  sql: Sql,
  file: PlansFile,
  terms: PriceTermsById,
): Promise<ApplySummary> {
  const summary: ApplySummary = {
    guildsAdded: 0,
    guildsUpdated: 0,
    plansAdded: 0,
    plansUpdated: 0,
    plansUnchanged: 0,
    plansDeactivated: [],
    graceChangedGuildIds: [],
  };
  const priceIds = file.guilds.flatMap((guild) => guild.plans.map((p) => p.stripe_price_id));
  await sql.begin(async (tx) => {
    const owners = await tx<{ stripe_price_id: string; guild_id: string }[]>`
      select stripe_price_id, guild_id from rolepass.plans
      where stripe_price_id = any(${priceIds}::text[])`;
    const problems: string[] = [];
    for (const [g, guild] of file.guilds.entries()) {
      for (const [p, plan] of guild.plans.entries()) {
        const owner = owners.find((row) => row.stripe_price_id === plan.stripe_price_id);
        if (owner && owner.guild_id !== guild.id) {
          problems.push(
            `guilds[${g}].plans[${p}].stripe_price_id: price ${plan.stripe_price_id} is already ` +
              `sold in guild ${owner.guild_id}; create a separate price in Stripe for this guild`,
          );
        }
      }
    }
    if (problems.length) throw new PlansApplyError(problems);
    const guildIds = file.guilds.map((guild) => guild.id);
    const gracesBefore = await tx<{ id: string; past_due_grace: string }[]>`
      select id, past_due_grace::text from rolepass.guilds where id = any(${guildIds}::text[])`;

    for (const guild of file.guilds) {
      const [row] = await tx<{ inserted: boolean }[]>`
        insert into rolepass.guilds as g (
          id, name, default_locale, seller_notice, past_due_grace, revoke_on_refund,
          revoke_on_dispute, refund_policy, dispute_policy, operator_log_channel_id,
          operator_log_muted_kinds, automatic_tax, billing_address_collection
        ) values (
          ${guild.id}, ${guild.name}, ${guild.default_locale},
          ${tx.json(guild.seller_notice)}, ${guild.past_due_grace}::interval,
          ${guild.revoke_on_refund}, ${guild.revoke_on_dispute}, ${guild.refund_policy},
          ${guild.dispute_policy}, ${guild.operator_log_channel_id},
          ${guild.operator_log_muted_kinds}::text[], ${guild.tax.automatic},
          ${guild.tax.billing_address_collection ?? null}
        )
        on conflict (id) do update set
          name = excluded.name,
          default_locale = excluded.default_locale,
          seller_notice = excluded.seller_notice,
          past_due_grace = excluded.past_due_grace,
          revoke_on_refund = excluded.revoke_on_refund,
          revoke_on_dispute = excluded.revoke_on_dispute,
          refund_policy = excluded.refund_policy,
          dispute_policy = excluded.dispute_policy,
          operator_log_channel_id = excluded.operator_log_channel_id,
          operator_log_muted_kinds = excluded.operator_log_muted_kinds,
          automatic_tax = excluded.automatic_tax,
          billing_address_collection = excluded.billing_address_collection
        where (g.name, g.default_locale, g.seller_notice, g.past_due_grace, g.refund_policy,
            g.dispute_policy, g.operator_log_channel_id, g.operator_log_muted_kinds,
            g.automatic_tax, g.billing_address_collection)
          is distinct from (excluded.name, excluded.default_locale, excluded.seller_notice,
            excluded.past_due_grace, excluded.refund_policy, excluded.dispute_policy,
            excluded.operator_log_channel_id, excluded.operator_log_muted_kinds,
            excluded.automatic_tax, excluded.billing_address_collection)
        returning (xmax = 0) as inserted`;
      if (row?.inserted) summary.guildsAdded++;
      else if (row) summary.guildsUpdated++;

      for (const plan of guild.plans) {
        const price = terms.get(plan.stripe_price_id);
        if (!price) throw new Error(`No Stripe terms fetched for ${plan.stripe_price_id}`);
        const [planRow] = await tx<{ inserted: boolean }[]>`
          insert into rolepass.plans as p (
            guild_id, stripe_price_id, discord_role_id, discord_role_ids, trial_days,
            trial_role_ids, trial_payment_method, trial_missing_payment_method, display,
            unit_amount, currency, billing_interval, interval_count, sort_order, active,
            access_kind, access_duration, allow_promotion_codes, tax_behavior
          ) values (
            ${guild.id}, ${plan.stripe_price_id}, ${plan.discord_role_id},
            ${plan.discord_role_ids}::text[], ${plan.trial?.days ?? null},
            ${plan.trial?.roleIds ?? null}::text[],
            ${plan.trial?.paymentMethod ?? "required"},
            ${plan.trial?.missingPaymentMethod ?? "cancel"},
            ${tx.json(plan.display)}, ${price.unit_amount}, ${price.currency},
            ${price.billing_interval}, ${price.interval_count}, ${plan.sort_order}, ${plan.active},
            ${price.access_kind}, ${price.access_duration}::interval, ${plan.promotion_codes},
            ${price.tax_behavior}
          )
          on conflict (stripe_price_id) do update set
            discord_role_id = excluded.discord_role_id,
            discord_role_ids = excluded.discord_role_ids,
            trial_days = excluded.trial_days,
            trial_role_ids = excluded.trial_role_ids,
            trial_payment_method = excluded.trial_payment_method,
            trial_missing_payment_method = excluded.trial_missing_payment_method,
            display = excluded.display,
            unit_amount = excluded.unit_amount,
            currency = excluded.currency,
            billing_interval = excluded.billing_interval,
            interval_count = excluded.interval_count,
            sort_order = excluded.sort_order,
            active = excluded.active,
            access_kind = excluded.access_kind,
            access_duration = excluded.access_duration,
            allow_promotion_codes = excluded.allow_promotion_codes,
            tax_behavior = excluded.tax_behavior
          where (p.discord_role_ids, p.trial_days, p.trial_role_ids, p.trial_payment_method,
              p.trial_missing_payment_method, p.display, p.unit_amount, p.currency,
              p.billing_interval, p.interval_count, p.sort_order, p.active, p.access_kind,
              p.access_duration, p.allow_promotion_codes, p.tax_behavior)
            is distinct from (excluded.discord_role_ids, excluded.trial_days,
              excluded.trial_role_ids, excluded.trial_payment_method,
              excluded.trial_missing_payment_method, excluded.display, excluded.unit_amount,
              excluded.currency, excluded.billing_interval, excluded.interval_count,
              excluded.sort_order, excluded.active, excluded.access_kind,
              excluded.access_duration, excluded.allow_promotion_codes, excluded.tax_behavior)
          returning (xmax = 0) as inserted`;
        if (planRow?.inserted) summary.plansAdded++;
        else if (planRow) summary.plansUpdated++;
        else summary.plansUnchanged++;
      }
    }

    const gracesAfter = await tx<{ id: string; past_due_grace: string }[]>`
      select id, past_due_grace::text from rolepass.guilds where id = any(${guildIds}::text[])`;
    summary.graceChangedGuildIds = gracesAfter.filter((after) =>
      gracesBefore.some((before) =>
        before.id === after.id && before.past_due_grace !== after.past_due_grace
      )
    ).map((row) => row.id).sort();

    const deactivated = await tx<{ stripe_price_id: string }[]>`
      update rolepass.plans set active = false
      where active and stripe_price_id <> all(${priceIds}::text[])
      returning stripe_price_id`;
    summary.plansDeactivated = deactivated.map((row) => row.stripe_price_id).sort();
  });
  return summary;
}

/** A guild's own Customer Portal configuration, as {@link saveGuildPortalConfigurations} left it. */
export interface SavedPortalConfiguration {
  guildId: string;
  configurationId: string;
  /** The subscription prices its members may switch between (none to switch with one). */
  priceIds: string[];
}

/**
 * Saves each of `guildIds`' own Customer Portal configuration in Stripe (created once, then
 * updated) and stores its id on the guild: a Stripe account has one default configuration, so
 * with several guilds on one account the default would let a member switch to another guild's
 * price. A guild that sells no subscription needs none.
 */
export async function saveGuildPortalConfigurations(
  sql: Sql,
  stripe: StripeGateway,
  guildIds: readonly string[],
): Promise<SavedPortalConfiguration[]> {
  const guilds = await sql<
    { id: string; stripe_portal_configuration_id: string | null; price_ids: string[] }[]
  >`
    select g.id, g.stripe_portal_configuration_id,
      coalesce(array_agg(p.stripe_price_id order by p.sort_order, p.stripe_price_id)
        filter (where p.active and p.access_kind = 'subscription'), '{}') as price_ids
    from rolepass.guilds g left join rolepass.plans p on p.guild_id = g.id
    where g.id = any(${guildIds}::text[])
    group by g.id
    order by g.id`;
  const saved: SavedPortalConfiguration[] = [];
  for (const guild of guilds) {
    if (guild.price_ids.length === 0 && !guild.stripe_portal_configuration_id) continue;
    const configurationId = await stripe.saveGuildPortalConfiguration({
      configurationId: guild.stripe_portal_configuration_id,
      guildId: guild.id,
      priceIds: guild.price_ids,
    });
    if (configurationId !== guild.stripe_portal_configuration_id) {
      await sql`update rolepass.guilds set stripe_portal_configuration_id = ${configurationId}
        where id = ${guild.id}`;
    }
    saved.push({ guildId: guild.id, configurationId, priceIds: guild.price_ids });
  }
  return saved;
}

/** Describes a summary in one line. */
export function describeSummary(summary: ApplySummary): string {
  const deactivated = summary.plansDeactivated.length
    ? ` (${summary.plansDeactivated.join(", ")})`
    : "";
  return `guilds: ${summary.guildsAdded} added, ${summary.guildsUpdated} updated; ` +
    `plans: ${summary.plansAdded} added, ${summary.plansUpdated} updated, ` +
    `${summary.plansUnchanged} unchanged, ${summary.plansDeactivated.length} deactivated` +
    deactivated;
}

/** The task's command line. */
export const PLANS_APPLY_TASK: TaskDefinition = {
  name: "plans:apply",
  help: `Usage: deno task plans:apply [file] [--dry-run]

Writes the plans file (default ${DEFAULT_PLANS_FILE}) to the database, with each price's amount,
currency and interval read from Stripe. Nothing is written when anything is wrong.
  --dry-run   validate the file against Stripe and write nothing
  --help      print this help

Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL and DATABASE_URL (or SUPABASE_DB_URL) from the
environment and .env (the environment wins).`,
  flags: { "dry-run": { type: "boolean" } },
  maxPositionals: 1,
};

/** Where the command writes what it has to say (tests capture it). */
export interface Output {
  info(line: string): void;
  error(line: string): void;
}

const consoleOutput: Output = { info: console.log, error: console.error };

/**
 * The command: parses arguments and environment, reads and validates the file, fetches the
 * prices, applies. Returns the exit code: 0 applied, 1 the file or a price is wrong, 2 the
 * configuration or arguments are.
 */
export async function runPlansApply(
  args: string[],
  env: Record<string, string | undefined>,
  out: Output = consoleOutput,
): Promise<number> {
  const commandLine = parseCommandLine(PLANS_APPLY_TASK, args);
  if (commandLine.kind === "help") {
    out.info(commandLine.text);
    return 0;
  }
  if (commandLine.kind === "refused") {
    out.error(commandLine.message);
    return USAGE_EXIT_CODE;
  }
  const dryRun = commandLine.args.flags["dry-run"] === true;
  const positional = commandLine.args.positionals;
  const path = positional[0] ?? DEFAULT_PLANS_FILE;

  let config: z.infer<z.ZodObject<typeof stripeTaskEnv>>;
  const databaseUrl = databaseUrlFrom(env);
  try {
    config = parseEnv(stripeTaskEnv, env);
    if (!databaseUrl && !dryRun) {
      throw new ConfigError([
        "DATABASE_URL (or SUPABASE_DB_URL) is missing: Supabase Dashboard → Connect → " +
        "connection string",
      ]);
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      out.error(error.message);
      return 2;
    }
    throw error;
  }

  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      out.error(
        `Cannot read ${path}: no such file. Copy supabase/plans.example.json to ` +
          `${DEFAULT_PLANS_FILE} and fill in your guild, prices and roles.`,
      );
      return 1;
    }
    throw error;
  }
  const parsed = parsePlansFile(text);
  if (!parsed.ok) {
    out.error(describeRefusal(path, parsed.problems));
    return 1;
  }

  const stripe = connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL);
  let terms: PriceTermsById;
  try {
    terms = await fetchPriceTerms(stripe, parsed.file);
  } catch (error) {
    if (error instanceof PlansApplyError) {
      out.error(describeRefusal(path, error.problems));
      return 1;
    }
    throw error;
  }
  if (dryRun || !databaseUrl) {
    out.info(`${path} is valid and every price can back its plan (dry run: nothing written).`);
    return 0;
  }

  const sql = createSql(databaseUrl, { max: 1 });
  try {
    const summary = await applyPlansFile(sql, parsed.file, terms);
    out.info(`Applied ${path}: ${describeSummary(summary)}.`);
    const portals = await saveGuildPortalConfigurations(
      sql,
      stripe,
      parsed.file.guilds.map((guild) => guild.id),
    );
    for (const portal of portals) {
      out.info(
        `Guild ${portal.guildId}'s Customer Portal configuration ${portal.configurationId}: ` +
          (portal.priceIds.length >= 2
            ? `members may switch between ${portal.priceIds.join(", ")}.`
            : "no plan switching (fewer than two subscription plans)."),
      );
    }
    // Entitlement is decided in the core from the grace: members already past_due keep the
    // decision taken under the old grace until they are synced again, so sync them now.
    const syncDeps = {
      sql,
      stripe,
      now: () => new Date(),
      logger: createLogger("plans:apply"),
      stripeMode: stripeModeFrom(env),
    };
    for (const guildId of summary.graceChangedGuildIds) {
      const resync = await resyncGuildSubscriptions(syncDeps, guildId, "past_due");
      out.info(
        `Guild ${guildId}'s grace changed: ${resync.checked} past_due member(s) decided again, ` +
          `${resync.changed} changed` +
          (resync.failed.length
            ? `; ${resync.failed.length} could not be read from Stripe (run the command again)`
            : "") +
          ".",
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof PlansApplyError) {
      out.error(describeRefusal(path, error.problems));
      return 1;
    }
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function describeRefusal(path: string, problems: string[]): string {
  const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `Cannot apply ${path} (${count}; nothing was written):\n` +
    problems.map((problem) => `  - ${problem}`).join("\n");
}

if (import.meta.main) {
  await runTask(PLANS_APPLY_TASK, ({ env }) => runPlansApply(Deno.args, env.values));
}
