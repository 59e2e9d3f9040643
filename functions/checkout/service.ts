/**
 * The checkout procedures: what the plan page shows, opening Checkout, opening the portal.
 *
 * Order of work follows the seed's TCC note: create on Stripe first, record second, in one
 * database transaction that holds the link's row lock (and the membership's). If Stripe fails,
 * the transaction rolls back and nothing is recorded as done; if the recording fails after Stripe
 * succeeded, the Stripe session is left open but unrecorded and the link unused, and the member's
 * retry gets the same session back through the idempotency key.
 *
 * The membership row, then the Stripe customer, are each committed on their own before any
 * session: the row's id keys the customer's idempotency, and a customer that exists on Stripe is
 * recorded even if the session then fails, so the next attempt reuses it. Neither is a checkout
 * "done": a membership without a subscription entitles nothing.
 */
import { hashLinkToken, isWellFormedLinkToken, type LinkPurpose } from "../_core/link_token.ts";
import { planDisplaySchema, sellerNoticeSchema } from "../_core/operator_text.ts";
import type { Sql } from "../_shared/db.ts";
import type { Logger } from "../_shared/log.ts";
import type { StripeGateway } from "../_shared/stripe_gateway.ts";
import { recordPass } from "../_shared/one_time_passes.ts";
import { findGuildPortalConfigurationId } from "../_shared/guild_portal_configurations.ts";
import {
  applyCustomerRead,
  lockCustomer,
  readCustomer,
  type SyncOutcome,
  syncSubscription,
} from "../_shared/subscription_sync.ts";
import type { Locale } from "../_core/locale.ts";
import { subscriptionHasEnded } from "../_core/subscription_state.ts";
import type {
  CheckoutCompletion,
  CheckoutProblem,
  PlanView,
  PlanViewItem,
  SessionLink,
} from "./contract.ts";
import {
  checkLinkLife,
  checkoutSessionExpiry,
  decideLinkUse,
  type SessionAction,
} from "./link_use.ts";
import type { StripeMode } from "../_core/connect.ts";
import { checkoutDestination } from "../_core/checkout_session.ts";
import { portalOnBehalfOf, sellerOf } from "./connect_seller.ts";
import * as store from "./store.ts";
import { trialOffer } from "../_core/trial.ts";

/** What the procedures need. */
export interface CheckoutDeps {
  sql: Sql;
  /**
   * Stripe, for the sessions and for the shared re-read-and-overwrite sync
   * (../_shared/subscription_sync.ts), the same path the stripe-webhook function takes.
   */
  stripe: StripeGateway;
  /** Where the plan page lives, without a trailing slash; Stripe sends the member back there. */
  publicSiteUrl: string;
  now: () => Date;
  /** Platform mode sells each guild's plans on its connected account (standalone when absent). */
  stripeMode?: StripeMode;
}

/** A procedure's answer: a value, or the problem the member is shown. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; problem: CheckoutProblem };

function fail(problem: CheckoutProblem): { ok: false; problem: CheckoutProblem } {
  return { ok: false, problem };
}

/**
 * Whether the member holds a subscription to manage rather than buy again: the fact the sync
 * decided and stored. A pass is not one: its holder may buy another plan or renew the pass.
 */
function holdsSubscription(row: store.MembershipRow | null): boolean {
  return row?.subscription_live ?? false;
}

/** How a plan sells its role, as the page shows it. */
function saleOf(plan: store.PlanRow): PlanViewItem["sale"] | null {
  if (plan.access_kind === "subscription") {
    return plan.billing_interval
      ? {
        kind: "subscription",
        interval: plan.billing_interval,
        intervalCount: plan.interval_count,
      }
      : null;
  }
  return {
    kind: "pass",
    accessSeconds: plan.access_kind === "lifetime" ? null : Math.round(plan.access_seconds ?? 0),
  };
}

/**
 * Whether a plan's shown amount includes tax: only known when the guild has Stripe Tax on and the
 * price says (plans:apply refuses a tax-exclusive yen price there).
 */
function taxOf(plan: store.PlanRow, guild: { automatic_tax: boolean }): PlanViewItem["tax"] {
  if (!guild.automatic_tax || plan.tax_behavior === "unspecified") return null;
  return plan.tax_behavior === "inclusive" ? "included" : "excluded";
}

/**
 * The trial a member's Checkout of `plan` starts: the plan page offers exactly this one, so the
 * page never promises a trial Checkout would not start.
 */
function trialFor(plan: store.PlanRow, membership: store.MembershipRow | null) {
  if (plan.access_kind !== "subscription" || plan.trial_days === null) return null;
  return trialOffer(
    {
      days: plan.trial_days,
      paymentMethod: plan.trial_payment_method,
      missingPaymentMethod: plan.trial_missing_payment_method,
    },
    { trialStartedAt: membership?.trial_started_at ?? null },
  );
}

function linkState(row: store.LinkTokenRow) {
  return { purpose: row.purpose, expiresAt: row.expires_at, usedAt: row.used_at };
}

/** Finds the link behind `token` and checks that it may be used for `purpose` now. */
async function findUsableLink(
  deps: CheckoutDeps,
  token: string,
  purpose: LinkPurpose,
): Promise<Outcome<store.LinkTokenRow>> {
  if (!isWellFormedLinkToken(token)) return fail("malformed_token");
  const link = await store.findLinkToken(deps.sql, await hashLinkToken(token));
  const life = checkLinkLife(link && linkState(link), purpose, deps.now());
  if (!life.ok) return life;
  return { ok: true, value: link! };
}

/** Token -> what the plan page shows. Never uses the link up. */
export async function viewPlans(
  deps: CheckoutDeps,
  token: string,
  log: Logger,
): Promise<Outcome<PlanView>> {
  const found = await findUsableLink(deps, token, "join");
  if (!found.ok) return found;
  const link = found.value;
  const guildPlans = await store.loadGuildPlans(deps.sql, link.guild_id);
  if (!guildPlans) return fail("no_plans");
  const membership = await store.findMembership(deps.sql, link.guild_id, link.discord_user_id);
  const plans: PlanViewItem[] = [];
  for (const plan of guildPlans.plans) {
    const display = planDisplaySchema.safeParse(plan.display);
    const sale = saleOf(plan);
    if (!display.success || !sale) {
      log.warn("plan hidden: its display text or terms are invalid", { planId: plan.id });
      continue;
    }
    const trial = trialFor(plan, membership);
    plans.push({
      id: plan.id,
      display: display.data,
      unitAmount: plan.unit_amount,
      currency: plan.currency,
      sale,
      tax: taxOf(plan, guildPlans.guild),
      ...(trial && {
        trial: {
          days: trial.trialPeriodDays,
          cardUpFront: trial.paymentMethodCollection === "always",
          roles: plan.trial_role_ids === null
            ? "paid"
            : plan.trial_role_ids.length
            ? "own"
            : "none",
        },
      }),
    });
  }
  if (plans.length === 0) return fail("no_plans");
  const seller = await sellerOf(deps.stripeMode ?? "standalone", deps.sql, link.guild_id);
  if (!seller.ok) return seller;
  const notice = sellerNoticeSchema.safeParse(guildPlans.guild.seller_notice);
  if (!notice.success) log.warn("seller notice incomplete", { guildId: link.guild_id });
  const pass = membership && await store.findLivePass(deps.sql, membership.id);
  return {
    ok: true,
    value: {
      locale: link.locale,
      guild: {
        id: guildPlans.guild.id,
        name: guildPlans.guild.name,
        sellerNotice: notice.success ? notice.data : null,
      },
      plans,
      entitled: holdsSubscription(membership),
      pass: pass && {
        planId: pass.planId,
        accessUntil: pass.accessUntil?.toISOString() ?? null,
      },
      expiresAt: link.expires_at.toISOString(),
    },
  };
}

/**
 * Makes sure the member has a membership row and exactly one Stripe customer. The membership row
 * lock makes check-and-create one critical section per member; the idempotency key (derived from
 * the committed membership id) makes a retried create return the same customer.
 */
async function ensureCustomer(
  deps: CheckoutDeps,
  link: store.LinkTokenRow,
  locale: Locale,
  log: Logger,
): Promise<void> {
  const member = { guildId: link.guild_id, discordUserId: link.discord_user_id };
  await store.ensureMembership(deps.sql, { ...member, locale: link.locale });
  await store.inTransaction(deps.sql, async (tx) => {
    const membership = await store.lockMembership(tx, member);
    if (membership.stripe_customer_id) return;
    const customerId = await deps.stripe.createMemberCustomer({
      guildId: link.guild_id,
      discordUserId: link.discord_user_id,
      membershipId: membership.id,
    }, locale);
    await store.setMembershipCustomer(tx, membership.id, customerId);
    log.info("stripe customer created", { membershipId: membership.id, customerId });
  });
}

/**
 * Settles the member's Checkout sessions opened with other links before a new one opens, so a
 * member never holds two open sessions (two of them could become two live subscriptions). An open
 * session is expired; a completed one whose subscription still lives means the payment went
 * through and the webhook has not landed yet.
 */
async function settleEarlierCheckouts(
  deps: CheckoutDeps,
  tx: store.Queryable,
  membershipId: string,
  linkId: string,
  log: Logger,
): Promise<Outcome<null>> {
  for (const attempt of await store.openCheckoutAttempts(tx, membershipId)) {
    if (attempt.link_token_id === linkId) continue;
    let state = await deps.stripe.retrieveCheckoutSessionState(attempt.stripe_session_id);
    if (state.status === "open") {
      state = await deps.stripe.expireCheckoutSession(attempt.stripe_session_id);
    }
    if (state.status === "expired") {
      await store.setAttemptStatus(tx, attempt.id, "expired");
      log.info("earlier checkout session expired", { sessionId: attempt.stripe_session_id });
      continue;
    }
    if (
      state.subscriptionId &&
      !subscriptionHasEnded((await deps.stripe.retrieveSubscription(state.subscriptionId)).status)
    ) {
      log.info("checkout refused: an earlier session already started a subscription", {
        sessionId: attempt.stripe_session_id,
      });
      return fail("subscription_pending");
    }
    await store.setAttemptStatus(tx, attempt.id, "completed");
  }
  return { ok: true, value: null };
}

/** A page of the plan site in `locale`: the pages Stripe sends the member back to read `?lang=`. */
function siteUrl(deps: CheckoutDeps, path: string, locale: Locale): string {
  return `${deps.publicSiteUrl}${path}?lang=${locale}`;
}

/** Opens (or replays) a session for `action` with the locked link and membership. */
async function openSession(
  deps: CheckoutDeps,
  tx: store.Queryable,
  link: store.LinkTokenRow,
  membership: store.MembershipRow,
  request: {
    action: SessionAction;
    plan: store.PlanRow | null;
    locale: Locale | undefined;
  },
  log: Logger,
): Promise<Outcome<SessionLink>> {
  const { action, plan } = request;
  const opened = await store.attemptsForLinkToken(tx, link.id);
  const use = decideLinkUse(
    linkState(link),
    opened.map((a) => ({ kind: a.kind, planId: a.plan_id, status: a.status })),
    action,
  );
  if (!use.ok) return use;
  if (!membership.stripe_customer_id) return fail("no_subscription");
  // A replay must send Stripe the first request's parameters under the same idempotency key: it
  // keeps the language the session was opened in, whatever the page asks this time.
  // decideLinkUse replays only the one attempt opened.
  const [replayed] = use.replay ? opened : [];
  const locale = (replayed ? replayed.locale : request.locale) ?? link.locale;
  const member = {
    guildId: link.guild_id,
    discordUserId: link.discord_user_id,
    membershipId: membership.id,
  };

  let session;
  if (action.kind === "portal") {
    session = await deps.stripe.createPortalSession({
      customerId: membership.stripe_customer_id,
      configurationId: await findGuildPortalConfigurationId(tx, link.guild_id),
      onBehalfOf: await portalOnBehalfOf(deps.stripeMode ?? "standalone", tx, link.guild_id),
      locale,
      returnUrl: siteUrl(deps, "/manage/done", locale),
      idempotencyKey: `rolepass-portal-${link.id}`,
    });
  } else {
    if (!use.replay) {
      const settled = await settleEarlierCheckouts(deps, tx, membership.id, link.id, log);
      if (!settled.ok) return settled;
    }
    if (!plan) throw new Error("a Checkout session needs its plan");
    const guildTax = await store.findGuildTax(tx, link.guild_id);
    const seller = await sellerOf(deps.stripeMode ?? "standalone", tx, link.guild_id);
    if (!seller.ok) return seller;
    const sale = plan.access_kind === "subscription"
      ? { mode: "subscription" as const }
      : { mode: "payment" as const, amount: plan.unit_amount, currency: plan.currency };
    session = await deps.stripe.createCheckoutSession({
      destination: checkoutDestination(seller.value, sale),
      member,
      customerId: membership.stripe_customer_id,
      priceId: plan.stripe_price_id,
      mode: sale.mode,
      allowPromotionCodes: plan.allow_promotion_codes,
      trial: trialFor(plan, membership),
      tax: guildTax.automaticTax && guildTax.billingAddressCollection
        ? { billingAddressCollection: guildTax.billingAddressCollection }
        : null,
      locale,
      successUrl: `${siteUrl(deps, "/join/thanks", locale)}&session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: siteUrl(deps, "/join/cancelled", locale),
      expiresAt: checkoutSessionExpiry(
        { createdAt: link.created_at, expiresAt: link.expires_at },
        deps.now(),
      ),
      idempotencyKey: `rolepass-checkout-${link.id}`,
    });
  }
  if (!use.replay) {
    await store.recordAttempt(tx, {
      membershipId: membership.id,
      linkTokenId: link.id,
      planId: action.kind === "checkout" ? action.planId : null,
      kind: action.kind,
      stripeSessionId: session.id,
      locale,
    });
    await store.markLinkTokenUsed(tx, link.id, deps.now());
  }
  log.info(`${action.kind} session opened`, {
    membershipId: membership.id,
    linkId: link.id,
    sessionId: session.id,
    replay: use.replay,
  });
  return { ok: true, value: { kind: action.kind, url: session.url, locale } };
}

/**
 * Token + plan -> a Checkout session URL; for a member who already holds a live subscription,
 * a Customer Portal URL instead (never a second subscription). `locale` is the language the
 * member chose on the plan page, if any; else the link's.
 */
export async function openCheckout(
  deps: CheckoutDeps,
  request: { token: string; planId: string; locale?: Locale },
  log: Logger,
): Promise<Outcome<SessionLink>> {
  const found = await findUsableLink(deps, request.token, "join");
  if (!found.ok) return found;
  const plan = await store.findActivePlan(deps.sql, found.value.guild_id, request.planId);
  if (!plan) return fail("unknown_plan");
  await ensureCustomer(deps, found.value, request.locale ?? found.value.locale, log);
  return await store.inTransaction(deps.sql, async (tx) => {
    const link = await store.lockLinkToken(tx, found.value.id);
    const life = checkLinkLife(linkState(link), "join", deps.now());
    if (!life.ok) return life;
    const membership = await store.lockMembership(tx, {
      guildId: link.guild_id,
      discordUserId: link.discord_user_id,
    });
    const action: SessionAction = holdsSubscription(membership)
      ? { kind: "portal" }
      : { kind: "checkout", planId: plan.id };
    return await openSession(deps, tx, link, membership, {
      action,
      plan,
      locale: request.locale,
    }, log);
  });
}

/** Token -> a Customer Portal URL, for a member with a Stripe customer (`locale` as in openCheckout). */
export async function openPortal(
  deps: CheckoutDeps,
  request: { token: string; locale?: Locale },
  log: Logger,
): Promise<Outcome<SessionLink>> {
  const found = await findUsableLink(deps, request.token, "manage");
  if (!found.ok) return found;
  return await store.inTransaction(deps.sql, async (tx) => {
    const link = await store.lockLinkToken(tx, found.value.id);
    const life = checkLinkLife(linkState(link), "manage", deps.now());
    if (!life.ok) return life;
    const membership = await store.findMembership(tx, link.guild_id, link.discord_user_id);
    if (!membership?.stripe_customer_id) return fail("no_subscription");
    return await openSession(deps, tx, link, membership, {
      action: { kind: "portal" },
      plan: null,
      locale: request.locale,
    }, log);
  });
}

/** The membership change cause written when the thank-you page, not a webhook, applied Stripe's state. */
export const CHECKOUT_SUCCESS_CAUSE = "checkout_success_page";

/**
 * How long an open session's answer stands before Stripe is asked again: the thank-you page is
 * loaded once, after Stripe completed the session, so a re-read is only ever for a reload.
 */
export const SESSION_RECHECK_SECONDS = 10;

/**
 * Checkout session id (from the success URL) -> the member's membership synced from Stripe now,
 * without waiting for the webhook (Stripe delivers events late at times; t3dotgg's
 * stripe-recommendations: call the same sync from the success page).
 *
 * The id is only a key to look with: the session must be one rolepass recorded, and Stripe's copy
 * must carry the membership id of that record; anything else is `not_found` and changes nothing.
 * What is applied is read from Stripe under the customer's lock by {@link syncSubscription}, so a
 * webhook running at the same time re-applies the same truth.
 *
 * Anyone holding a session id may call this in a loop, so the work per session is bounded: one
 * request at a time claims the right to ask Stripe, an open session is re-read at most once per
 * {@link SESSION_RECHECK_SECONDS}, and a completed or expired one never again: its answer is
 * recorded on the attempt and read from there. The answer says only what the page shows.
 */
export async function completeCheckout(
  deps: CheckoutDeps,
  sessionId: string,
  log: Logger,
): Promise<Outcome<CheckoutCompletion>> {
  const attempt = await store.findCheckoutAttemptBySession(deps.sql, sessionId);
  if (!attempt) {
    log.warn("checkout completion refused: no such session recorded", { sessionId });
    return fail("not_found");
  }
  const now = deps.now();
  const checkedBefore = new Date(now.getTime() - SESSION_RECHECK_SECONDS * 1000);
  if (!await store.claimSessionCheck(deps.sql, attempt.id, now, checkedBefore)) {
    return { ok: true, value: { status: attempt.completion ?? "processing" } };
  }
  try {
    return await checkSession(deps, attempt, log);
  } catch (error) {
    await store.releaseSessionCheck(deps.sql, attempt.id);
    throw error;
  }
}

/**
 * Re-reads the customer from Stripe and applies it under the customer's lock, as the webhook
 * does; a completed payment-mode session first records its pass (one_time_passes.ts) in the same
 * transaction, so the thank-you page can grant a pass before the webhook lands.
 */
async function syncCheckout(
  deps: CheckoutDeps,
  session: { id: string; mode: string; customerId: string | null },
  log: Logger,
): Promise<SyncOutcome> {
  const syncDeps = {
    sql: deps.sql,
    stripe: deps.stripe,
    now: deps.now,
    logger: log,
    stripeMode: deps.stripeMode,
  };
  const cause = { cause: CHECKOUT_SUCCESS_CAUSE, eventId: null };
  const customerId = session.customerId!;
  if (session.mode !== "payment") {
    return await syncSubscription(syncDeps, { customerId }, cause);
  }
  const payment = await syncDeps.stripe.retrieveCheckoutPayment(session.id);
  const read = await readCustomer(syncDeps, customerId);
  return await deps.sql.begin(async (tx) => {
    await lockCustomer(tx, customerId);
    if (payment) await recordPass(tx, payment, null);
    return await applyCustomerRead(tx, syncDeps, read, cause);
  }) as SyncOutcome;
}

/** Asks Stripe about a recorded session under the claim of {@link completeCheckout}. */
async function checkSession(
  deps: CheckoutDeps,
  attempt: store.SessionAttemptRow,
  log: Logger,
): Promise<Outcome<CheckoutCompletion>> {
  const sessionId = attempt.stripe_session_id;
  const session = await deps.stripe.retrieveCheckoutSessionState(sessionId);
  const customerMatches = !attempt.stripe_customer_id || !session.customerId ||
    attempt.stripe_customer_id === session.customerId;
  if (session.membershipId !== attempt.membership_id || !customerMatches) {
    log.warn("checkout completion refused: Stripe's session is not the recorded one", {
      sessionId,
      membershipId: attempt.membership_id,
    });
    return fail("not_found");
  }
  if (session.status === "expired") {
    await store.setAttemptStatus(deps.sql, attempt.id, "expired");
    return { ok: true, value: { status: "processing" } };
  }
  if (session.status !== "complete" || !session.customerId) {
    return { ok: true, value: { status: "processing" } };
  }
  const synced = await syncCheckout(deps, { ...session, id: sessionId }, log);
  const entitled = synced.result === "applied" && synced.entitled;
  const trialing = synced.result === "applied" &&
    await store.findMembershipStatus(deps.sql, attempt.membership_id) === "trialing";
  // A trial's Checkout charged nothing: the page must not say a payment went through.
  const status = trialing
    ? (entitled ? "trial_granting" : "trial_started")
    : entitled
    ? "granting"
    : "processing";
  await store.recordCompletion(deps.sql, attempt.id, status);
  log.info("checkout completion synced", {
    sessionId,
    membershipId: attempt.membership_id,
    result: synced.result,
    changed: synced.result === "applied" ? synced.changed : false,
    entitled,
  });
  return { ok: true, value: { status } };
}
