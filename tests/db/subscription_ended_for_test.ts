/**
 * Why a subscription ended, through the webhook's one-statement apply and role-sync's read of the
 * member: the sync stores the reason the core took from Stripe's cancellation_details
 * (memberships.ended_for, 20261203100000_subscription_ended_for.sql), role-sync tells the member
 * from it, not from the status the membership ended from, and the database refuses any other word.
 */
import type postgres from "postgres";
import type { SubscriptionSnapshot } from "../../functions/_core/stripe_shapes.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import {
  applyCustomerReadForEvent,
  type SyncDeps,
} from "../../functions/_shared/subscription_sync.ts";
import { createRoleJobStore } from "../../functions/role-sync/role_job_store.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { insertGuildWithPlan, insertMembership, MEMBER_ID } from "./fixtures.ts";

const CUSTOMER = `cus_${MEMBER_ID}`;
const DAY_MS = 86_400_000;
/** One clock reading for every read, so the same read is the same subscription. */
const NOW = Date.now();

function subscription(
  id: string,
  status: SubscriptionSnapshot["status"],
  cancellationReason: string | null,
): SubscriptionSnapshot {
  return {
    id,
    customerId: CUSTOMER,
    status,
    metadata: {},
    createdAt: new Date(NOW - 40 * DAY_MS),
    cancelAt: null,
    cancelAtPeriodEnd: false,
    currentPeriodEnd: new Date(NOW + 20 * DAY_MS),
    currentPeriodStart: new Date(NOW - 10 * DAY_MS),
    trialStart: null,
    priceIds: ["price_test1"],
    destination: null,
    onBehalfOf: null,
    cancellationReason,
  };
}

let events = 0;

/** Applies a read of the customer holding `subscriptions` as the webhook does; whether it wrote. */
async function deliver(
  sql: postgres.Sql,
  subscriptions: SubscriptionSnapshot[],
): Promise<boolean> {
  const deps: SyncDeps = {
    sql,
    stripe: undefined as unknown as SyncDeps["stripe"],
    now: () => new Date(),
    logger: createLogger("ended-for-test"),
  };
  const [seq] = await sql<{ read_seq: string }[]>`select rolepass.start_stripe_read() as read_seq`;
  assert(seq, "start_stripe_read returned no row");
  const event = {
    id: `evt_ended_for_${++events}`,
    type: "customer.subscription.updated",
    api_version: "2025-03-31.basil",
    livemode: false,
  };
  const outcome = await applyCustomerReadForEvent(
    deps,
    { customerId: CUSTOMER, readSeq: seq.read_seq, subscriptions },
    event,
    { cause: event.type, eventId: event.id },
  );
  assert(outcome?.result === "applied", JSON.stringify(outcome));
  return outcome.changed;
}

async function endedFor(sql: postgres.Sql, membershipId: string): Promise<string | null> {
  return first(
    await sql<{ ended_for: string | null }[]>`
      select ended_for from rolepass.memberships where id = ${membershipId}`,
    "the membership",
  ).ended_for;
}

/** Stripe's reason, what the sync stores, and why role-sync tells the member the role ended. */
const CASES = [
  { stripe: "cancellation_requested", stored: "requested", told: null },
  { stripe: "payment_failed", stored: "payment_failed", told: "payment_failed" },
  { stripe: "payment_disputed", stored: "dispute", told: "dispute" },
  { stripe: null, stored: null, told: null },
] as const;

for (const { stripe, stored, told } of CASES) {
  Deno.test(`a past-due subscription ended for ${stripe}: told ${told ?? "it ended"}`, async () => {
    await withTestDatabase(async ({ sql }) => {
      await insertGuildWithPlan(sql);
      const membershipId = await insertMembership(sql);
      assertEquals(await deliver(sql, [subscription("sub_1", "past_due", null)]), true);
      assertEquals(await endedFor(sql, membershipId), null, "past due has not ended");

      assertEquals(await deliver(sql, [subscription("sub_1", "canceled", stripe)]), true);
      assertEquals(await endedFor(sql, membershipId), stored);
      const member = await createRoleJobStore(sql).loadMember(membershipId);
      assertEquals(member?.revokedReason, told);
      // The fact is read back with the inputs: the same read again writes nothing.
      assertEquals(await deliver(sql, [subscription("sub_1", "canceled", stripe)]), false);

      // A new subscription has not ended: the fact goes with the old one.
      const again = [
        subscription("sub_1", "canceled", stripe),
        subscription("sub_2", "active", null),
      ];
      assertEquals(await deliver(sql, again), true);
      assertEquals(await endedFor(sql, membershipId), null);
    });
  });
}

Deno.test("the database refuses an ended_for the core does not decide", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    const membershipId = await insertMembership(sql);
    let refused = false;
    try {
      await sql`update rolepass.memberships set ended_for = 'cancellation_requested'
        where id = ${membershipId}`;
    } catch (error) {
      refused = (error as { code?: string }).code === "23514";
    }
    assertEquals(refused, true, "a Stripe word outside the check was stored");
  });
});
