/**
 * The checkout function sells passes, with Stripe's promotion codes and Stripe Tax: a pass plan
 * opens Checkout in payment mode with the guild's settings, a promotion code typed on Stripe's
 * page is applied, and the thank-you page records the pass and grants it before any webhook.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { GUILD_ID, withCheckoutWorld } from "./checkout_harness.ts";

const PASS_ROLE_ID = "330000000000000009";

Deno.test("a pass opens Checkout in payment mode with promotion codes and tax, and the thank-you page grants it", async () => {
  await withCheckoutWorld(async (world) => {
    const price = world.stripeDouble.createPrice({
      unitAmount: 3000,
      currency: "jpy",
      recurring: false,
      taxBehavior: "inclusive",
      productName: "30-day pass",
    });
    await world.db.sql`
      update rolepass.guilds set automatic_tax = true, billing_address_collection = 'required'
      where id = ${GUILD_ID}`;
    const [plan] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind, access_duration, allow_promotion_codes,
        tax_behavior)
      values (${GUILD_ID}, ${price.id}, ${PASS_ROLE_ID},
        ${world.db.sql.json({ en: { name: "30-day pass", description: "" } })}, 3000, 'jpy', null,
        'duration', '30 days', true, 'inclusive')
      returning id`;
    assert(plan, "plan is missing");
    const coupon = world.stripeDouble.createCoupon({ percentOff: 50 });
    world.stripeDouble.createPromotionCode({ coupon: coupon.id, code: "HALF" });

    const token = await world.issueLink({ locale: "en" });
    const view = await world.post("plan-view", { token });
    const shown = view.body.plans.find((item: { id: string }) => item.id === plan.id);
    assertEquals(shown.sale, { kind: "pass", accessSeconds: 30 * 86_400 });
    assertEquals(shown.tax, "included");

    const answer = await world.post("checkout-session", { token, planId: plan.id });
    assertEquals(answer.status, 200, JSON.stringify(answer.body));
    assertEquals(answer.body.kind, "checkout");
    const [request] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assert(request, "Checkout was asked");
    assertEquals(request.params.mode, "payment");
    assertEquals(request.params.allow_promotion_codes, "true");
    assertEquals(request.params.automatic_tax, { enabled: "true" });
    assertEquals(request.params.billing_address_collection, "required");
    assertEquals(request.params.customer_update, { address: "auto" });
    assertEquals(request.params.invoice_creation, { enabled: "true" });
    assertEquals(request.params.subscription_data, undefined);

    const sessionId = new URL(answer.body.url).pathname.split("/").at(-1)!;
    const paid = world.stripeDouble.completePayment(sessionId, {
      promotionCode: "HALF",
      address: { country: "JP", postal_code: "150-0001" },
    });
    assertEquals(paid.session.amount_total, 1500);
    assertEquals(paid.session.total_details?.amount_discount, 1500);
    assertEquals(paid.session.total_details?.amount_tax, 136);

    const done = await world.post("checkout-complete", { sessionId });
    assertEquals(done.body, { status: "granting" });
    const [pass] = await world.db.sql<{ amount: string; access_until: Date; paid_at: Date }[]>`
      select amount::text, access_until, paid_at from rolepass.member_passes`;
    assertEquals(pass?.amount, "1500");
    assertEquals(pass!.access_until.getTime() - pass!.paid_at.getTime(), 30 * 86_400_000);
    const [membership] = await world.db.sql<
      { entitled: boolean; entitled_role_id: string; subscription_live: boolean }[]
    >`select entitled, entitled_role_id, subscription_live from rolepass.memberships`;
    assertEquals(membership, {
      entitled: true,
      entitled_role_id: PASS_ROLE_ID,
      subscription_live: false,
    });

    // The holder's next plan view offers renewal of the pass, not the portal.
    const again = await world.post("plan-view", { token: await world.issueLink({ locale: "en" }) });
    assertEquals(again.body.entitled, false);
    assertEquals(again.body.pass.planId, plan.id);
  });
});

Deno.test("a subscription plan of a guild with promotion codes off and tax off asks for neither", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ locale: "ja" });
    const answer = await world.post("checkout-session", { token, planId: world.planId });
    assertEquals(answer.status, 200);
    const [request] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assert(request, "Checkout was asked");
    assertEquals(request.params.mode, "subscription");
    assertEquals(request.params.allow_promotion_codes, undefined);
    assertEquals(request.params.automatic_tax, undefined);
    assertEquals(request.params.payment_intent_data, undefined);
  });
});
