/**
 * The operator's plans file (`supabase/plans.json`): which Discord servers sell roles, the plans
 * each one sells (a Stripe price that grants a Discord role, with its display text) and the seller
 * notice Japanese law requires. `deno task plans:apply` validates it with these schemas and writes
 * it to `guilds` and `plans`; nothing here does I/O.
 */
import { z } from "zod";
import { discordIdSchema as snowflake } from "./discord_id.ts";
import { localeSchema } from "./locale.ts";
import { type BillingInterval } from "./price.ts";
import { planTextSchema, sellerNoticeSchema } from "./operator_text.ts";
import { policyOfSwitch, reversalPolicy } from "./refund_dispute_policy.ts";
import { OPERATOR_LOG_KINDS } from "./notices.ts";

/** Longest grace period a past_due subscription may keep the role: Stripe's own retries end
 * within about a month (Smart Retries default: 8 tries in 2 weeks). */
export const MAX_PAST_DUE_GRACE_SECONDS = 31 * 24 * 60 * 60;

const ISO_DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/**
 * Seconds in an ISO 8601 duration of weeks, days, hours, minutes and seconds ("P3D", "PT12H"),
 * or null when it is not one. Months and years are refused: their length varies.
 */
export function durationSeconds(text: string): number | null {
  const match = ISO_DURATION.exec(text);
  if (!match || text === "P" || text.endsWith("T")) return null;
  // A unit left out of the text is a group that did not match: zero of it.
  const [, weeks, days, hours, minutes, seconds] = match;
  const count = (part: string | undefined) => Number(part ?? 0);
  return (((count(weeks) * 7 + count(days)) * 24 + count(hours)) * 60 + count(minutes)) * 60 +
    count(seconds);
}

const pastDueGraceSchema = z.string().refine((text) => durationSeconds(text) !== null, {
  message: 'expected an ISO 8601 duration such as "P3D" (3 days), "PT12H" (12 hours) or "P0D"',
}).refine(
  (text) => (durationSeconds(text) ?? 0) <= MAX_PAST_DUE_GRACE_SECONDS,
  { message: "grace periods longer than 31 days are not supported" },
);

/** One plan: a recurring Stripe price that grants a Discord role. */
export const planEntrySchema = z.strictObject({
  stripe_price_id: z.string().regex(/^price_[A-Za-z0-9_]+$/, {
    message: 'expected a Stripe price id such as "price_1Qx..." (Product catalog → the price)',
  }),
  discord_role_id: snowflake,
  // Strict at every level, so a misspelled `role_name` is refused rather than dropped.
  display: z.strictObject({
    en: planTextSchema.strict(),
    ja: planTextSchema.strict().optional(),
  }),
  sort_order: z.number().int().min(-1000).max(1000).default(0),
  active: z.boolean().default(true),
});
/** One plan of the plans file. */
export type PlanEntry = z.infer<typeof planEntrySchema>;

/** One Discord server that sells roles, with its operator settings and plans. */
export const guildEntrySchema = z.strictObject({
  id: snowflake,
  name: z.string().trim().min(1).max(100),
  default_locale: localeSchema.default("ja"),
  seller_notice: sellerNoticeSchema.strict(),
  past_due_grace: pastDueGraceSchema.default("P0D"),
  /** What a full refund does (refund_dispute_policy.ts); default revoke_and_cancel. */
  refund_policy: reversalPolicy.optional(),
  /** What a dispute does; default revoke_and_cancel. */
  dispute_policy: reversalPolicy.optional(),
  /** The older switch: false is the same as `refund_policy: "keep"`. */
  revoke_on_refund: z.boolean().optional(),
  /** The older switch: false is the same as `dispute_policy: "keep"`. */
  revoke_on_dispute: z.boolean().optional(),
  operator_log_channel_id: snowflake.nullable().default(null),
  /** Per kind of operator log line, whether the log channel gets it; every kind is on by default. */
  operator_log: z.partialRecord(z.enum(OPERATOR_LOG_KINDS), z.boolean()).default({}),
  plans: z.array(planEntrySchema).min(1, { message: "a guild needs at least one plan" }),
}).superRefine((guild, ctx) => {
  guild.plans.forEach((plan, index) => {
    if (plan.discord_role_id === guild.id) {
      ctx.addIssue({
        code: "custom",
        path: ["plans", index, "discord_role_id"],
        message: "this is the @everyone role (its id is the guild id); choose the paid role",
      });
    }
  });
  for (const kind of ["refund", "dispute"] as const) {
    const policy = guild[`${kind}_policy`];
    const revokes = guild[`revoke_on_${kind}`];
    if (policy && revokes !== undefined && (policy !== "keep") !== revokes) {
      ctx.addIssue({
        code: "custom",
        path: [`revoke_on_${kind}`],
        message: `contradicts ${kind}_policy "${policy}"; remove revoke_on_${kind}`,
      });
    }
  }
}).transform((guild) => {
  const refundPolicy = guild.refund_policy ?? policyOfSwitch(guild.revoke_on_refund ?? true);
  const disputePolicy = guild.dispute_policy ?? policyOfSwitch(guild.revoke_on_dispute ?? true);
  return {
    ...guild,
    refund_policy: refundPolicy,
    dispute_policy: disputePolicy,
    revoke_on_refund: refundPolicy !== "keep",
    revoke_on_dispute: disputePolicy !== "keep",
    operator_log_muted_kinds: OPERATOR_LOG_KINDS.filter((kind) =>
      guild.operator_log[kind] === false
    ),
  };
});
/** One guild of the plans file. */
export type GuildEntry = z.output<typeof guildEntrySchema>;

/** The whole plans file. */
export const plansFileSchema = z.strictObject({
  $schema: z.string().optional(),
  guilds: z.array(guildEntrySchema).min(1, { message: "declare at least one guild" }),
}).superRefine((file, ctx) => {
  const guildAt = new Map<string, number>();
  const priceAt = new Map<string, string>();
  file.guilds.forEach((guild, g) => {
    const previousGuild = guildAt.get(guild.id);
    if (previousGuild !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["guilds", g, "id"],
        message: `guild ${guild.id} is already declared at guilds[${previousGuild}]`,
      });
    }
    guildAt.set(guild.id, g);
    guild.plans.forEach((plan, p) => {
      const here = `guilds[${g}].plans[${p}]`;
      const previousPrice = priceAt.get(plan.stripe_price_id);
      if (previousPrice !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["guilds", g, "plans", p, "stripe_price_id"],
          message: `price ${plan.stripe_price_id} is already used by ${previousPrice}; ` +
            "each plan needs its own Stripe price",
        });
      }
      priceAt.set(plan.stripe_price_id, here);
    });
  });
});
/** The operator's plans file, parsed. */
export type PlansFile = z.infer<typeof plansFileSchema>;

/** The outcome of reading a plans file: the file, or every problem with the path of its field. */
export type PlansFileResult =
  | { ok: true; file: PlansFile }
  | { ok: false; problems: string[] };

/** Formats a zod issue path as the operator would find it in the file: `guilds[0].plans[1].id`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === "number") return `${text}[${key}]`;
    return text ? `${text}.${String(key)}` : String(key);
  }, "");
}

/** Parses the text of a plans file (JSON); never throws. */
export function parsePlansFile(text: string): PlansFileResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, problems: [`the file is not valid JSON: ${reason}`] };
  }
  const result = plansFileSchema.safeParse(json);
  if (result.success) return { ok: true, file: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const where = formatPath(issue.path) || "(the file)";
      return `${where}: ${issue.message}`;
    }),
  };
}

/** The fields of a Stripe price that decide whether a plan can sell it (a subset of Stripe.Price). */
export interface StripePriceFacts {
  id: string;
  active: boolean;
  type: "one_time" | "recurring";
  currency: string;
  unit_amount: number | null;
  billing_scheme?: string;
  recurring: {
    interval: BillingInterval;
    interval_count: number;
    usage_type?: string;
  } | null;
}

/** What `plans` stores from the Stripe price, so the plan page can show it without Stripe. */
export interface PriceTerms {
  unit_amount: number;
  currency: string;
  billing_interval: BillingInterval;
  interval_count: number;
}

/**
 * Decides whether a Stripe price can back a plan: it must be active, recurring, licensed (not
 * metered) and have a fixed unit amount, since a role is sold as one seat per member.
 * `allowArchived` accepts an archived price, for a plan the file itself marks inactive.
 */
export function priceTerms(
  price: StripePriceFacts,
  options: { allowArchived?: boolean } = {},
): { ok: true; terms: PriceTerms } | { ok: false; reason: string } {
  if (!price.active && !options.allowArchived) {
    return { ok: false, reason: `price ${price.id} is archived (inactive) in Stripe` };
  }
  if (price.type !== "recurring" || !price.recurring) {
    return {
      ok: false,
      reason: `price ${price.id} is a one-time price; a plan needs a recurring price`,
    };
  }
  if (price.recurring.usage_type === "metered") {
    return { ok: false, reason: `price ${price.id} is metered; a plan needs a licensed price` };
  }
  if (price.unit_amount === null || price.billing_scheme === "tiered") {
    return {
      ok: false,
      reason: `price ${price.id} has tiered pricing; a plan needs a fixed amount per member`,
    };
  }
  return {
    ok: true,
    terms: {
      unit_amount: price.unit_amount,
      currency: price.currency.toLowerCase(),
      billing_interval: price.recurring.interval,
      interval_count: price.recurring.interval_count,
    },
  };
}
