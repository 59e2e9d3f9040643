/**
 * `deno task refund -- --guild <id> --member <discord user id>` refunds the member's last paid
 * invoice through Stripe's API, only within the guild's refund window (guilds.refund_window, 24
 * hours by default, as seed 003 chose so that closed months stay closed). The refund then comes
 * back through the webhook like any other: the ledger records it and the guild's
 * revoke_on_refund policy decides the role.
 *
 * Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL and DATABASE_URL (or SUPABASE_DB_URL) from the
 * environment or the project's `.env`.
 */
import { decideRefund } from "../_core/close.ts";
import { discordIdSchema } from "../_core/discord_id.ts";
import { formatAmount } from "../_core/price.ts";
import { ROLEPASS_METADATA } from "../_core/stripe_shapes.ts";
import { createSql, type Sql } from "../_shared/db.ts";
import { parseEnv, requireDatabaseUrl } from "../_shared/env.ts";
import { connectStripe, type StripeGateway, stripeTaskEnv } from "../_shared/stripe_gateway.ts";
import type { StripeMode } from "../_core/connect.ts";
import { stripeModeFrom } from "../_shared/platform_env.ts";
import type { TaskOutput } from "./close.ts";
import { connectedRefundFlags } from "./connect_refund.ts";
import { runTask, type TaskDefinition, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task refund`. */
export const REFUND_TASK: TaskDefinition = {
  name: "refund",
  help: `Usage: deno task refund -- --guild <guild id> --member <discord user id>

Refunds the member's last paid invoice in full through Stripe, if it was paid within the guild's
refund window (guilds.refund_window, 24 hours by default); otherwise refuses and says why.
Running it again for the same invoice does not refund twice (Stripe idempotency key).

Reads STRIPE_SECRET_KEY, STRIPE_API_BASE_URL, DATABASE_URL (or SUPABASE_DB_URL) from the
environment or .env.`,
  flags: { guild: { type: "string" }, member: { type: "string" } },
};

/** What a refund needs. */
export interface RefundDeps {
  sql: Sql;
  stripe: StripeGateway;
  now: () => Date;
  /** Platform mode refunds a guild's destination charge by the guild's policy. */
  mode?: StripeMode;
}

/** What the refund did. */
export type RefundOutcome =
  | {
    ok: true;
    refundId: string;
    invoiceId: string;
    chargeId: string;
    amount: number;
    currency: string;
  }
  | { ok: false; reason: string };

/**
 * Refunds the last paid invoice of the member of `guildId` when the guild's refund window allows
 * it. The idempotency key is the invoice's, so a repeated command (or a retry after a lost answer)
 * returns the first refund instead of making a second one.
 */
export async function refundLastPayment(
  deps: RefundDeps,
  guildId: string,
  discordUserId: string,
): Promise<RefundOutcome> {
  const [membership] = await deps.sql<
    { stripe_customer_id: string | null; refund_window_ms: number }[]
  >`
    select m.stripe_customer_id,
      (extract(epoch from g.refund_window) * 1000)::float8 as refund_window_ms
    from rolepass.memberships m join rolepass.guilds g on g.id = m.guild_id
    where m.guild_id = ${guildId} and m.discord_user_id = ${discordUserId}`;
  if (!membership?.stripe_customer_id) {
    return { ok: false, reason: `member ${discordUserId} has never paid in guild ${guildId}` };
  }
  const invoice = await deps.stripe.lastPaidInvoice(membership.stripe_customer_id);
  if (!invoice) return { ok: false, reason: "the member has no paid invoice" };
  if (!invoice.paidAt || invoice.amountPaid === 0) {
    return { ok: false, reason: `invoice ${invoice.id} charged nothing` };
  }
  const chargeId = await deps.stripe.chargeOfInvoice(invoice.id);
  if (!chargeId) return { ok: false, reason: `invoice ${invoice.id} has no card payment` };
  const charge = await deps.stripe.retrieveCharge(chargeId);

  const decision = decideRefund({
    paidAt: invoice.paidAt,
    windowMs: membership.refund_window_ms,
    fullyRefunded: charge.fullyRefunded,
  }, deps.now());
  if (!decision.ok) return decision;
  const connected = deps.mode === "platform"
    ? await connectedRefundFlags(deps, guildId, charge.id)
    : null;
  if (connected && !connected.ok) return connected;

  const refund = await deps.stripe.refundCharge({
    ...(connected ? { connect: connected.flags } : {}),
    chargeId: charge.id,
    metadata: {
      [ROLEPASS_METADATA.guildId]: guildId,
      [ROLEPASS_METADATA.discordUserId]: discordUserId,
    },
    idempotencyKey: `rolepass-refund-${invoice.id}`,
  });
  return {
    ok: true,
    refundId: refund.id,
    invoiceId: invoice.id,
    chargeId: charge.id,
    amount: refund.amount,
    currency: refund.currency,
  };
}

/** The task's body; returns the exit code. */
export async function runRefund(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
  now: () => Date = () => new Date(),
): Promise<number> {
  const guild = discordIdSchema.safeParse(flags.guild);
  const member = discordIdSchema.safeParse(flags.member);
  if (!guild.success || !member.success) {
    output.error(
      `${!guild.success ? "--guild" : "--member"} needs a Discord id (17 to 20 digits).`,
    );
    return USAGE_EXIT_CODE;
  }
  const config = parseEnv(stripeTaskEnv, env);
  const stripe = connectStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE_URL);
  const sql = createSql(requireDatabaseUrl(env), { max: 1 });
  try {
    const outcome = await refundLastPayment(
      { sql, stripe, now, mode: stripeModeFrom(env) },
      guild.data,
      member.data,
    );
    if (!outcome.ok) {
      output.error(`Refund refused: ${outcome.reason}.`);
      return 1;
    }
    output.out(
      `Refunded ${formatAmount(outcome.amount, outcome.currency, "en")} of invoice ` +
        `${outcome.invoiceId} (charge ${outcome.chargeId}, refund ${outcome.refundId}). ` +
        "Stripe's webhook brings it back into the ledger and applies the guild's refund policy.",
    );
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(REFUND_TASK, ({ args, env }) =>
    runRefund(args.flags, env.values, {
      out: (text) => console.log(text),
      error: (text) => console.error(text),
    }));
}
