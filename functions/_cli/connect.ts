/**
 * `deno task connect`: a guild's Stripe Connect Express account in platform mode.
 *
 * - `onboard --guild <id> [--fee <percent>] [--country <XX>] [--email <address>]` creates the
 *   guild's Express account (once; a second run reuses it) and prints a private, single-use link to
 *   Stripe's hosted onboarding. The link comes back to the plan page's return page.
 * - `status --guild <id>` reads the account from Stripe, records it, and says where the guild
 *   stands (what account.updated also keeps current).
 * - `dashboard --guild <id>` prints a link that signs the community into its Express Dashboard
 *   (payouts, statements, exports).
 * - `policy --guild <id> [--fee <percent>] [--refund-fee refund|keep]
 *   [--dispute-recovery none|amount|amount_and_fee]` changes the platform fee, whether a refund
 *   gives the platform's fee back (the transfer is always reversed), and what the platform takes
 *   back from the guild's transfer when a dispute is lost.
 *
 * Reads ROLEPASS_STRIPE_MODE, STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, PUBLIC_SITE_URL and
 * DATABASE_URL (or SUPABASE_DB_URL) from the environment or the project's `.env`.
 */
import { z } from "zod";
import {
  type GuildSellerSettings,
  type LostDisputeRecovery,
  lostDisputeRecoverySchema,
  platformFeePercentSchema,
  type SellerStanding,
  sellerStanding,
} from "../_core/connect.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { fields, parseEnv, requireDatabaseUrl, variableSchemas } from "../_shared/env.ts";
import {
  applyConnectedAccountRead,
  type GuildStripeAccount,
  guildStripeAccount,
  setGuildSellerPolicy,
  startStripeRead,
} from "../_shared/guild_stripe_accounts.ts";
import { startOnboarding as startGuildOnboarding } from "../_shared/connect_onboarding.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import {
  connectStripe,
  STRIPE_DEFAULT_BASE_URL,
  type StripeGateway,
} from "../_shared/stripe_gateway.ts";
import type { TaskOutput } from "./close.ts";
import { runTask, type TaskDefinition, TaskFailure, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task connect`. */
export const CONNECT_TASK: TaskDefinition = {
  name: "connect",
  help: `Usage: deno task connect -- <onboard|status|dashboard|policy> --guild <guild id> [flags]

Platform mode (ROLEPASS_STRIPE_MODE=platform): each guild sells through its own Stripe Connect
Express account, paid to the community's bank account.

  onboard    Creates the guild's Express account (once) and prints a private, single-use link to
             Stripe's onboarding. Flags: --fee <percent> (the platform fee, default 0),
             --country <two letters> (default JP), --email <the community's contact>.
  status     Reads the account from Stripe and says whether the guild can sell.
  dashboard  Prints a link to the community's Express Dashboard (payouts, statements, exports).
  policy     --fee <percent>, --refund-fee refund|keep: whether refunds give the
             platform's fee back (the community's share is always taken back), and/or
             --dispute-recovery none|amount|amount_and_fee: what a lost dispute takes back from
             the community (the disputed amount, and Stripe's dispute fee as far as the
             charge's transfer reaches).

Reads ROLEPASS_STRIPE_MODE, STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, PUBLIC_SITE_URL and
DATABASE_URL (or SUPABASE_DB_URL) from the environment or .env.`,
  flags: {
    guild: { type: "string" },
    fee: { type: "string" },
    country: { type: "string" },
    email: { type: "string" },
    "refund-fee": { type: "string" },
    "dispute-recovery": { type: "string" },
  },
  maxPositionals: 1,
};

const SUBCOMMANDS = ["onboard", "status", "dashboard", "policy"] as const;

/** What the task needs. */
export interface ConnectTaskDeps {
  sql: Sql;
  stripe: StripeGateway;
  /** Where the plan page is served: onboarding comes back to its `/connect/return/<guild id>` page. */
  publicSiteUrl: string;
}

/**
 * Creates (or reuses) the guild's Express account and a fresh onboarding link
 * (functions/_shared/connect_onboarding.ts); a guild rolepass does not know fails the task.
 */
export async function startOnboarding(
  deps: ConnectTaskDeps,
  request: { guildId: string; platformFeePercent: number; country: string; email: string | null },
): Promise<{ account: GuildStripeAccount; created: boolean; url: string; expiresAt: Date }> {
  const started = await startGuildOnboarding(deps, request);
  if (!started) {
    throw new TaskFailure(
      `Guild ${request.guildId} is not configured: add it to the plans file and run \`deno task plans:apply\` first.`,
    );
  }
  return started;
}

/** Reads the guild's account from Stripe now and records it; null when it has none. */
export async function refreshAccount(
  deps: ConnectTaskDeps,
  guildId: string,
): Promise<GuildStripeAccount | null> {
  const account = await guildStripeAccount(deps.sql, guildId);
  if (!account) return null;
  const readSeq = await startStripeRead(deps.sql);
  const facts = await deps.stripe.retrieveConnectedAccount(account.accountId);
  await applyConnectedAccountRead(deps.sql, facts, readSeq);
  return await guildStripeAccount(deps.sql, guildId);
}

/** One line per standing, for the operator. */
export function standingText(standing: SellerStanding, account: GuildStripeAccount | null): string {
  switch (standing) {
    case "not_connected":
      return "has no Stripe account yet: run `deno task connect -- onboard --guild <id>`.";
    case "onboarding":
      return "has not finished Stripe's onboarding: run `deno task connect -- onboard` again " +
        "for a new link.";
    case "restricted":
      return "cannot take payments: Stripe needs " +
        (account?.facts.requirementsDue.join(", ") || "its review to finish") +
        ". The community sees what is due in its Express Dashboard.";
    case "selling":
      return `can sell${account?.facts.payoutsEnabled ? "" : " (payouts paused by Stripe)"}.`;
  }
}

const RECOVERY_TEXT: Record<LostDisputeRecovery, string> = {
  none: "lost disputes are the platform's",
  amount: "lost disputes take the amount back",
  amount_and_fee: "lost disputes take the amount and the dispute fee back",
};

function policyText(settings: GuildSellerSettings & { lostDisputeRecovery: LostDisputeRecovery }) {
  return `platform fee ${settings.platformFeePercent}%, refunds ${
    settings.refundApplicationFee ? "give the fee back" : "keep the fee"
  }, ${RECOVERY_TEXT[settings.lostDisputeRecovery]}`;
}

const feeSchema = z.string().regex(/^\d{1,3}(\.\d{1,2})?$/, "a percent such as 10 or 7.5")
  .transform(Number).pipe(platformFeePercentSchema);

const env = {
  STRIPE_SECRET_KEY: variableSchemas.STRIPE_SECRET_KEY,
  STRIPE_API_BASE_URL: fields.url.default(STRIPE_DEFAULT_BASE_URL),
  PUBLIC_SITE_URL: variableSchemas.PUBLIC_SITE_URL.describe(
    "where the plan page is served; onboarding comes back to its /connect/return page",
  ),
};

/** The task's body; returns the exit code. */
export async function runConnect(
  args: { flags: Record<string, string | boolean | undefined>; positionals: string[] },
  environment: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const subcommand = z.enum(SUBCOMMANDS).safeParse(args.positionals[0]);
  if (!subcommand.success) {
    output.error(`Say what to do: ${SUBCOMMANDS.join(", ")}. Run \`deno task connect --help\`.`);
    return USAGE_EXIT_CODE;
  }
  const guild = discordIdSchema.safeParse(args.flags.guild);
  if (!guild.success) {
    output.error("--guild needs a Discord id (17 to 20 digits).");
    return USAGE_EXIT_CODE;
  }
  const fee = args.flags.fee === undefined ? null : feeSchema.safeParse(args.flags.fee);
  if (fee && !fee.success) {
    output.error(`--fee needs a percent between 0 and 100 with at most two decimals.`);
    return USAGE_EXIT_CODE;
  }
  const refundFee = args.flags["refund-fee"];
  if (refundFee !== undefined && refundFee !== "refund" && refundFee !== "keep") {
    output.error("--refund-fee is refund or keep.");
    return USAGE_EXIT_CODE;
  }
  const disputeRecovery = args.flags["dispute-recovery"] === undefined
    ? null
    : lostDisputeRecoverySchema.safeParse(args.flags["dispute-recovery"]);
  if (disputeRecovery && !disputeRecovery.success) {
    output.error("--dispute-recovery is none, amount or amount_and_fee.");
    return USAGE_EXIT_CODE;
  }
  const country = z.string().regex(/^[A-Z]{2}$/).safeParse(args.flags.country ?? "JP");
  if (!country.success) {
    output.error("--country needs two capital letters, such as JP.");
    return USAGE_EXIT_CODE;
  }
  if (stripeModeFrom(environment) !== "platform") {
    throw new TaskFailure(
      "ROLEPASS_STRIPE_MODE is standalone: connected accounts are for platform mode. Set " +
        "ROLEPASS_STRIPE_MODE=platform (and the Connect endpoint's secret) first.",
    );
  }
  const config = parseEnv(env, environment);
  const sql = createSql(requireDatabaseUrl(environment), { max: 1 });
  const deps: ConnectTaskDeps = {
    sql,
    stripe: connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL),
    publicSiteUrl: config.PUBLIC_SITE_URL,
  };
  try {
    const guildId = guild.data;
    switch (subcommand.data) {
      case "onboard": {
        const started = await startOnboarding(deps, {
          guildId,
          platformFeePercent: fee?.success ? fee.data : 0,
          country: country.data,
          email: typeof args.flags.email === "string" ? args.flags.email : null,
        });
        output.out(
          `${
            started.created ? "Created" : "Reusing"
          } Express account ${started.account.accountId} ` +
            `for guild ${guildId} (${policyText(started.account)}).\n` +
            `Send this private link to the community's owner; it works once, until ` +
            `${started.expiresAt.toISOString()}:\n${started.url}`,
        );
        return 0;
      }
      case "status": {
        const account = await refreshAccount(deps, guildId);
        const standing = sellerStanding(account?.facts ?? null);
        output.out(`Guild ${guildId} ${standingText(standing, account)}`);
        if (account) output.out(`Account ${account.accountId}: ${policyText(account)}.`);
        return standing === "selling" ? 0 : 1;
      }
      case "dashboard": {
        const account = await refreshAccount(deps, guildId);
        if (!account || !account.facts.detailsSubmitted) {
          output.error(
            `Guild ${guildId} ${standingText(sellerStanding(account?.facts ?? null), account)}`,
          );
          return 1;
        }
        const link = await deps.stripe.createDashboardLink(account.accountId);
        output.out(`Express Dashboard of guild ${guildId} (private, works once):\n${link.url}`);
        return 0;
      }
      case "policy": {
        if (!fee && refundFee === undefined && !disputeRecovery) {
          output.error(
            "Say what to change: --fee <percent>, --refund-fee refund|keep and/or " +
              "--dispute-recovery none|amount|amount_and_fee.",
          );
          return USAGE_EXIT_CODE;
        }
        const updated = await setGuildSellerPolicy(sql, guildId, {
          ...(fee?.success ? { platformFeePercent: fee.data } : {}),
          ...(refundFee === undefined ? {} : { refundApplicationFee: refundFee === "refund" }),
          ...(disputeRecovery?.success ? { lostDisputeRecovery: disputeRecovery.data } : {}),
        });
        if (!updated) {
          output.error(`Guild ${guildId} has no Stripe account yet: onboard it first.`);
          return 1;
        }
        output.out(`Guild ${guildId}: ${policyText(updated)}.`);
        return 0;
      }
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(CONNECT_TASK, ({ args, env: taskEnv }) =>
    runConnect(args, taskEnv.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}
