/**
 * The `checkout` function's JSON API, as zod schemas: the function parses requests with them and
 * the plan page parses responses with them, so both sides agree on one definition.
 *
 * | method and path                | body                 | answer                           |
 * |--------------------------------|----------------------|----------------------------------|
 * | POST /checkout/plan-view       | `{ token }`          | {@link PlanView}                 |
 * | POST /checkout/checkout-session| `{ token, planId, locale? }` | {@link SessionLink} (checkout, or portal for an entitled member) |
 * | POST /checkout/portal-session  | `{ token, locale? }` | {@link SessionLink} (portal)     |
 * | POST /checkout/checkout-complete | `{ sessionId }`    | {@link CheckoutCompletion}       |
 *
 * Errors: `{ error: { code, message } }` with a 4xx for the member's input (see
 * {@link PROBLEM_STATUS}), 502 when Stripe fails and 503 when the database does.
 */
import { z } from "zod";
import { PLAN_PAGE_PROBLEMS, type PlanPageProblem } from "../_core/messages/plan_page.ts";
import { localeSchema } from "../_core/locale.ts";
import { planDisplaySchema, sellerNoticeSchema } from "../_core/operator_text.ts";
import { billingIntervalSchema } from "../_core/price.ts";

/** A link token as it arrives: the page passes it unchecked, the function judges its shape. */
export const tokenFieldSchema = z.string().max(256);

/** A language the plan page speaks. */
export { localeSchema };

/** Body of `POST /checkout/plan-view`. */
export const tokenRequestSchema = z.object({ token: tokenFieldSchema });

/**
 * Body of `POST /checkout/portal-session`. `locale` is the language the member chose on the page,
 * when they chose one: Stripe's page and the page it returns to speak it. Without it, the link's.
 */
export const portalRequestSchema = z.object({
  token: tokenFieldSchema,
  locale: localeSchema.optional(),
});

/** Body of `POST /checkout/checkout-session` (`locale` as in {@link portalRequestSchema}). */
export const checkoutRequestSchema = z.object({
  token: tokenFieldSchema,
  planId: z.string().uuid(),
  locale: localeSchema.optional(),
});

/**
 * Body of `POST /checkout/checkout-complete`: the Checkout session id Stripe put in the success
 * URL (`{CHECKOUT_SESSION_ID}`). Anyone can send one, so it only ever makes rolepass re-read Stripe.
 */
export const completeRequestSchema = z.object({
  sessionId: z.string().regex(/^cs_(test|live)_[A-Za-z0-9]{1,250}$/),
});

/** One plan as the plan page shows it. */
export const planViewItemSchema = z.object({
  id: z.string().uuid(),
  /** Name, description and, when the operator gave it, the Discord role's name per language. */
  display: planDisplaySchema,
  unitAmount: z.number().int().nonnegative(),
  currency: z.string().regex(/^[a-z]{3}$/),
  /** How the plan sells its role: a subscription renewing every interval, or a one-time pass. */
  sale: z.discriminatedUnion("kind", [
    z.object({
      kind: z.literal("subscription"),
      interval: billingIntervalSchema,
      intervalCount: z.number().int().positive(),
    }),
    z.object({
      kind: z.literal("pass"),
      /** How long the pass lasts after the payment; null for life. */
      accessSeconds: z.number().int().positive().nullable(),
    }),
  ]),
  /** With Stripe Tax on, whether the amount includes tax (always for yen); null when tax is off. */
  tax: z.enum(["included", "excluded"]).nullable(),
  /**
   * The free trial this member's Checkout of the plan starts, whether Checkout asks for a card up
   * front, and what the trial grants (`paid`: the plan's role, `own`: trial roles of its own,
   * `none`: nothing until the first payment); absent when the plan has none or the member already
   * had one in the guild.
   */
  trial: z.object({
    days: z.number().int().positive(),
    cardUpFront: z.boolean(),
    roles: z.enum(["paid", "own", "none"]),
  }).optional(),
});
/** One plan as the plan page shows it. */
export type PlanViewItem = z.infer<typeof planViewItemSchema>;

/** What the plan page shows for a join link. */
export const planViewSchema = z.object({
  locale: localeSchema,
  guild: z.object({
    id: z.string(),
    name: z.string(),
    /** Null when the operator's notice is missing or incomplete (the page then says so). */
    sellerNotice: sellerNoticeSchema.nullable(),
  }),
  plans: z.array(planViewItemSchema),
  /** The member already has an entitling subscription: subscribing opens the portal instead. */
  entitled: z.boolean(),
  /** The member's live pass, if any: its plan and until when (null: for life), ISO 8601. */
  pass: z.object({ planId: z.string().uuid(), accessUntil: z.string().nullable() }).nullable(),
  /** When the link stops working, ISO 8601. */
  expiresAt: z.string(),
});
/** What the plan page shows for a join link. */
export type PlanView = z.infer<typeof planViewSchema>;

/** A Stripe-hosted page to send the member to. */
export const sessionLinkSchema = z.object({
  kind: z.enum(["checkout", "portal"]),
  url: z.string().url(),
  locale: localeSchema,
});
/** A Stripe-hosted page to send the member to. */
export type SessionLink = z.infer<typeof sessionLinkSchema>;

/**
 * What the thank-you page learns from the Checkout session it was sent back from, and no more:
 * anyone holding a session id may ask, so the answer says what the page shows and nothing of the
 * member's standing since. `granting`: the session completed and its sync entitled the member (a
 * role job is queued). `trial_granting` / `trial_started`: it started a free trial, with its role
 * now or none until the first payment. `processing`: anything else; the webhook finishes.
 */
export const checkoutCompletionSchema = z.object({
  status: z.enum(["granting", "trial_granting", "trial_started", "processing"]),
});
/** What the thank-you page learns from the Checkout session it was sent back from. */
export type CheckoutCompletion = z.infer<typeof checkoutCompletionSchema>;

/** Why a request failed; the codes are the plan page's problems. */
export type CheckoutProblem = PlanPageProblem;

/** The error body every failure carries. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(PLAN_PAGE_PROBLEMS as [PlanPageProblem, ...PlanPageProblem[]]),
    message: z.string(),
  }),
});
/** The error body every failure carries. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The HTTP status of each problem. */
export const PROBLEM_STATUS: Record<CheckoutProblem, 400 | 403 | 404 | 409 | 410 | 502 | 503> = {
  malformed_token: 400,
  invalid_request: 400,
  wrong_purpose: 403,
  unknown_token: 404,
  no_plans: 404,
  not_selling_yet: 409,
  unknown_plan: 404,
  no_subscription: 404,
  not_found: 404,
  used_token: 409,
  subscription_pending: 409,
  expired_token: 410,
  stripe_unavailable: 502,
  unavailable: 503,
};

/** Paths under the function's base path. */
export const CHECKOUT_PATHS = {
  planView: "plan-view",
  checkoutSession: "checkout-session",
  portalSession: "portal-session",
  checkoutComplete: "checkout-complete",
} as const;
