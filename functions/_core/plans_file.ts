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
import {
  checkPlanRoles,
  crossGuildRoleProblems,
  planRoleFields,
  planRolesOf,
} from "./plan_roles_file.ts";
import { MAX_PASS_SECONDS, type PassAccess } from "./one_time_pass.ts";

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

/**
 * A one-time plan's `access`: `"lifetime"`, or how long the role lasts after the payment as an
 * ISO 8601 duration ("P30D"). Months and years are refused, as for grace periods.
 */
export const passAccessSchema = z.string().transform((text, ctx): PassAccess => {
  if (text === "lifetime") return { kind: "lifetime" };
  const seconds = durationSeconds(text);
  if (seconds === null) {
    ctx.addIssue({
      code: "custom",
      message: 'expected "lifetime" or an ISO 8601 duration such as "P30D" (30 days)',
    });
    return z.NEVER;
  }
  if (seconds < 60 * 60) {
    ctx.addIssue({ code: "custom", message: "a pass must last at least one hour" });
    return z.NEVER;
  }
  if (seconds > MAX_PASS_SECONDS) {
    ctx.addIssue({
      code: "custom",
      message: 'passes longer than ten years are not supported; use "lifetime"',
    });
    return z.NEVER;
  }
  return { kind: "duration", seconds, iso: text };
});

/** A guild's Stripe Tax setting: Checkout computes tax from the address the member gives. */
export const guildTaxSchema = z.strictObject({
  automatic: z.boolean(),
  /**
   * What Checkout asks of the address: "auto" only what tax needs, "required" a full billing
   * address. Stripe Tax cannot work without one of them.
   */
  billing_address_collection: z.enum(["auto", "required"]).optional(),
}).superRefine((tax, ctx) => {
  if (tax.automatic && !tax.billing_address_collection) {
    ctx.addIssue({
      code: "custom",
      path: ["billing_address_collection"],
      message: 'Stripe Tax needs the member\'s address: set "auto" (what tax needs) or ' +
        '"required" (a full billing address)',
    });
  }
  if (!tax.automatic && tax.billing_address_collection) {
    ctx.addIssue({
      code: "custom",
      path: ["billing_address_collection"],
      message: "Checkout asks for the address only for Stripe Tax, which is off: remove " +
        'billing_address_collection, or set "automatic": true',
    });
  }
});
/** A guild's Stripe Tax setting. */
export type GuildTax = z.infer<typeof guildTaxSchema>;

/**
 * One plan: a Stripe price that grants a Discord role. A recurring price sells a subscription; a
 * one-time price sells a pass, and then `access` says for how long.
 */
export const planEntrySchema = z.strictObject({
  stripe_price_id: z.string().regex(/^price_[A-Za-z0-9_]+$/, {
    message: 'expected a Stripe price id such as "price_1Qx..." (Product catalog → the price)',
  }),
  // The role or roles, and the trial (plan_roles_file.ts).
  ...planRoleFields,
  // Strict at every level, so a misspelled `role_name` is refused rather than dropped.
  display: z.strictObject({
    en: planTextSchema.strict(),
    ja: planTextSchema.strict().optional(),
  }),
  sort_order: z.number().int().min(-1000).max(1000).default(0),
  active: z.boolean().default(true),
  /** Only for a one-time price: for life, or for a duration after the payment. */
  access: passAccessSchema.optional(),
  /** Whether Checkout takes Stripe promotion codes for this plan; the guild's setting if absent. */
  promotion_codes: z.boolean().optional(),
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
  /** Whether Checkout takes Stripe promotion codes for the guild's plans (each plan may differ). */
  promotion_codes: z.boolean().default(false),
  /** Stripe Tax at Checkout; off when absent. */
  tax: guildTaxSchema.default({ automatic: false }),
  plans: z.array(planEntrySchema).min(1, { message: "a guild needs at least one plan" }),
}).superRefine((guild, ctx) => {
  checkPlanRoles(guild, ctx);
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
    plans: guild.plans.map((plan) => ({
      ...plan,
      ...planRolesOf(plan),
      promotion_codes: plan.promotion_codes ?? guild.promotion_codes,
    })),
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
  const problems = [...result.success ? [] : result.error.issues, ...crossGuildRoleProblems(json)]
    .map((issue) => `${formatPath(issue.path) || "(the file)"}: ${issue.message}`);
  if (result.success && !problems.length) return { ok: true, file: result.data };
  return { ok: false, problems };
}

/** The fields of a Stripe price that decide whether a plan can sell it (a subset of Stripe.Price). */
export interface StripePriceFacts {
  id: string;
  active: boolean;
  type: "one_time" | "recurring";
  currency: string;
  unit_amount: number | null;
  billing_scheme?: string;
  /** Whether the amount includes tax; Stripe Tax refuses a price that does not say. */
  tax_behavior?: "inclusive" | "exclusive" | "unspecified" | null;
  recurring: {
    interval: BillingInterval;
    interval_count: number;
    usage_type?: string;
  } | null;
}

/** How a plan's price sells its role. */
export type PlanSale =
  | { kind: "subscription"; billing_interval: BillingInterval; interval_count: number }
  | { kind: "pass"; access: PassAccess };

/** What `plans` stores from the Stripe price, so the plan page can show it without Stripe. */
export interface PlanPriceTerms {
  unit_amount: number;
  currency: string;
  sale: PlanSale;
  tax_behavior: "inclusive" | "exclusive" | "unspecified";
}

/** What the plans file says about the plan and its guild that the price must agree with. */
export interface PlanSettings {
  /** A one-time plan's `access`. */
  access?: PassAccess;
  /** Whether the guild turned Stripe Tax on. */
  automaticTax?: boolean;
  /** An archived price is accepted for a plan the file itself marks inactive. */
  allowArchived?: boolean;
}

/** Why a price cannot back its plan, with the plan's field the problem is about. */
export interface PriceProblem {
  field: "stripe_price_id" | "access";
  reason: string;
}

/**
 * Decides whether a Stripe price can back a plan: it must be active and licensed (not metered),
 * have a fixed unit amount (a role is sold as one seat per member), and be recurring for a
 * subscription or one-time for a pass with its `access`. With Stripe Tax on it must say whether
 * its amount includes tax, and a yen price must include it: Japanese law requires the price a
 * consumer sees to be the total (総額表示).
 * @returns the terms, or every problem, each with the plan's field it is about
 */
export function planPriceTerms(
  price: StripePriceFacts,
  settings: PlanSettings = {},
): { ok: true; terms: PlanPriceTerms } | { ok: false; problems: PriceProblem[] } {
  const problems: PriceProblem[] = [];
  const refuse = (field: PriceProblem["field"], reason: string) => problems.push({ field, reason });
  if (!price.active && !settings.allowArchived) {
    refuse("stripe_price_id", `price ${price.id} is archived (inactive) in Stripe`);
  }
  let sale: PlanSale | null = null;
  if (price.type === "recurring" && price.recurring) {
    if (settings.access) {
      refuse(
        "access",
        `price ${price.id} is recurring: a subscription lasts while it renews; remove access ` +
          "or use a one-time price",
      );
    } else if (price.recurring.usage_type === "metered") {
      refuse("stripe_price_id", `price ${price.id} is metered; a plan needs a licensed price`);
    } else {
      sale = {
        kind: "subscription",
        billing_interval: price.recurring.interval,
        interval_count: price.recurring.interval_count,
      };
    }
  } else if (settings.access) {
    sale = { kind: "pass", access: settings.access };
  } else {
    refuse(
      "stripe_price_id",
      `price ${price.id} is a one-time price; a plan needs a recurring price, or an access ` +
        '("lifetime" or a duration such as "P30D") to sell it as a pass',
    );
  }
  if (price.unit_amount === null || price.billing_scheme === "tiered") {
    refuse(
      "stripe_price_id",
      `price ${price.id} has tiered pricing; a plan needs a fixed amount per member`,
    );
  }
  const taxBehavior = price.tax_behavior ?? "unspecified";
  const currency = price.currency.toLowerCase();
  if (settings.automaticTax && taxBehavior === "unspecified") {
    refuse(
      "stripe_price_id",
      `price ${price.id} does not say whether it includes tax, which Stripe Tax needs: set its ` +
        "tax behavior in Stripe (inclusive for prices shown to consumers in Japan)",
    );
  }
  if (settings.automaticTax && currency === "jpy" && taxBehavior === "exclusive") {
    refuse(
      "stripe_price_id",
      `price ${price.id} excludes tax, but a yen price shown to consumers must include it ` +
        "(総額表示): use a tax-inclusive price",
    );
  }
  if (problems.length || !sale || price.unit_amount === null) return { ok: false, problems };
  return {
    ok: true,
    terms: { unit_amount: price.unit_amount, currency, sale, tax_behavior: taxBehavior },
  };
}
