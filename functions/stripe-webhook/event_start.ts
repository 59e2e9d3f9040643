/**
 * The event's first statement: whether it is done already, the start number of its Stripe re-read
 * (rolepass.start_stripe_read) and, for an event about a customer, the membership's sync inputs as
 * they stand (syncInputsOf), for the apply to check.
 *
 * postgres.js with `prepare: false` (db.ts, for Supabase's transaction pooler) sends a statement
 * that has parameters in two exchanges: Parse and Describe, a wait for the parameter types, then
 * Bind and Execute. A statement without parameters goes in one. So when every id is of the
 * characters Stripe's ids are made of, they are written into the statement as literals (which
 * then cannot hold a quote, a backslash or anything else to escape); any other id takes the
 * parameterized statement, which reads the same.
 */
import type { Sql } from "../_shared/db.ts";
import { oneRow } from "../_shared/db.ts";
import { EVENT_IS_DONE, eventIsDone } from "../_shared/stripe_event_ledger.ts";
import { syncInputsOf, type SyncInputsRead } from "../_shared/subscription_sync.ts";

/** What the event's start read. */
export interface EventStart {
  done: boolean;
  read_seq: string;
  inputs: SyncInputsRead | null;
}

/** The customer and the subscription ids whose inputs the start reads; null for none. */
export interface StartInputsOf {
  customerId: string;
  subscriptionIds: string[];
}

/** An id that can be a literal as it is: nothing in it is special inside SQL quotes. */
const PLAIN_ID = /^[A-Za-z0-9_]{1,255}$/;

/**
 * The start as one statement without parameters, or null when an id is not plain (the caller
 * then sends the parameterized one). The SQL is that of eventIsDone and syncInputsOf.
 */
export function literalStartStatement(eventId: string, of: StartInputsOf | null): string | null {
  const ids = [eventId, ...(of ? [of.customerId, ...of.subscriptionIds] : [])];
  if (!ids.every((id) => PLAIN_ID.test(id))) return null;
  const inputs = of
    ? `(select jsonb_build_object('inputs', i, 'inputs_md5', md5(i::text))
      from rolepass.stripe_sync_inputs(
        rolepass.stripe_sync_membership_id('${of.customerId}', '{}'::uuid[]),
        array[${of.subscriptionIds.map((id) => `'${id}'`).join(", ")}]::text[]) as i)`
    : "null::jsonb";
  return `select exists (select from rolepass.stripe_events
      where id = '${eventId}' and ${EVENT_IS_DONE}) as done,
    rolepass.start_stripe_read() as read_seq,
    ${inputs} as inputs`;
}

/** Runs the event's start in one exchange with the database when its ids allow it. */
export async function startEvent(
  sql: Sql,
  eventId: string,
  of: StartInputsOf | null,
): Promise<EventStart> {
  const literal = literalStartStatement(eventId, of);
  const rows = literal !== null ? await sql.unsafe<EventStart[]>(literal) : await sql<EventStart[]>`
      select ${eventIsDone(sql, eventId)} as done,
        rolepass.start_stripe_read() as read_seq,
        ${of ? syncInputsOf(sql, of.customerId, of.subscriptionIds) : sql`null::jsonb`} as inputs`;
  return oneRow(rows, "the event's start");
}
