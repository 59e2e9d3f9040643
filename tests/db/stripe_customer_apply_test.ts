/**
 * rolepass.apply_stripe_customer_read, the webhook's apply in one statement: it writes a decision
 * only when the inputs it was taken on are still current, claims the event with what it writes,
 * refuses a read older than the one applied, and changes nothing for a done event.
 */
import type postgres from "postgres";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { insertGuildWithPlan, insertMembership, MEMBER_ID } from "./fixtures.ts";

const CUSTOMER = `cus_${MEMBER_ID}`;

interface Answer {
  result: string;
  inputs?: Record<string, unknown> | null;
  inputs_md5?: string | null;
}

async function currentInputs(sql: postgres.Sql): Promise<{ inputs: unknown; md5: string }> {
  return first(
    await sql<{ inputs: unknown; md5: string }[]>`
      select inputs, md5(inputs::text) as md5
      from rolepass.stripe_sync_inputs(
        rolepass.stripe_sync_membership_id(${CUSTOMER}, '{}'::uuid[]), '{sub_1}'::text[])
        as inputs`,
    "the membership's inputs",
  );
}

async function apply(
  sql: postgres.Sql,
  options: { eventId: string; readSeq: number; md5: string | null; next?: object | null },
): Promise<Answer> {
  const event = {
    id: options.eventId,
    type: "customer.subscription.updated",
    api_version: "2025-03-31.basil",
    livemode: false,
  };
  const row = first(
    await sql<{ answer: Answer }[]>`
      select rolepass.apply_stripe_customer_read(${sql.json(event)}, ${CUSTOMER},
        ${options.readSeq}, '{sub_1}'::text[], '{}'::uuid[], ${options.md5},
        ${options.next ? sql.json(options.next as postgres.JSONValue) : null}, null) as answer`,
    "the apply's answer",
  );
  return row.answer;
}

async function eventStatus(sql: postgres.Sql, eventId: string): Promise<string | null> {
  const [row] = await sql<{ status: string }[]>`
    select status from rolepass.stripe_events where id = ${eventId}`;
  return row?.status ?? null;
}

async function membershipStatus(sql: postgres.Sql, id: string): Promise<string | null> {
  return first(
    await sql<{ status: string | null }[]>`
      select status from rolepass.memberships where id = ${id}`,
    "the membership",
  ).status;
}

function activeState(planId: string, eventId: string) {
  return {
    stripe_subscription_id: "sub_1",
    plan_id: planId,
    status: "active",
    current_period_end: "2027-01-01T00:00:00.000Z",
    cancel_at: null,
    cancel_at_period_end: false,
    past_due_since: null,
    entitled: true,
    entitled_role_ids: ["300000000000000001"],
    entitled_until: "2027-01-01T00:00:00.000Z",
    revoked_reason: null,
    subscription_live: true,
    plan_role_set: "paid",
    payment_standing: "good",
    change_cause: "customer.subscription.updated",
    change_event_id: eventId,
  };
}

Deno.test("the one-statement apply writes a decision taken on current inputs and claims its event", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    const { md5 } = await currentInputs(sql);
    const answer = await apply(sql, {
      eventId: "evt_apply1",
      readSeq: 10,
      md5,
      next: activeState(planId, "evt_apply1"),
    });
    assertEquals(answer.result, "applied");
    assertEquals(await membershipStatus(sql, membershipId), "active");
    assertEquals(await eventStatus(sql, "evt_apply1"), "processed");
    const [history] = await sql<{ stripe_event_id: string }[]>`
      select stripe_event_id from rolepass.membership_history
      where membership_id = ${membershipId} and operation = 'UPDATE'`;
    assertEquals(history?.stripe_event_id, "evt_apply1");
    const [read] = await sql<{ read_seq: string }[]>`
      select read_seq::text from rolepass.stripe_customer_reads
      where stripe_customer_id = ${CUSTOMER}`;
    assertEquals(read?.read_seq, "10");
  });
});

Deno.test("the one-statement apply changes nothing when the inputs moved, and answers the current ones", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    const before = await currentInputs(sql);
    // Another writer changes the membership between the read of the inputs and the apply.
    await sql`update rolepass.memberships set status = 'past_due' where id = ${membershipId}`;
    const answer = await apply(sql, {
      eventId: "evt_apply2",
      readSeq: 11,
      md5: before.md5,
      next: activeState(planId, "evt_apply2"),
    });
    assertEquals(answer.result, "conflict");
    assertEquals(answer.inputs?.status, "past_due");
    assertEquals(answer.inputs_md5, (await currentInputs(sql)).md5);
    assert(answer.inputs_md5 !== before.md5, "the answered inputs are the old ones");
    assertEquals(await membershipStatus(sql, membershipId), "past_due");
    assertEquals(await eventStatus(sql, "evt_apply2"), null);
    const reads = await sql`select 1 from rolepass.stripe_customer_reads`;
    assertEquals(reads.length, 0);
  });
});

Deno.test("the one-statement apply claims the event of an older read but keeps the newer state", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    await sql`insert into rolepass.stripe_customer_reads (stripe_customer_id, read_seq)
      values (${CUSTOMER}, 20)`;
    const { md5 } = await currentInputs(sql);
    const answer = await apply(sql, {
      eventId: "evt_apply3",
      readSeq: 19,
      md5,
      next: activeState(planId, "evt_apply3"),
    });
    assertEquals(answer.result, "stale");
    assertEquals(await membershipStatus(sql, membershipId), null);
    assertEquals(await eventStatus(sql, "evt_apply3"), "processed");
  });
});

Deno.test("the one-statement apply changes nothing for a done event or a customer rolepass does not know", async () => {
  await withTestDatabase(async ({ sql }) => {
    const planId = await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    await sql`insert into rolepass.stripe_events (id, type, status, processed_at)
      values ('evt_apply4', 'customer.subscription.updated', 'processed', now())`;
    const { md5 } = await currentInputs(sql);
    const answer = await apply(sql, {
      eventId: "evt_apply4",
      readSeq: 30,
      md5,
      next: activeState(planId, "evt_apply4"),
    });
    assertEquals(answer.result, "duplicate");
    assertEquals(await membershipStatus(sql, membershipId), null);

    const [unknown] = await sql<{ answer: Answer }[]>`
      select rolepass.apply_stripe_customer_read(${
      sql.json({ id: "evt_apply5", type: "customer.subscription.updated", livemode: false })
    }, 'cus_nobody', 31, '{sub_9}'::text[], '{}'::uuid[], null, null, null) as answer`;
    assertEquals(unknown?.answer.result, "not_rolepass");
    assertEquals(await eventStatus(sql, "evt_apply5"), null);
  });
});
