/**
 * `deno task close -- --guild <id> --month YYYY-MM` closes a month for a guild: the database
 * freezes its figures per plan and currency (rolepass.close_period), and facts that arrive later
 * for it count as adjustments of the next open month. `--export` prints a closed month as CSV.
 * In platform mode the community's side (transfers, application fees and their reversals and
 * refunds) is frozen with it; its totals follow the outcome and `--export --connect` prints them.
 *
 * Reads DATABASE_URL or SUPABASE_DB_URL from the environment or the project's `.env`.
 */
import { z } from "zod";
import {
  closeCsv,
  type ClosedConnectFigureRow,
  type ClosedFigureRow,
  connectCloseCsv,
  connectCloseSummary,
  parseMonth,
} from "../_core/close.ts";
import { DISCORD_ID_PATTERN } from "../_core/discord_id.ts";
import { createSql, oneRow, type Sql } from "../_shared/db.ts";
import { requireDatabaseUrl } from "../_shared/env.ts";
import { runTask, type TaskDefinition, TaskFailure, USAGE_EXIT_CODE } from "./task.ts";

/** The command line of `deno task close`. */
export const CLOSE_TASK: TaskDefinition = {
  name: "close",
  help: `Usage: deno task close -- --guild <guild id> --month YYYY-MM [--export [--connect]]

Closes the month for the guild in its accounting time zone (guilds.accounting_time_zone,
Asia/Tokyo by default) and records its figures per plan and currency. Closing a closed month
changes nothing; a month is refused while an earlier month with activity is still open.
With --export, prints the closed month's figures as CSV instead (nothing is closed).
In platform mode the close also freezes the community's side of the month per currency
(transfers net of reversals, platform fees net of fee refunds) and prints its totals;
--export --connect prints that side as CSV.

Reads DATABASE_URL (or SUPABASE_DB_URL) from the environment or .env.`,
  flags: {
    guild: { type: "string" },
    month: { type: "string" },
    export: { type: "boolean" },
    connect: { type: "boolean" },
  },
};

const guildId = z.string().regex(DISCORD_ID_PATTERN, "a Discord guild id (17 to 20 digits)");

/** What closing a month did. */
export type CloseOutcome =
  | { outcome: "closed" | "already_closed"; detail: string }
  | { outcome: "refused"; detail: string };

/** Closes `month` (`YYYY-MM-01`) for a guild through the database's close_period(). */
export async function closeMonth(sql: Sql, guild: string, firstDay: string): Promise<CloseOutcome> {
  return oneRow(
    await sql<CloseOutcome[]>`
      select outcome, detail from rolepass.close_period(${guild}, ${firstDay}::date)`,
    "close_period's outcome",
  );
}

/** The closed figures of a month, or null when the month is not closed for the guild. */
export async function closedFigures(
  sql: Sql,
  guild: string,
  firstDay: string,
): Promise<ClosedFigureRow[] | null> {
  const [closed] = await sql`
    select 1 from rolepass.closed_periods where guild_id = ${guild} and month = ${firstDay}::date`;
  if (!closed) return null;
  const rows = await sql<
    (Omit<ClosedFigureRow, "gross" | "refunds" | "disputes" | "net" | "mrr"> & {
      gross: string;
      refunds: string;
      disputes: string;
      net: string;
      mrr: string | null;
    })[]
  >`
    select guild_id as "guildId", to_char(month, 'YYYY-MM') as month, row_kind as "rowKind",
      to_char(fact_month, 'YYYY-MM') as "factMonth", plan_id::text as "planId",
      stripe_price_id as "stripePriceId", plan_name as "planName", currency,
      gross::text, refunds::text, disputes::text, net::text, starts, cancellations,
      active_at_month_end as "activeAtMonthEnd", mrr::text
    from rolepass.closed_period_figures
    where guild_id = ${guild} and month = ${firstDay}::date`;
  return rows.map((row) => ({
    ...row,
    gross: BigInt(row.gross),
    refunds: BigInt(row.refunds),
    disputes: BigInt(row.disputes),
    net: BigInt(row.net),
    mrr: row.mrr === null ? null : BigInt(row.mrr),
  }));
}

/**
 * Platform mode: the community's side of a closed month per currency, or null when the month is
 * not closed for the guild (an empty list for a standalone guild's closed month).
 */
export async function closedConnectFigures(
  sql: Sql,
  guild: string,
  firstDay: string,
): Promise<ClosedConnectFigureRow[] | null> {
  const [closed] = await sql`
    select 1 from rolepass.closed_periods where guild_id = ${guild} and month = ${firstDay}::date`;
  if (!closed) return null;
  const rows = await sql<Record<string, string>[]>`
    select guild_id, to_char(month, 'YYYY-MM') as month, row_kind,
      to_char(fact_month, 'YYYY-MM') as fact_month, currency, transfers::text,
      transfer_reversals::text, net_transfers::text, application_fees::text,
      application_fee_refunds::text, net_application_fees::text
    from rolepass.closed_period_connect_figures
    where guild_id = ${guild} and month = ${firstDay}::date`;
  return rows.map((row) => ({
    guildId: String(row.guild_id),
    month: String(row.month),
    rowKind: row.row_kind === "adjustment" ? "adjustment" : "period",
    factMonth: String(row.fact_month),
    currency: String(row.currency),
    transfers: BigInt(String(row.transfers)),
    transferReversals: BigInt(String(row.transfer_reversals)),
    netTransfers: BigInt(String(row.net_transfers)),
    applicationFees: BigInt(String(row.application_fees)),
    applicationFeeRefunds: BigInt(String(row.application_fee_refunds)),
    netApplicationFees: BigInt(String(row.net_application_fees)),
  }));
}

function mapOrNull<T>(rows: T[] | null, render: (rows: T[]) => string): string | null {
  return rows === null ? null : render(rows);
}

/** Where the task writes: results to `out`, refusals to `error`. */
export interface TaskOutput {
  out: (text: string) => void;
  error: (text: string) => void;
}

/** The task's body; returns the exit code. */
export async function runClose(
  flags: Record<string, string | boolean | undefined>,
  env: Record<string, string | undefined>,
  output: TaskOutput,
): Promise<number> {
  const guild = guildId.safeParse(flags.guild);
  if (!guild.success) {
    output.error(`--guild needs ${guild.error.issues.map((issue) => issue.message).join("; ")}.`);
    return USAGE_EXIT_CODE;
  }
  const month = parseMonth(typeof flags.month === "string" ? flags.month : "");
  if (!month.ok) {
    output.error(`--month: ${month.reason}.`);
    return USAGE_EXIT_CODE;
  }
  const sql = createSql(requireDatabaseUrl(env), { max: 1 });
  try {
    if (flags.export) {
      const csv = flags.connect
        ? mapOrNull(await closedConnectFigures(sql, guild.data, month.firstDay), connectCloseCsv)
        : mapOrNull(await closedFigures(sql, guild.data, month.firstDay), closeCsv);
      if (csv === null) {
        throw new TaskFailure(
          `Cannot export ${month.label}: it is not closed for guild ${guild.data}. ` +
            `Close it first: deno task close -- --guild ${guild.data} --month ${month.label}`,
        );
      }
      output.out(csv);
      return 0;
    }
    const result = await closeMonth(sql, guild.data, month.firstDay);
    if (result.outcome === "refused") {
      output.error(result.detail);
      return 1;
    }
    const connectRows = await closedConnectFigures(sql, guild.data, month.firstDay) ?? [];
    output.out([result.detail, ...connectCloseSummary(connectRows)].join("\n"));
    return 0;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  await runTask(CLOSE_TASK, ({ args, env }) =>
    runClose(args.flags, env.values, {
      out: (text) =>
        Deno.stdout.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n")),
      error: (text) => console.error(text),
    }));
}
