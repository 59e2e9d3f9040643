import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  eventTarget,
  handledStripeEvent,
  stripeEventEnvelope,
  stripeSubscription,
} from "../../functions/_core/stripe_shapes.ts";

const FIXTURES = new URL("../fixtures/stripe/", import.meta.url);

async function fixture(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(new URL(path, FIXTURES)));
}

/** pay-rails files hold only an event's `data` block. */
async function dataBlock(path: string): Promise<{ object: Record<string, unknown> }> {
  return await fixture(path) as { object: Record<string, unknown> };
}

Deno.test("a current-shape subscription takes its period end from its items", async () => {
  const resources = await fixture("openapi/resources/subscription.json");
  const parsed = stripeSubscription.parse(resources);
  const items = (resources.items as { data: { current_period_end: number }[] }).data;
  assertEquals(
    parsed.currentPeriodEnd,
    new Date(first(items, "an item of items").current_period_end * 1000),
  );
});

Deno.test("a legacy subscription (2020-03-02) takes its period end from the top level", async () => {
  const event = await fixture("stripe-sync-engine/subscription_created.json");
  const envelope = stripeEventEnvelope.parse(event);
  const parsed = stripeSubscription.parse(envelope.data.object);
  assertEquals(parsed.currentPeriodEnd, new Date(1625740918 * 1000));
  assertEquals(envelope.api_version, "2020-03-02");
});

Deno.test("a basil-shaped subscription.updated reads the period end from its items", async () => {
  const data = await dataBlock("pay-rails/subscription.updated.json");
  const parsed = stripeSubscription.parse(data.object);
  assertEquals(parsed.currentPeriodEnd, new Date(1488987924 * 1000));
});

Deno.test("a basil invoice names its subscription through parent.subscription_details", async () => {
  const data = await dataBlock("pay-rails/invoice.payment_failed.json");
  const event = handledStripeEvent.parse({ type: "invoice.payment_failed", data });
  assertEquals(eventTarget(event), {
    kind: "customer",
    customerId: "cus_1234",
    subscriptionId: "sub_1234",
  });
});

Deno.test("a legacy invoice names its subscription at the top level", async () => {
  const envelope = stripeEventEnvelope.parse(await fixture("stripe-sync-engine/invoice_paid.json"));
  const event = handledStripeEvent.parse({ type: envelope.type, data: envelope.data });
  assertEquals(eventTarget(event), {
    kind: "customer",
    customerId: "cus_JsuO3bmrj0QlAw",
    subscriptionId: "sub_JsuPyCPhXWfZar",
  });
});

Deno.test("a completed subscription Checkout Session points at its customer", async () => {
  const data = await dataBlock("pay-rails/checkout.session.completed.json");
  const event = handledStripeEvent.parse({ type: "checkout.session.completed", data });
  assertEquals(eventTarget(event), {
    kind: "customer",
    customerId: "cus_M5wW9RPFk9xNZ5",
    subscriptionId: "sub_1LNkeSKXBGcbgpbZ7jMqOPSi",
  });
});

Deno.test("a payment-mode Checkout Session may have sold a pass; a setup-mode one is no membership event", async () => {
  const data = await dataBlock("pay-rails/checkout.session.completed.json");
  const target = (object: Record<string, unknown>) =>
    eventTarget(handledStripeEvent.parse({ type: "checkout.session.completed", data: { object } }));
  const payment = target({ ...data.object, mode: "payment", customer: "cus_Pass1" });
  assertEquals(payment.kind, "pass");
  assertEquals(target({ ...data.object, mode: "payment", customer: null }).kind, "none");
  assertEquals(target({ ...data.object, mode: "setup", customer: "cus_Pass1" }).kind, "none");
});

Deno.test("every legacy subscription event of the sync engine is understood", async () => {
  for (const name of ["subscription_created", "subscription_updated", "subscription_deleted"]) {
    const envelope = stripeEventEnvelope.parse(await fixture(`stripe-sync-engine/${name}.json`));
    const parsed = handledStripeEvent.safeParse({ type: envelope.type, data: envelope.data });
    assert(parsed.success, name);
    assertEquals(eventTarget(parsed.data).kind, "customer", name);
  }
});

Deno.test("an expanded customer object is read as its id", async () => {
  const resources = await fixture("openapi/resources/subscription.json");
  const parsed = stripeSubscription.parse({ ...resources, customer: { id: "cus_expanded" } });
  assertEquals(parsed.customerId, "cus_expanded");
});

Deno.test("an event id that is not evt_... is refused", () => {
  const parsed = stripeEventEnvelope.safeParse({
    id: "nope",
    type: "invoice.paid",
    data: { object: {} },
  });
  assertEquals(parsed.success, false);
});

Deno.test("charge and dispute ids of any Stripe shape are read, py_ charges included", () => {
  const refund = handledStripeEvent.parse({
    type: "charge.refunded",
    data: {
      object: {
        object: "charge",
        id: "py_1Qh0QpKXBGcbgpbZs6AdqNzv",
        customer: "cus_QXg1o8vcGmoR32",
        payment_intent: "pi_3Qh0QpKXBGcbgpbZ1tm2f3Pp",
        invoice: null,
        amount: 500,
        amount_refunded: 500,
        refunded: true,
      },
    },
  });
  assertEquals(eventTarget(refund), {
    kind: "refund",
    customerId: "cus_QXg1o8vcGmoR32",
    chargeId: "py_1Qh0QpKXBGcbgpbZs6AdqNzv",
    fullyRefunded: true,
  });
  const dispute = handledStripeEvent.parse({
    type: "charge.dispute.created",
    data: {
      object: {
        object: "dispute",
        id: "du_1Qh0QpKXBGcbgpbZ",
        charge: { id: "py_1Qh0QpKXBGcbgpbZs6AdqNzv" },
        payment_intent: null,
        status: "needs_response",
      },
    },
  });
  assertEquals(eventTarget(dispute), {
    kind: "dispute",
    chargeId: "py_1Qh0QpKXBGcbgpbZs6AdqNzv",
    disputeId: "du_1Qh0QpKXBGcbgpbZ",
  });
});

Deno.test("an id that is empty, too long or not made of Stripe's characters is refused", () => {
  for (const id of ["", "x".repeat(256), "ch_1 2", "ch_1'--"]) {
    const parsed = handledStripeEvent.safeParse({
      type: "charge.dispute.created",
      data: { object: { object: "dispute", id, charge: "ch_1", status: "needs_response" } },
    });
    assertEquals(parsed.success, false, id);
  }
});
