/**
 * Promotion codes and Stripe Tax on a subscription plan (issue 14 items 2 and 6), through the real
 * checkout function and the Stripe double: the plan page shows the price as tax-included, Checkout
 * opens in subscription mode with the guild's settings (and none of a payment's), a code typed on
 * Stripe's page takes its coupon off the first payment only, and the thank-you page grants the
 * role. The pass's own story is checkout_selling_test.ts.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { GUILD_ID, MEMBER_ID, withCheckoutWorld } from "./checkout_harness.ts";

const GOLD_ROLE_ID = "330000000000000010";

Deno.test("a subscription takes a promotion code and Stripe Tax at Checkout", async () => {
  await withCheckoutWorld(async (world) => {
    const price = world.stripeDouble.createPrice({
      unitAmount: 1000,
      currency: "jpy",
      interval: "month",
      taxBehavior: "inclusive",
      productName: "Gold",
    });
    await world.db.sql`
      update rolepass.guilds set automatic_tax = true, billing_address_collection = 'auto'
      where id = ${GUILD_ID}`;
    const [plan] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, allow_promotion_codes, tax_behavior)
      values (${GUILD_ID}, ${price.id}, ${GOLD_ROLE_ID},
        ${world.db.sql.json({ en: { name: "Gold", description: "" } })}, 1000, 'jpy', 'month',
        true, 'inclusive')
      returning id`;
    assert(plan, "plan is missing");
    const coupon = world.stripeDouble.createCoupon({ percentOff: 20, duration: "once" });
    world.stripeDouble.createPromotionCode({ coupon: coupon.id, code: "WELCOME20" });

    const token = await world.issueLink({ locale: "en" });
    const view = await world.post("plan-view", { token });
    const shown = view.body.plans.find((item: { id: string }) => item.id === plan.id);
    assertEquals(shown.tax, "included");

    const answer = await world.post("checkout-session", { token, planId: plan.id });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
    const [request] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assert(request, "Checkout was asked");
    assertEquals(request.params.mode, "subscription");
    assertEquals(request.params.allow_promotion_codes, "true");
    assertEquals(request.params.automatic_tax, { enabled: "true" });
    assertEquals(request.params.billing_address_collection, "auto");
    assertEquals(request.params.customer_update, { address: "auto" });
    // Stripe refuses these outside payment mode: a subscription's invoices come by themselves.
    assertEquals(request.params.invoice_creation, undefined);
    assertEquals(request.params.payment_intent_data, undefined);
    assertEquals(
      (request.params.subscription_data as { metadata?: Record<string, string> }).metadata
        ?.rolepass_discord_user_id,
      MEMBER_ID,
    );

    const sessionId = new URL(answer.body.url).pathname.split("/").at(-1)!;
    const { session, subscription } = world.stripeDouble.completeCheckout(sessionId, {
      promotionCode: "WELCOME20",
      address: { country: "JP", postal_code: "150-0001" },
    });
    assertEquals(session.amount_total, 800);
    assertEquals(session.total_details?.amount_discount, 200);
    // Tax included in ¥800 at Japan's 10 %: 800 - round(800 / 1.1).
    assertEquals(session.total_details?.amount_tax, 73);
    const firstInvoice = await world.stripe.invoices.retrieve(String(subscription.latest_invoice));
    assertEquals(firstInvoice.amount_paid, 800);

    const done = await world.post("checkout-complete", { sessionId });
    assertEquals(done.body, { status: "granting" });
    const [membership] = await world.db.sql<
      { status: string; entitled: boolean; entitled_role_id: string }[]
    >`select status, entitled, entitled_role_id from rolepass.memberships`;
    assertEquals(membership, { status: "active", entitled: true, entitled_role_id: GOLD_ROLE_ID });

    const renewed = world.stripeDouble.advanceToPeriodEnd(subscription.id);
    const renewal = await world.stripe.invoices.retrieve(String(renewed.latest_invoice));
    assertEquals(renewal.amount_paid, 1000, "a once-only code does not discount the renewal");
  });
});
