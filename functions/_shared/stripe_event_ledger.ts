/**
 * The Stripe event ledger (`rolepass.stripe_events`): every event received, by id, with one
 * explicit status. This module is its only writer, so each transition has one statement and one
 * conflict rule:
 *
 * | from                 | to        | when                                                     |
 * |----------------------|-----------|----------------------------------------------------------|
 * | (none), received, failed | processed | {@link claimEvent}, in the transaction that applies it |
 * | processed            | ignored   | {@link markIgnoredInTransaction}: the customer is not rolepass's |
 * | (none), received, failed, ignored | ignored | {@link recordIgnored}: acknowledged without applying |
 * | (none), received, failed | failed | {@link recordFailure}: Stripe retries it              |
 *
 * A processed or ignored event is done: a replay of it is a no-op.
 */
import type postgres from "postgres";
import type { StripeEventEnvelope } from "../_core/stripe_shapes.ts";

/** Where an event stands. */
export type StripeEventStatus = "received" | "processed" | "ignored" | "failed";

/** The longest reason or error message kept (the payload is never kept). */
const MAX_NOTE_LENGTH = 500;

type Queryable = postgres.Sql | postgres.TransactionSql;

/**
 * Marks the event processed inside the transaction that applies it, after `lock` (a fragment that
 * takes the customer's lock) has run. Returns false when the event was already done, also by a
 * concurrent delivery that finished while this one waited for the lock: the conflicting row is
 * re-checked at its latest version, whatever the statement's snapshot. The mark commits with
 * what it applies or rolls back with it.
 */
export async function claimEvent(
  tx: Queryable,
  envelope: StripeEventEnvelope,
  lock: postgres.PendingQuery<postgres.Row[]>,
): Promise<boolean> {
  const claimed = await tx`
    insert into rolepass.stripe_events
      (id, type, api_version, livemode, status, processed_at, attempts, last_error)
    select ${envelope.id}, ${envelope.type}, ${envelope.api_version}, ${envelope.livemode},
      'processed', now(), 1, null
    from (select ${lock}) as customer_lock
    on conflict (id) do update set status = 'processed', processed_at = excluded.processed_at,
      attempts = stripe_events.attempts + 1, last_error = null
    where stripe_events.status in ('received', 'failed')
    returning id`;
  return claimed.length === 1;
}

/** Turns the event just claimed in `tx` into an ignored one, saying why. */
export async function markIgnoredInTransaction(
  tx: Queryable,
  eventId: string,
  why: string,
): Promise<void> {
  await tx`
    update rolepass.stripe_events
    set status = 'ignored', ignored = true, ignored_reason = ${why.slice(0, MAX_NOTE_LENGTH)}
    where id = ${eventId}`;
}

/** Records an event acknowledged without being applied, and why; a processed one stays so. */
export async function recordIgnored(
  sql: Queryable,
  envelope: StripeEventEnvelope,
  why: string,
): Promise<void> {
  await sql`
    insert into rolepass.stripe_events (id, type, api_version, livemode, status, processed_at,
      ignored, ignored_reason, attempts)
    values (${envelope.id}, ${envelope.type}, ${envelope.api_version}, ${envelope.livemode},
      'ignored', now(), true, ${why.slice(0, MAX_NOTE_LENGTH)}, 1)
    on conflict (id) do update set status = 'ignored',
      processed_at = coalesce(stripe_events.processed_at, now()), ignored = true,
      ignored_reason = excluded.ignored_reason, last_error = null,
      attempts = stripe_events.attempts + 1
    where stripe_events.status <> 'processed'`;
}

/** Counts a failed attempt and keeps its message, unless the event is already done. */
export async function recordFailure(
  sql: Queryable,
  envelope: StripeEventEnvelope,
  message: string,
): Promise<void> {
  await sql`
    insert into rolepass.stripe_events
      (id, type, api_version, livemode, status, attempts, last_error)
    values (${envelope.id}, ${envelope.type}, ${envelope.api_version}, ${envelope.livemode},
      'failed', 1, ${message.slice(0, MAX_NOTE_LENGTH)})
    on conflict (id) do update set status = 'failed', attempts = stripe_events.attempts + 1,
      last_error = excluded.last_error
    where stripe_events.status in ('received', 'failed')`;
}

/** A done event (processed or ignored), as a condition on rolepass.stripe_events' row. */
export const EVENT_IS_DONE = "status in ('processed', 'ignored')";

/** Whether the event is done (processed or ignored): a replay of it changes nothing. */
export async function isEventDone(sql: Queryable, eventId: string): Promise<boolean> {
  return (await doneEventIds(sql, [eventId])).has(eventId);
}

/**
 * Whether the event is done, as a boolean column of the caller's statement, so that the check
 * shares a round trip with what the caller reads next.
 */
export function eventIsDone(
  sql: Queryable,
  eventId: string,
): postgres.PendingQuery<postgres.Row[]> {
  return sql`exists (select from rolepass.stripe_events
    where id = ${eventId} and ${sql.unsafe(EVENT_IS_DONE)})`;
}

/** Which of `eventIds` are done (processed or ignored). */
export async function doneEventIds(sql: Queryable, eventIds: string[]): Promise<Set<string>> {
  const rows = await sql<{ id: string }[]>`
    select id from rolepass.stripe_events
    where id = any(${eventIds}) and ${sql.unsafe(EVENT_IS_DONE)}`;
  return new Set(rows.map((row) => row.id));
}
