/**
 * Stripe-side reconciliation. Stripe retries a webhook for three days only, and never sends an
 * event type the endpoint does not list, so a membership could stay wrong for good. Two repairs:
 *
 * - {@linkcode catchUpStripeEvents} (hourly, pg_cron -> `POST /role-sync/stripe-events`): lists
 *   the account's events from Stripe's Events API (it keeps 30 days) from a cursor kept in
 *   `rolepass.stripe_event_catchups`, and hands each event rolepass has not processed to the
 *   webhook's own {@linkcode processEvent}: the same re-read of Stripe under the same per-customer
 *   lock, recorded under the same event id, so a catch-up and a late webhook can never fight and a
 *   replayed catch-up changes nothing. In platform mode an event whose money went elsewhere than
 *   the member's guild's account is refused first, as the platform endpoint refuses it
 *   (connect_destination.ts), the transfer and application fee events are replayed too
 *   (connect_money.ts), and the pass then re-reads the connected accounts whose account.updated
 *   may have been lost (account_sweep.ts) and sweeps the lost disputes no closing event recovered
 *   (dispute_sweep.ts).
 * - {@linkcode resyncGuildSubscriptions} (`deno task stripe:resync`): every membership of a guild
 *   re-read from Stripe through {@linkcode syncSubscription}, for what is older than 30 days.
 */
import { PLATFORM_MONEY_EVENT_TYPES } from "../_core/connect.ts";
import { HANDLED_EVENT_TYPES } from "../_core/stripe_shapes.ts";
import { doneEventIds } from "../_shared/stripe_event_ledger.ts";
import { type SyncDeps, type SyncOutcome, syncSubscription } from "../_shared/subscription_sync.ts";
import { type AccountSweep, sweepConnectedAccounts } from "./account_sweep.ts";
import { type DisputeSweep, sweepLostDisputes } from "./dispute_sweep.ts";
import { refuseForeignMoney } from "../stripe-webhook/connect_destination.ts";
import { isConnectMoneyEvent, processConnectMoneyEvent } from "../stripe-webhook/connect_money.ts";
import { type EventDeps, processEvent } from "../stripe-webhook/event_processing.ts";

/** Stripe keeps events for 30 days (https://docs.stripe.com/api/events/list). */
export const STRIPE_EVENT_RETENTION_MS = 30 * 86_400_000;

/** What a catch-up pass needs: what the webhook's processing needs, and its tuning. */
export interface StripeCatchUpDeps extends EventDeps {
  /**
   * Events younger than this are left to their webhook (delivered within seconds normally); the
   * next pass lists them, and the event id makes the overlap harmless.
   */
  settleMs: number;
  /** How long a pass holds the cursor row, so two wakes never list one window at once. */
  leaseMs: number;
  /** Platform mode: connected accounts re-read per pass (account_sweep.ts's limit if absent). */
  accountSweepLimit?: number;
}

/** Production tuning of {@linkcode catchUpStripeEvents}. */
export const STRIPE_CATCHUP_DEFAULTS = { settleMs: 5 * 60_000, leaseMs: 10 * 60_000 } as const;

/** What a catch-up pass did. */
export interface CatchUpResult {
  /**
   * completed: the cursor reached the window's end; in_progress: out of time, the next pass
   * resumes; failed: an event could not be processed, the next pass tries it again; busy: another
   * pass holds the cursor.
   */
  status: "completed" | "in_progress" | "failed" | "busy";
  /** Handled events listed from Stripe. */
  listed: number;
  /** Events rolepass had not processed, handed to the webhook's processing. */
  replayed: number;
  /** Of those, the ones that changed a membership. */
  changed: number;
  /** Every handled event created before this was processed. */
  caughtUpTo: Date | null;
  /** The cursor was older than Stripe's 30 days: events may be lost, run the full pass. */
  gap: boolean;
  error?: string;
  /** Platform mode: the re-read of connected accounts whose account.updated may have been lost. */
  accounts?: AccountSweep;
  /** Platform mode: the sweep of lost disputes whose closing event never led to a recovery. */
  disputes?: DisputeSweep;
}

interface CursorRow {
  caught_up_to: Date | null;
  window_end: Date | null;
  resume_after: string | null;
}

/**
 * Lists the events created since the cursor, newest first in pages of 100, and processes those
 * rolepass has not processed yet, until every page is done or `deadline` (epoch ms on
 * `deps.now`'s clock) passes.
 */
export async function catchUpStripeEvents(
  deps: StripeCatchUpDeps,
  deadline: number,
): Promise<CatchUpResult> {
  const now = deps.now().getTime();
  await deps.sql`insert into rolepass.stripe_event_catchups (id) values (true)
    on conflict (id) do nothing`;
  const [cursor] = await deps.sql<CursorRow[]>`
    update rolepass.stripe_event_catchups
    set lease_until = ${new Date(now + deps.leaseMs)}, last_run_at = ${new Date(now)}
    where id and (lease_until is null or lease_until <= ${new Date(now)})
    returning caught_up_to, window_end, resume_after`;
  if (!cursor) {
    return { status: "busy", listed: 0, replayed: 0, changed: 0, caughtUpTo: null, gap: false };
  }
  const oldestListed = now - STRIPE_EVENT_RETENTION_MS;
  const gap = cursor.caught_up_to !== null && cursor.caught_up_to.getTime() < oldestListed;
  const windowStart = Math.max(cursor.caught_up_to?.getTime() ?? oldestListed, oldestListed);
  // Whole seconds, as Stripe's `created` is: the next window starts where this one ends.
  const windowEnd = cursor.window_end?.getTime() ??
    Math.floor((now - deps.settleMs) / 1000) * 1000;
  const result: CatchUpResult = {
    status: "completed",
    listed: 0,
    replayed: 0,
    changed: 0,
    caughtUpTo: cursor.caught_up_to,
    gap,
  };
  if (gap) {
    deps.logger.warn("The Stripe catch-up cursor is older than Stripe's 30 days of events", {
      caughtUpTo: cursor.caught_up_to,
      fix: "run `deno task stripe:resync` for each guild",
    });
  }
  let resumeAfter = cursor.resume_after;
  const platform = deps.stripeMode === "platform";
  // The platform endpoint's Connect rules need no signing secret: these events come from Stripe's
  // Events API, read with the platform's key.
  const connectDeps = { ...deps, connectWebhookSecrets: [] };
  try {
    while (true) {
      const { events, hasMore } = await deps.stripe.listEvents({
        from: new Date(windowStart),
        before: new Date(windowEnd),
        types: platform
          ? [...HANDLED_EVENT_TYPES, ...PLATFORM_MONEY_EVENT_TYPES]
          : HANDLED_EVENT_TYPES,
        startingAfter: resumeAfter,
      });
      result.listed += events.length;
      const done = await doneEventIds(deps.sql, events.map((e) => e.id));
      for (const event of events) {
        if (done.has(event.id)) continue;
        const log = deps.logger.child({ eventId: event.id, eventType: event.type });
        // Platform mode: the platform endpoint's rules, so the communities' side of the money is
        // recorded, and money paid to another account than the member's guild's changes nothing,
        // when an event comes back this way too.
        const outcome = platform && isConnectMoneyEvent(event.type)
          ? await processConnectMoneyEvent(connectDeps, event, log)
          : (platform && await refuseForeignMoney(connectDeps, event, log)) ||
            await processEvent(deps, event, log);
        result.replayed++;
        if (outcome.status === "applied" && "changed" in outcome && outcome.changed) {
          result.changed++;
        }
        log.info("Stripe event caught up", { ...outcome });
      }
      const last = events.at(-1);
      if (last) resumeAfter = last.id;
      if (!hasMore) break;
      if (deps.now().getTime() >= deadline) {
        result.status = "in_progress";
        break;
      }
    }
  } catch (error) {
    result.status = "failed";
    result.error = error instanceof Error ? error.message : String(error);
    deps.logger.error("The Stripe catch-up stopped at an event it could not process", { error });
  }
  const completed = result.status === "completed";
  if (completed) result.caughtUpTo = new Date(windowEnd);
  await deps.sql`
    update rolepass.stripe_event_catchups set
      status = ${result.status},
      caught_up_to = ${completed ? new Date(windowEnd) : cursor.caught_up_to},
      window_end = ${completed ? null : new Date(windowEnd)},
      resume_after = ${completed ? null : resumeAfter},
      events_listed = ${result.listed},
      events_applied = ${result.changed},
      gap_detected_at = case when ${gap} then now() else gap_detected_at end,
      last_error = ${result.error ?? null},
      lease_until = null
    where id`;
  if (deps.stripeMode === "platform") {
    // The accounts first: their sweep is bounded, the disputes' runs until the deadline.
    result.accounts = await sweepConnectedAccounts(deps, deadline, deps.accountSweepLimit);
    result.disputes = await sweepLostDisputes(deps, deadline);
  }
  return result;
}

/** What {@linkcode resyncGuildSubscriptions} did, per membership. */
export interface GuildResync {
  checked: number;
  changed: number;
  /** Memberships whose customer has no subscription to a plan of the guild. */
  withoutSubscription: number;
  /** Memberships Stripe could not be read for, with the reason. */
  failed: { membershipId: string; error: string }[];
}

/**
 * Re-reads from Stripe every membership of `guildId` that has a Stripe customer, one at a time
 * through {@linkcode syncSubscription} (the webhook's path and lock), so it can run while
 * webhooks arrive. For what the Events API no longer holds (older than 30 days); with
 * `which = "past_due"`, for the members a changed grace period decides again.
 */
export async function resyncGuildSubscriptions(
  deps: SyncDeps,
  guildId: string,
  which: "all" | "past_due" = "all",
): Promise<GuildResync> {
  const memberships = await deps.sql<{ id: string; stripe_customer_id: string }[]>`
    select id, stripe_customer_id from rolepass.memberships
    where guild_id = ${guildId} and stripe_customer_id is not null
      and (${which} = 'all' or status = 'past_due')
    order by created_at, id`;
  const summary: GuildResync = { checked: 0, changed: 0, withoutSubscription: 0, failed: [] };
  for (const membership of memberships) {
    let outcome: SyncOutcome;
    try {
      outcome = await syncSubscription(
        deps,
        { customerId: membership.stripe_customer_id },
        { cause: which === "all" ? "stripe_resync" : "grace_changed", eventId: null },
      );
    } catch (error) {
      summary.failed.push({
        membershipId: membership.id,
        error: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    summary.checked++;
    if (outcome.result === "applied" && outcome.changed) summary.changed++;
    if (outcome.result === "no_subscription") summary.withoutSubscription++;
  }
  return summary;
}
