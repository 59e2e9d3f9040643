/**
 * Free trials, decided without I/O: whether a member's Checkout starts one, and when the member's
 * first trial in a guild began. One trial per member per guild: a member who ever trialed in the
 * guild pays from the start next time, whichever plan they choose.
 *
 * What a trialing subscription grants is decided with the other roles, in `entitlement.ts`
 * (`rolesGrantedBy`: the plan's trial roles, its paid roles, or none until the first payment).
 * Stripe's side: Checkout's `subscription_data.trial_period_days`,
 * `subscription_data.trial_settings.end_behavior.missing_payment_method` and
 * `payment_method_collection` (https://docs.stripe.com/payments/checkout/free-trials).
 */

/** A plan's trial as the plans file sets it. */
export interface PlanTrial {
  days: number;
  /** `required`: Checkout asks for a card up front; `if_required`: only when something is due. */
  paymentMethod: "required" | "if_required";
  /** What ends a trial that has no card when it ends. */
  missingPaymentMethod: "cancel" | "pause";
}

/** The trial a Checkout Session starts, in Stripe's terms. */
export interface CheckoutTrial {
  trialPeriodDays: number;
  paymentMethodCollection: "always" | "if_required";
  missingPaymentMethod: "cancel" | "pause";
}

/**
 * The trial a member's Checkout of a plan starts: the plan's, unless the member already had a
 * trial in the guild (`trialStartedAt`), or none when the plan has no trial.
 */
export function trialOffer(
  plan: PlanTrial | null,
  member: { trialStartedAt: Date | null } | null,
): CheckoutTrial | null {
  if (!plan || member?.trialStartedAt) return null;
  return {
    trialPeriodDays: plan.days,
    paymentMethodCollection: plan.paymentMethod === "required" ? "always" : "if_required",
    missingPaymentMethod: plan.missingPaymentMethod,
  };
}

/**
 * When the member's first trial in the guild began: the earliest of what the membership keeps and
 * the trial starts Stripe reports on the customer's subscriptions. Never forgets one.
 */
export function firstTrialStart(
  stored: Date | null,
  subscriptions: readonly { trialStart: Date | null }[],
): Date | null {
  const starts = [stored, ...subscriptions.map((subscription) => subscription.trialStart)]
    .filter((start): start is Date => start !== null);
  if (starts.length === 0) return null;
  return new Date(Math.min(...starts.map((start) => start.getTime())));
}
