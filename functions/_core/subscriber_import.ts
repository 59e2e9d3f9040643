/**
 * Bringing existing Stripe subscribers into rolepass, decided without I/O: which rows of an
 * import file are well formed, and whether what Stripe and the database say about a row lets
 * rolepass take the subscription over. `deno task import` reads the facts and writes.
 */
import { DISCORD_ID_PATTERN } from "./discord_id.ts";
import { ROLEPASS_METADATA } from "./stripe_shapes.ts";
import { subscriptionHasEnded } from "./subscription_state.ts";

/** One well-formed row of the import file. */
export interface ImportRow {
  /** 1-based line of the file, for the operator. */
  line: number;
  discordUserId: string;
  /** A customer (cus_...) or a subscription (sub_...). */
  stripeId: string;
}

/** A row that will not be imported, and why. */
export interface RefusedRow {
  line: number;
  reason: string;
}

/** The header the file must start with. */
export const IMPORT_HEADER = "discord_user_id,stripe_id";

const STRIPE_ID = /^(cus|sub)_[A-Za-z0-9]{1,250}$/;

/** Reads the CSV text: every row either well formed or refused with its reason. */
export function parseImportFile(text: string): { rows: ImportRow[]; refused: RefusedRow[] } {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const rows: ImportRow[] = [];
  const refused: RefusedRow[] = [];
  if (lines[0]?.trim() !== IMPORT_HEADER) {
    return { rows, refused: [{ line: 1, reason: `the first line must be "${IMPORT_HEADER}"` }] };
  }
  const firstLineOf = new Map<string, number>();
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    if (index === 0 || raw.trim() === "") continue;
    const fields = raw.split(",").map((field) => field.trim());
    if (fields.length !== 2) {
      refused.push({ line, reason: `expected 2 columns, found ${fields.length}` });
      continue;
    }
    const [discordUserId, stripeId] = fields as [string, string];
    if (!DISCORD_ID_PATTERN.test(discordUserId)) {
      refused.push({
        line,
        reason: `"${discordUserId}" is not a Discord user id (17 to 20 digits)`,
      });
      continue;
    }
    if (!STRIPE_ID.test(stripeId)) {
      refused.push({
        line,
        reason: `"${stripeId}" is not a Stripe customer (cus_...) or subscription (sub_...) id`,
      });
      continue;
    }
    const repeated = firstLineOf.get(discordUserId) ?? firstLineOf.get(stripeId);
    if (repeated !== undefined) {
      refused.push({ line, reason: `repeats line ${repeated}'s member or Stripe id` });
      continue;
    }
    firstLineOf.set(discordUserId, line);
    firstLineOf.set(stripeId, line);
    rows.push({ line, discordUserId, stripeId });
  }
  return { rows, refused };
}

/** A subscription of the row's customer, as read from Stripe. */
export interface ImportSubscription {
  id: string;
  status: string;
  priceIds: readonly string[];
  metadata: Readonly<Record<string, string>>;
  /**
   * Platform mode: why its money is not the guild's (it pays another account, or the platform
   * alone: `foreignMoneyReason` in connect.ts); null when it pays the guild, and in standalone.
   */
  foreignMoney: string | null;
}

/** What Stripe and the database say about one row. */
export type ImportFacts =
  | { found: false }
  | {
    found: true;
    customerId: string;
    customerMetadata: Readonly<Record<string, string>>;
    subscriptions: readonly ImportSubscription[];
    /** The guild's plan prices. */
    guildPriceIds: ReadonlySet<string>;
    /** Every other guild's plan prices, to the guild that sells them. */
    otherGuildByPrice: ReadonlyMap<string, string>;
    /** The membership already tied to this customer, if any. */
    customerHolder: { guildId: string; discordUserId: string } | null;
    /** The customer the member's membership in this guild already has, if any. */
    memberCustomerId: string | null;
  };

/** What to do with a row. */
export type ImportDecision =
  | { ok: true; customerId: string; subscriptionIds: string[] }
  | { ok: false; reason: string };

/**
 * Whether `row` can be imported into `guildId`: the subscription exists, is not over, sells a plan
 * of this guild (in platform mode, paying the guild's own account), and neither Stripe's metadata
 * nor the database ties it to another guild or another member. Importing the same row twice is
 * allowed (the second run finishes the first).
 */
export function decideImportRow(
  guildId: string,
  row: ImportRow,
  facts: ImportFacts,
): ImportDecision {
  if (!facts.found) return { ok: false, reason: `Stripe has no ${row.stripeId}` };
  const named = row.stripeId.startsWith("sub_")
    ? facts.subscriptions.filter((s) => s.id === row.stripeId)
    : facts.subscriptions;
  const live = named.filter((s) => !subscriptionHasEnded(s.status));
  const sellsPlan = live.filter((s) => s.priceIds.some((price) => facts.guildPriceIds.has(price)));
  if (sellsPlan.length === 0) {
    const otherGuild = live.flatMap((s) => s.priceIds)
      .map((price) => facts.otherGuildByPrice.get(price)).find(Boolean);
    if (otherGuild) {
      return { ok: false, reason: `${row.stripeId} sells a plan of guild ${otherGuild}` };
    }
    if (named.length > 0 && live.length === 0) {
      return { ok: false, reason: `${row.stripeId}'s subscription has ended` };
    }
    return { ok: false, reason: `${row.stripeId} has no subscription to a plan of this guild` };
  }
  // Platform mode: a subscriber is the guild's only if their money goes to the guild's account;
  // one paying another community stays that community's, untagged.
  const paysGuild = sellsPlan.filter((s) => s.foreignMoney === null);
  if (paysGuild.length === 0) {
    return { ok: false, reason: `${row.stripeId}: ${sellsPlan[0]?.foreignMoney}` };
  }
  for (const metadata of [facts.customerMetadata, ...paysGuild.map((s) => s.metadata)]) {
    const taggedGuild = metadata[ROLEPASS_METADATA.guildId];
    if (taggedGuild && taggedGuild !== guildId) {
      return { ok: false, reason: `${row.stripeId} belongs to guild ${taggedGuild} in Stripe` };
    }
    const taggedMember = metadata[ROLEPASS_METADATA.discordUserId];
    if (taggedMember && taggedMember !== row.discordUserId) {
      return { ok: false, reason: `${row.stripeId} is already member ${taggedMember}'s in Stripe` };
    }
  }
  const holder = facts.customerHolder;
  if (holder && (holder.guildId !== guildId || holder.discordUserId !== row.discordUserId)) {
    return {
      ok: false,
      reason: `${facts.customerId} is already member ${holder.discordUserId}'s ` +
        `(guild ${holder.guildId})`,
    };
  }
  if (facts.memberCustomerId && facts.memberCustomerId !== facts.customerId) {
    return {
      ok: false,
      reason: `member ${row.discordUserId} already pays through ${facts.memberCustomerId}`,
    };
  }
  return { ok: true, customerId: facts.customerId, subscriptionIds: paysGuild.map((s) => s.id) };
}
