/**
 * Rules of the monthly close that live outside the database: which month an operator means, how
 * a Stripe amount reads as a decimal, the export's CSV, and whether a payment may still be
 * refunded. Where a fact lands (its month, or the next open month as an adjustment) is decided
 * once, by the database's placing trigger (supabase/migrations/20261202000800_money_ledger.sql),
 * because only the database can decide it atomically with a concurrent close.
 */
import { minorUnitExponent } from "./currency.ts";

/** A month as the operator types it, `YYYY-MM`, turned into its first day (`YYYY-MM-01`). */
export function parseMonth(
  text: string,
): { ok: true; firstDay: string; label: string } | { ok: false; reason: string } {
  const match = /^(\d{4})-(\d{2})$/.exec(text);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 12) {
    return { ok: false, reason: `"${text}" is not a month: write it as YYYY-MM, e.g. 2026-11` };
  }
  return { ok: true, firstDay: `${text}-01`, label: text };
}

/**
 * An amount in the currency's smallest unit as an exact decimal string: 1299 USD -> "12.99",
 * 980 JPY -> "980", -5 USD -> "-0.05". Integer arithmetic only, so nothing is lost to floats.
 */
export function formatMinorUnits(amount: bigint | number, currency: string): string {
  const value = BigInt(amount);
  const exponent = minorUnitExponent(currency);
  const sign = value < 0n ? "-" : "";
  const digits = (value < 0n ? -value : value).toString();
  if (exponent === 0) return sign + digits;
  const padded = digits.padStart(exponent + 1, "0");
  return `${sign}${padded.slice(0, -exponent)}.${padded.slice(-exponent)}`;
}

/** One row of the export: a closed month's figures for one plan and currency. */
export interface ClosedFigureRow {
  guildId: string;
  /** `YYYY-MM`. */
  month: string;
  rowKind: "period" | "adjustment";
  /** `YYYY-MM`: the month itself, or the earlier month an adjustment belongs to. */
  factMonth: string;
  planId: string;
  stripePriceId: string;
  planName: string | null;
  currency: string;
  gross: bigint;
  refunds: bigint;
  disputes: bigint;
  net: bigint;
  starts: number;
  cancellations: number;
  activeAtMonthEnd: number | null;
  mrr: bigint | null;
}

/** The export's columns, in their documented order; never reordered, only appended to. */
export const CLOSE_CSV_COLUMNS = [
  "guild_id",
  "month",
  "row_kind",
  "fact_month",
  "plan_id",
  "stripe_price_id",
  "plan_name",
  "currency",
  "gross_minor",
  "gross",
  "refunds_minor",
  "refunds",
  "disputes_minor",
  "disputes",
  "net_minor",
  "net",
  "starts",
  "cancellations",
  "active_at_month_end",
  "mrr_minor",
  "mrr",
] as const;

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * The CSV of a closed month: a header, period rows, then adjustment rows, each ordered by plan
 * and currency. Amounts appear in the smallest unit and as a decimal; rows of different
 * currencies are never added together. Lines end with CRLF (RFC 4180).
 */
export function closeCsv(rows: ClosedFigureRow[]): string {
  const ordered = [...rows].sort((a, b) =>
    (a.rowKind === b.rowKind ? 0 : a.rowKind === "period" ? -1 : 1) ||
    a.factMonth.localeCompare(b.factMonth) ||
    a.stripePriceId.localeCompare(b.stripePriceId) ||
    a.currency.localeCompare(b.currency)
  );
  const lines = [CLOSE_CSV_COLUMNS.join(",")];
  for (const row of ordered) {
    const money = (amount: bigint | null) =>
      amount === null ? ["", ""] : [amount.toString(), formatMinorUnits(amount, row.currency)];
    lines.push(
      [
        row.guildId,
        row.month,
        row.rowKind,
        row.factMonth,
        row.planId,
        row.stripePriceId,
        row.planName ?? "",
        row.currency,
        ...money(row.gross),
        ...money(row.refunds),
        ...money(row.disputes),
        ...money(row.net),
        String(row.starts),
        String(row.cancellations),
        row.activeAtMonthEnd === null ? "" : String(row.activeAtMonthEnd),
        ...money(row.mrr),
      ].map(csvField).join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

/**
 * Platform mode: one row of the community's side of a closed month, per currency: what the
 * platform transferred to the guild's connected account net of reversals, and the platform's
 * application fees net of their refunds (rolepass.closed_period_connect_figures).
 */
export interface ClosedConnectFigureRow {
  guildId: string;
  /** `YYYY-MM`. */
  month: string;
  rowKind: "period" | "adjustment";
  /** `YYYY-MM`: the month itself, or the earlier month an adjustment belongs to. */
  factMonth: string;
  currency: string;
  transfers: bigint;
  transferReversals: bigint;
  netTransfers: bigint;
  applicationFees: bigint;
  applicationFeeRefunds: bigint;
  netApplicationFees: bigint;
}

/** The community-side export's columns, in their documented order; only appended to. */
export const CONNECT_CLOSE_CSV_COLUMNS = [
  "guild_id",
  "month",
  "row_kind",
  "fact_month",
  "currency",
  "transfers_minor",
  "transfers",
  "transfer_reversals_minor",
  "transfer_reversals",
  "net_transfers_minor",
  "net_transfers",
  "application_fees_minor",
  "application_fees",
  "application_fee_refunds_minor",
  "application_fee_refunds",
  "net_application_fees_minor",
  "net_application_fees",
] as const;

function orderConnectRows(rows: ClosedConnectFigureRow[]): ClosedConnectFigureRow[] {
  return [...rows].sort((a, b) =>
    (a.rowKind === b.rowKind ? 0 : a.rowKind === "period" ? -1 : 1) ||
    a.factMonth.localeCompare(b.factMonth) ||
    a.currency.localeCompare(b.currency)
  );
}

/**
 * The CSV of a closed month's community side: period rows, then adjustments, each per currency;
 * amounts in the smallest unit and as a decimal, currencies never added together, CRLF lines.
 */
export function connectCloseCsv(rows: ClosedConnectFigureRow[]): string {
  const lines = [CONNECT_CLOSE_CSV_COLUMNS.join(",")];
  for (const row of orderConnectRows(rows)) {
    const money = (amount: bigint) => [amount.toString(), formatMinorUnits(amount, row.currency)];
    lines.push(
      [
        row.guildId,
        row.month,
        row.rowKind,
        row.factMonth,
        row.currency,
        ...money(row.transfers),
        ...money(row.transferReversals),
        ...money(row.netTransfers),
        ...money(row.applicationFees),
        ...money(row.applicationFeeRefunds),
        ...money(row.netApplicationFees),
      ].map(csvField).join(","),
    );
  }
  return lines.join("\r\n") + "\r\n";
}

/**
 * The close's totals of the community's side, one line per row, for the operator reading the
 * task's output; no lines for a standalone guild, which has no Connect money.
 */
export function connectCloseSummary(rows: ClosedConnectFigureRow[]): string[] {
  return orderConnectRows(rows).map((row) => {
    const amount = (value: bigint) => formatMinorUnits(value, row.currency);
    const which = row.rowKind === "period"
      ? row.month
      : `${row.month}, adjustment for ${row.factMonth}`;
    return `Community's side (Connect) ${which}, ${row.currency.toUpperCase()}: ` +
      `transfers ${amount(row.transfers)} - reversals ${amount(row.transferReversals)} = ` +
      `${amount(row.netTransfers)}; platform fees ${amount(row.applicationFees)} - ` +
      `fee refunds ${amount(row.applicationFeeRefunds)} = ${amount(row.netApplicationFees)}`;
  });
}

/** What the refund rule needs to know about the payment. */
export interface RefundCandidate {
  paidAt: Date;
  /** How long after payment the guild allows a refund. */
  windowMs: number;
  /** Already refunded in full. */
  fullyRefunded: boolean;
}

/**
 * Whether an operator may refund a payment now. Seed 003: refunds only within a stated window
 * (24 hours there), so a month that accounting closed is not changed by refunds afterwards.
 */
export function decideRefund(
  candidate: RefundCandidate,
  now: Date,
): { ok: true } | { ok: false; reason: string } {
  if (candidate.fullyRefunded) return { ok: false, reason: "the payment is already refunded" };
  const elapsedMs = now.getTime() - candidate.paidAt.getTime();
  if (elapsedMs > candidate.windowMs) {
    return {
      ok: false,
      reason:
        `it was paid ${describeDuration(elapsedMs)} ago (${candidate.paidAt.toISOString()}), ` +
        `outside the guild's refund window of ${describeDuration(candidate.windowMs)}`,
    };
  }
  return { ok: true };
}

function describeDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} hour${hours === 1 ? "" : "s"}`;
  const days = Math.floor(hours / 24);
  return `${days} days`;
}
