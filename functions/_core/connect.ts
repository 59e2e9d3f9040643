/**
 * Platform mode's rules, decided once: whether a deployment serves one Stripe account or many
 * communities through Stripe Connect Express, where a guild's connected account stands, and who
 * pays a refund on a destination charge (seed 003's two checkboxes; see docs/DECISIONS.md).
 */
import { z } from "zod";

/** `standalone`: the deployment's own Stripe account (the default). `platform`: Connect Express. */
export const stripeModeSchema = z.enum(["standalone", "platform"]);

/** How this deployment sells. */
export type StripeMode = z.infer<typeof stripeModeSchema>;

/** A Stripe connected account id. */
export const connectedAccountIdSchema = z.string().regex(
  /^acct_[A-Za-z0-9]+$/,
  "expected a Stripe connected account id (acct_...)",
);

/** A platform fee in percent, as Stripe's `application_fee_percent` takes it (two decimals). */
export const platformFeePercentSchema = z.number().min(0).max(100).refine(
  (percent) => Math.round(percent * 100) === percent * 100,
  "expected at most two decimals",
);

/** What rolepass keeps of a connected account, read from Stripe (`GET /v1/accounts/:id`). */
export interface ConnectedAccountFacts {
  accountId: string;
  detailsSubmitted: boolean;
  chargesEnabled: boolean;
  payoutsEnabled: boolean;
  /** `requirements.currently_due`: what Stripe needs now. */
  requirementsDue: string[];
  /** `requirements.disabled_reason`, when Stripe stopped charges or payouts. */
  disabledReason: string | null;
  /**
   * `requirements.current_deadline`: when what is due must be provided before Stripe stops the
   * account (read from Stripe; not stored).
   */
  requirementsDeadline?: Date | null;
}

/** A Stripe Account as the API answers it, parsed to the facts rolepass keeps. */
export const stripeConnectedAccount = z.object({
  id: connectedAccountIdSchema,
  details_submitted: z.boolean(),
  charges_enabled: z.boolean(),
  payouts_enabled: z.boolean(),
  requirements: z.object({
    currently_due: z.array(z.string()).nullable().optional(),
    disabled_reason: z.string().nullable().optional(),
    current_deadline: z.number().int().nullable().optional(),
  }).nullable().optional(),
}).transform((account): ConnectedAccountFacts => ({
  accountId: account.id,
  detailsSubmitted: account.details_submitted,
  chargesEnabled: account.charges_enabled,
  payoutsEnabled: account.payouts_enabled,
  requirementsDue: account.requirements?.currently_due ?? [],
  disabledReason: account.requirements?.disabled_reason ?? null,
  requirementsDeadline: account.requirements?.current_deadline
    ? new Date(account.requirements.current_deadline * 1000)
    : null,
}));

/**
 * Where a guild stands as a seller:
 * - `not_connected`: platform mode, but no connected account yet (onboarding not started);
 * - `onboarding`: the community has not submitted its details to Stripe;
 * - `restricted`: details submitted, but Stripe does not let the account take charges (review,
 *   or more information due);
 * - `selling`: the account can take charges.
 */
export type SellerStanding = "not_connected" | "onboarding" | "restricted" | "selling";

/** The guild's standing from what rolepass last read of its account (null: none). */
export function sellerStanding(account: ConnectedAccountFacts | null): SellerStanding {
  if (account === null) return "not_connected";
  if (account.chargesEnabled) return "selling";
  return account.detailsSubmitted ? "restricted" : "onboarding";
}

/** Whether members of the guild may be sent to Checkout now. */
export function canSell(mode: StripeMode, account: ConnectedAccountFacts | null): boolean {
  return mode === "standalone" || sellerStanding(account) === "selling";
}

/** A guild's Connect settings: its account, its fee, and who pays a refund. */
export interface GuildSellerSettings {
  accountId: string;
  platformFeePercent: number;
  /** Whether the platform gives its fee back when a member is refunded. */
  refundApplicationFee: boolean;
}

/**
 * The Connect flags of a refund of a guild's destination charge. The transfer is always reversed:
 * without it the platform would pay a community's refund out of its own balance (seed 003: the
 * refund is then the platform's advance). With the fee refunded too, the member's payment is
 * undone for everyone; without it, the platform keeps its fee and the community pays the refund.
 */
export function refundFlagsFor(
  settings: GuildSellerSettings,
): { reverseTransfer: true; refundApplicationFee: boolean } {
  return { reverseTransfer: true, refundApplicationFee: settings.refundApplicationFee };
}

/**
 * Whether rolepass may refund a charge of the guild in platform mode, and with which flags: only
 * a charge whose money went to the guild's own account (a community's refund never reverses
 * another community's transfer).
 */
export function destinationRefund(
  settings: GuildSellerSettings | null,
  chargeDestination: string | null,
):
  | { ok: true; flags: { reverseTransfer: true; refundApplicationFee: boolean } }
  | { ok: false; reason: string } {
  if (settings === null) return { ok: false, reason: "the guild has no Stripe account" };
  if (chargeDestination !== settings.accountId) {
    return {
      ok: false,
      reason: `the charge was paid to ${
        chargeDestination ?? "the platform alone"
      }, not to the guild's account ${settings.accountId}`,
    };
  }
  return { ok: true, flags: refundFlagsFor(settings) };
}

/**
 * Who bears a refund of `refundAmount` on a destination charge of `chargeAmount` with an
 * application fee of `applicationFeeAmount`, under `flags`: what the community's balance and the
 * platform's each lose (Stripe reverses and refunds in proportion to the refund).
 */
export function refundShares(
  chargeAmount: number,
  applicationFeeAmount: number,
  refundAmount: number,
  flags: { reverseTransfer: boolean; refundApplicationFee: boolean },
): { transferReversed: number; applicationFeeRefunded: number; platformPays: number } {
  const transferReversed = flags.reverseTransfer ? refundAmount : 0;
  const applicationFeeRefunded = flags.refundApplicationFee && chargeAmount > 0
    ? Math.round(applicationFeeAmount * refundAmount / chargeAmount)
    : 0;
  return {
    transferReversed,
    applicationFeeRefunded,
    platformPays: refundAmount - transferReversed + applicationFeeRefunded,
  };
}

/**
 * What a guild recovers of a lost dispute on its destination charge: nothing, the disputed
 * amount, or the disputed amount and Stripe's dispute fee (both debited from the platform).
 */
export const lostDisputeRecoverySchema = z.enum(["none", "amount", "amount_and_fee"]);

/** A guild's dispute recovery policy. */
export type LostDisputeRecovery = z.infer<typeof lostDisputeRecoverySchema>;

/** A closed dispute of a destination charge, as Stripe says now. */
export interface ClosedDispute {
  status: string;
  /** The disputed amount, in the currency's smallest unit. */
  amount: number;
  /** Stripe's dispute fee, debited from the platform with the amount. */
  fee: number;
}

/** How much of the charge's transfer rolepass takes back for a lost dispute, and what it cannot. */
export type DisputeRecoveryDecision =
  | { recover: false; why: string }
  | {
    recover: true;
    /** The transfer reversal's amount. */
    reverseAmount: number;
    /** Whether the platform's fee on the charge goes back to the guild with the reversal. */
    refundApplicationFee: boolean;
    /** What the policy asked for and no reversal could take: the platform bears it. */
    notRecovered: number;
  };

/**
 * The recovery of a closed dispute under the guild's policy. Only a lost dispute is recovered (a
 * won one gives the platform its money back). Stripe reverses a destination charge's transfer only
 * up to what is left of it, so a dispute fee on top of a whole charge stays with the platform: the
 * decision says how much. The platform's fee goes back to the guild as the guild's refund policy
 * says, so a lost dispute costs the guild what a refund would.
 */
export function lostDisputeRecovery(
  dispute: ClosedDispute,
  transfer: { amount: number; reversed: number },
  policy: { recovery: LostDisputeRecovery; refundApplicationFee: boolean },
): DisputeRecoveryDecision {
  if (dispute.status !== "lost") return { recover: false, why: `the dispute is ${dispute.status}` };
  if (policy.recovery === "none") {
    return { recover: false, why: "the guild's policy recovers no lost dispute" };
  }
  const wanted = dispute.amount + (policy.recovery === "amount_and_fee" ? dispute.fee : 0);
  const reverseAmount = Math.max(0, Math.min(wanted, transfer.amount - transfer.reversed));
  if (reverseAmount === 0) {
    return { recover: false, why: "the charge's transfer is already reversed in full" };
  }
  return {
    recover: true,
    reverseAmount,
    refundApplicationFee: policy.refundApplicationFee,
    notRecovered: wanted - reverseAmount,
  };
}

/** Where the money of a subscription, invoice, charge or payment goes, as Stripe says. */
export interface MoneyDestination {
  customerId: string | null;
  /** `transfer_data.destination`: the connected account paid; null for the platform alone. */
  destination: string | null;
  /** `on_behalf_of`: the settlement merchant; null when the platform is. */
  onBehalfOf: string | null;
}

/**
 * Why money may not be applied to a guild in platform mode, or null when it may: a guild's
 * members pay the guild's own account only, so money paid to another account, or to the platform
 * alone, never changes that guild's members (docs/DECISIONS.md).
 */
export function foreignMoneyReason(
  guildId: string,
  guildAccountId: string | null,
  money: MoneyDestination,
): string | null {
  const paid = money.destination ?? "the platform alone";
  if (guildAccountId === null) {
    return `the money goes to ${paid}, and guild ${guildId} has no Stripe account`;
  }
  if (money.destination !== guildAccountId) {
    return `the money goes to ${paid}, not to guild ${guildId}'s account ${guildAccountId}`;
  }
  if (money.onBehalfOf !== null && money.onBehalfOf !== guildAccountId) {
    return `the money is settled on behalf of ${money.onBehalfOf}, not guild ${guildId}'s ` +
      `account ${guildAccountId}`;
  }
  return null;
}

/**
 * Of a customer's subscriptions, those that count toward a guild's roles. In standalone mode,
 * every one. In platform mode every subscription is a destination charge read on the platform
 * account (docs/DECISIONS.md), so one belongs to the guild only when its money goes to the
 * guild's own account ({@link foreignMoneyReason}): a second subscription of the same customer
 * paying another community, or the platform alone, never grants or keeps a role here. `guild` is
 * null when the customer is no member of any guild; nothing then belongs.
 */
export function subscriptionsOfGuild<T extends Omit<MoneyDestination, "customerId">>(
  mode: StripeMode,
  guild: { guildId: string; accountId: string | null } | null,
  subscriptions: readonly T[],
): T[] {
  if (mode === "standalone") return [...subscriptions];
  if (guild === null) return [];
  return subscriptions.filter((subscription) =>
    foreignMoneyReason(guild.guildId, guild.accountId, { customerId: null, ...subscription }) ===
      null
  );
}

/**
 * The platform account's events about the communities' side of the money (transfers to connected
 * accounts, their reversals, application fees and their refunds): the platform endpoint records
 * them in platform mode, and the hourly Events catch-up replays those it missed.
 */
export const PLATFORM_MONEY_EVENT_TYPES = [
  "transfer.created",
  "transfer.reversed",
  "application_fee.created",
  "application_fee.refunded",
] as const;
