/**
 * The webhook's first statement (functions/stripe-webhook/event_start.ts): with Stripe-shaped ids
 * it carries no parameters, so postgres.js sends it in one exchange instead of Parse and Describe
 * first, and it reads exactly what the parameterized statement reads; an id that is not plain
 * takes the parameterized statement.
 */
import postgres from "postgres";
import { assertEquals, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { insertGuildWithPlan, insertMembership, MEMBER_ID } from "./fixtures.ts";
import { literalStartStatement, startEvent } from "../../functions/stripe-webhook/event_start.ts";
import { eventIsDone } from "../../functions/_shared/stripe_event_ledger.ts";
import { syncInputsOf } from "../../functions/_shared/subscription_sync.ts";

const CUSTOMER = `cus_${MEMBER_ID}`;

Deno.test("an id with anything but letters, digits and _ is never written into the SQL", () => {
  const plain = { customerId: CUSTOMER, subscriptionIds: ["sub_1"] };
  assertEquals(typeof literalStartStatement("evt_1", plain), "string");
  assertEquals(typeof literalStartStatement("evt_1", null), "string");
  for (const id of ["cus_x'; drop table rolepass.guilds; --", "cus_a\\", "cus_é", "cus_a b", ""]) {
    assertEquals(literalStartStatement("evt_1", { customerId: id, subscriptionIds: [] }), null);
    assertEquals(
      literalStartStatement("evt_1", { customerId: CUSTOMER, subscriptionIds: [id] }),
      null,
    );
    if (id) assertEquals(literalStartStatement(`evt_${id}`, plain), null);
  }
});

Deno.test("the start sends no parameters and reads what the parameterized one reads", async () => {
  await withTestDatabase(async (db) => {
    await insertGuildWithPlan(db.sql);
    await insertMembership(db.sql);
    await db.sql`insert into rolepass.stripe_events (id, type, status, processed_at)
      values ('evt_done', 'customer.subscription.updated', 'processed', now())`;
    const sent: unknown[][] = [];
    // As db.ts connects (prepare: false), with every statement's parameters noted.
    const sql = postgres(db.url, {
      prepare: false,
      max: 1,
      onnotice: () => {},
      debug: (_connection, _query, parameters) => sent.push(parameters),
    });
    try {
      // The connection's own first queries (postgres.js reads the array types) are not the start's.
      await sql`select 1`;
      const cases = [
        { eventId: "evt_done", of: { customerId: CUSTOMER, subscriptionIds: ["sub_1"] } },
        { eventId: "evt_new", of: { customerId: CUSTOMER, subscriptionIds: [] } },
        {
          eventId: "evt_new",
          of: { customerId: "cus_nobody", subscriptionIds: ["sub_1", "sub_2"] },
        },
        { eventId: "evt_new", of: null },
      ];
      for (const { eventId, of } of cases) {
        sent.length = 0;
        const start = await startEvent(sql, eventId, of);
        // No parameters: postgres.js sends Parse, Bind and Execute together (one exchange).
        assertEquals(sent, [[]]);
        const expected = first(
          await db.sql<{ done: boolean; inputs: unknown }[]>`
            select ${eventIsDone(db.sql, eventId)} as done,
              ${of ? syncInputsOf(db.sql, of.customerId, of.subscriptionIds) : db.sql`null::jsonb`}
                as inputs`,
          "the parameterized start",
        );
        assertEquals(start.done, expected.done);
        assertEquals(start.inputs, expected.inputs);
        assertEquals(/^[0-9]+$/.test(start.read_seq), true, `read_seq ${start.read_seq}`);
      }
      assertEquals((await startEvent(sql, "evt_done", null)).done, true);
      assertEquals(
        (await startEvent(sql, "evt_new", { customerId: CUSTOMER, subscriptionIds: [] })).inputs
          ?.inputs !== null,
        true,
      );
      // Not plain: the parameterized statement, which reads the same.
      sent.length = 0;
      const odd = await startEvent(sql, "evt_done", {
        customerId: "cus_o'brien",
        subscriptionIds: [],
      });
      assertEquals(sent.length, 1);
      assertEquals((sent[0] ?? []).length > 0, true);
      assertEquals(odd.done, true);
      assertEquals(odd.inputs?.inputs ?? null, null);
    } finally {
      await sql.end();
    }
  });
});
