/**
 * `deno task import -- --guild <id> --file <csv> [--dry-run]` brings subscribers an operator
 * already has in Stripe into rolepass. Each row maps a Discord user id to a Stripe customer or
 * subscription; every row is checked against Stripe and the database first
 * (functions/_core/subscriber_import.ts), and nothing is written unless every row passes. Then
 * each membership is tied to its customer, rolepass's metadata is written on the customer and
 * the subscription (as Checkout writes it), and the membership is synced through the webhook's
 * own path, which owns it from then on.
 *
 * In platform mode a subscriber is imported only when their money goes to the guild's own
 * connected account (docs/DECISIONS.md).
 *
 * Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, ROLEPASS_STRIPE_MODE and DATABASE_URL (or
 * SUPABASE_DB_URL) from the environment or the project's `.env`.
 */
import {
  decideImportRow,
  IMPORT_HEADER,
  type ImportFacts,
  type ImportRow,
  parseImportFile,
  type RefusedRow,
} from "../_core/subscriber_import.ts";
import { foreignMoneyReason, type StripeMode } from "../_core/connect.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import { ROLEPASS_METADATA } from "../_core/stripe_shapes.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { parseEnv, requireDatabaseUrl } from "../_shared/env.ts";
import { guildStripeAccount } from "../_shared/guild_stripe_accounts.ts";
import { createLogger } from "../_shared/log.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import {
  connectStripe,
  type CustomerFacts,
  isMissingStripeObject,
  type StripeGateway,
  stripeTaskEnv,
} from "../_shared/stripe_gateway.ts";
import { syncSubscription } from "../_shared/subscription_sync.ts";
import type { TaskOutput } from "./close.ts";
import { runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task import`. */
export const IMPORT_TASK: TaskDefinition = {
  name: "import",
  help: `Usage: deno task import -- --guild <guild id> --file <csv> [--dry-run]

Brings existing Stripe subscribers into rolepass. The file starts with the line
  ${IMPORT_HEADER}
then one member per line: a Discord user id and their Stripe customer (cus_...) or
subscription (sub_...). Every row is checked against Stripe (it exists, is not over, sells a plan
of this guild, is not another member's or another guild's; in platform mode, pays this guild's own
account); refused rows are listed with the
reason and then nothing is written. Otherwise each member is tied to the customer, rolepass's
metadata is written on Stripe, and the role follows the subscription from then on.
  --dry-run   check every row and write nothing

Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, ROLEPASS_STRIPE_MODE, DATABASE_URL (or
SUPABASE_DB_URL) from the environment or .env.`,
  flags: {
    guild: { type: "string" },
    file: { type: "string" },
    "dry-run": { type: "boolean" },
  },
};

/** What an import needs. */
export interface ImportDeps {
  sql: Sql;
  stripe: StripeGateway;
  now: () => Date;
  /** Platform mode imports only subscriptions paying the guild's own account (else standalone). */
  stripeMode?: StripeMode;
}

/** A row that passed, with what it resolved to. */
export interface AcceptedRow extends ImportRow {
  customerId: string;
  subscriptionIds: string[];
}

/** What an import found and did. */
export interface ImportReport {
  accepted: AcceptedRow[];
  refused: RefusedRow[];
  /** Whether anything was written (never when a row was refused or on a dry run). */
  written: boolean;
}

/** Checks every row of `text` for `guildId`, then writes them all unless any is refused. */
export async function importSubscribers(
  deps: ImportDeps,
  guildId: string,
  text: string,
  options: { dryRun: boolean },
): Promise<ImportReport | { unknownGuild: true }> {
  const [guild] = await deps.sql`select 1 from rolepass.guilds where id = ${guildId}`;
  if (!guild) return { unknownGuild: true };
  const parsed = parseImportFile(text);
  const refused = [...parsed.refused];
  const plans = await deps.sql<{ stripe_price_id: string; guild_id: string }[]>`
    select stripe_price_id, guild_id from rolepass.plans`;
  const guildPriceIds = new Set(
    plans.filter((p) => p.guild_id === guildId).map((p) => p.stripe_price_id),
  );
  const otherGuildByPrice = new Map(
    plans.filter((p) => p.guild_id !== guildId).map((p) => [p.stripe_price_id, p.guild_id]),
  );
  const paidTo = (deps.stripeMode ?? "standalone") === "platform"
    ? { accountId: (await guildStripeAccount(deps.sql, guildId))?.accountId ?? null }
    : null;
  const accepted: AcceptedRow[] = [];
  for (const row of parsed.rows) {
    const facts = await readFacts(deps, guildId, row, guildPriceIds, otherGuildByPrice, paidTo);
    const decision = decideImportRow(guildId, row, facts);
    if (!decision.ok) {
      refused.push({ line: row.line, reason: decision.reason });
      continue;
    }
    const sameCustomer = accepted.find((other) => other.customerId === decision.customerId);
    if (sameCustomer) {
      refused.push({
        line: row.line,
        reason: `${decision.customerId} is also line ${sameCustomer.line}'s customer`,
      });
      continue;
    }
    accepted.push({ ...row, ...decision });
  }
  refused.sort((a, b) => a.line - b.line);
  if (refused.length || options.dryRun || accepted.length === 0) {
    return { accepted, refused, written: false };
  }
  await writeImport(deps, guildId, accepted);
  return { accepted, refused, written: true };
}

async function readFacts(
  deps: ImportDeps,
  guildId: string,
  row: ImportRow,
  guildPriceIds: ReadonlySet<string>,
  otherGuildByPrice: ReadonlyMap<string, string>,
  paidTo: { accountId: string | null } | null,
): Promise<ImportFacts> {
  let customer: CustomerFacts | null;
  try {
    const customerId = row.stripeId.startsWith("sub_")
      ? (await deps.stripe.retrieveSubscription(row.stripeId)).customerId
      : row.stripeId;
    customer = await deps.stripe.retrieveCustomer(customerId);
  } catch (error) {
    if (isMissingStripeObject(error)) return { found: false };
    throw error;
  }
  if (!customer) return { found: false };
  const subscriptions = await deps.stripe.listCustomerSubscriptions(customer.id);
  const [holder] = await deps.sql<{ guild_id: string; discord_user_id: string }[]>`
    select guild_id, discord_user_id from rolepass.memberships
    where stripe_customer_id = ${customer.id} limit 1`;
  const [member] = await deps.sql<{ stripe_customer_id: string | null }[]>`
    select stripe_customer_id from rolepass.memberships
    where guild_id = ${guildId} and discord_user_id = ${row.discordUserId}`;
  return {
    found: true,
    customerId: customer.id,
    customerMetadata: customer.metadata,
    subscriptions: subscriptions.map((subscription) => ({
      id: subscription.id,
      status: subscription.status,
      priceIds: subscription.priceIds,
      metadata: subscription.metadata,
      foreignMoney: paidTo && foreignMoneyReason(guildId, paidTo.accountId, {
        customerId: null,
        destination: subscription.destination,
        onBehalfOf: subscription.onBehalfOf,
      }),
    })),
    guildPriceIds,
    otherGuildByPrice,
    customerHolder: holder
      ? { guildId: holder.guild_id, discordUserId: holder.discord_user_id }
      : null,
    memberCustomerId: member?.stripe_customer_id ?? null,
  };
}

/**
 * Ties every membership to its customer in one transaction, then writes the metadata on Stripe
 * and syncs. Stripe's writes cannot join the transaction; a run cut short in between is finished
 * by running the same file again (a row already tied to its member is accepted again).
 */
async function writeImport(deps: ImportDeps, guildId: string, rows: AcceptedRow[]) {
  const membershipIds = new Map<string, string>();
  await deps.sql.begin(async (tx) => {
    for (const row of rows) {
      const [membership] = await tx<{ id: string }[]>`
        insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
          change_cause)
        values (${guildId}, ${row.discordUserId}, ${row.customerId}, 'import')
        on conflict (guild_id, discord_user_id) do update
          set stripe_customer_id = excluded.stripe_customer_id, change_cause = 'import'
        returning id`;
      if (!membership) throw new Error(`Cannot write the membership of line ${row.line}`);
      membershipIds.set(row.discordUserId, membership.id);
    }
  });
  const logger = createLogger("import");
  for (const row of rows) {
    const metadata = {
      [ROLEPASS_METADATA.guildId]: guildId,
      [ROLEPASS_METADATA.discordUserId]: row.discordUserId,
      [ROLEPASS_METADATA.membershipId]: membershipIds.get(row.discordUserId) ?? "",
    };
    await deps.stripe.updateCustomerMetadata(row.customerId, metadata);
    for (const subscriptionId of row.subscriptionIds) {
      await deps.stripe.updateSubscriptionMetadata(subscriptionId, metadata);
    }
    await syncSubscription(
      { ...deps, logger },
      { customerId: row.customerId },
      { cause: "import", eventId: null },
    );
  }
}

/** The task's body; returns the exit code (1 when a row was refused). */
export async function runImport(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const guild = discordIdSchema.safeParse(flags.guild);
  if (!guild.success) {
    output.error("import: --guild must be a Discord server id (17 to 20 digits)");
    return USAGE_EXIT_CODE;
  }
  if (typeof flags.file !== "string" || flags.file === "") {
    output.error("import: --file must name the CSV file to import");
    return USAGE_EXIT_CODE;
  }
  let text: string;
  try {
    text = await Deno.readTextFile(flags.file);
  } catch {
    output.error(`import: cannot read ${flags.file}: check the path`);
    return USAGE_EXIT_CODE;
  }
  const config = parseEnv(stripeTaskEnv, env);
  const sql = createSql(requireDatabaseUrl(env), { max: 2 });
  try {
    const dryRun = flags["dry-run"] === true;
    const report = await importSubscribers(
      {
        sql,
        stripe: connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL),
        now: () => new Date(),
        stripeMode: stripeModeFrom(env),
      },
      guild.data,
      text,
      { dryRun },
    );
    if ("unknownGuild" in report) {
      output.error(`import: guild ${guild.data} is not configured: run deno task plans:apply`);
      return 1;
    }
    for (const row of report.refused) output.error(`line ${row.line}: refused: ${row.reason}`);
    const verb = report.written ? "imported" : "would import";
    for (const row of report.accepted) {
      output.out(`line ${row.line}: ${verb} ${row.discordUserId} <- ${row.customerId}`);
    }
    output.out(
      report.refused.length
        ? `${report.refused.length} row(s) refused: nothing was imported. Fix them and run again.`
        : report.written
        ? `${report.accepted.length} member(s) imported.`
        : `${report.accepted.length} member(s) would be imported (dry run: nothing written).`,
    );
    return report.refused.length ? 1 : 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(IMPORT_TASK, ({ args, env }) =>
    runImport(args.flags, env.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}
