/**
 * What the member chose and when they came: the language picked on the plan page carries through
 * Stripe's pages and back to ours (thank-you, cancelled, portal return), and a Checkout session's
 * `expires_at` stays inside Stripe's window however long the link lived and however late it is
 * used.
 */
import { LOCALES } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import {
  checkoutRecords,
  type CheckoutWorld,
  GUILD_ID,
  MEMBER_ID,
  SITE,
  withCheckoutWorld,
} from "./checkout_harness.ts";

const MINUTE = 60;

/** Gives the member a Stripe customer, which is all the portal needs. */
async function memberWithCustomer(world: CheckoutWorld): Promise<void> {
  const customer = world.stripeDouble.createCustomer({});
  await world.db.sql`
    insert into rolepass.memberships (guild_id, discord_user_id, locale, stripe_customer_id,
      change_cause)
    values (${GUILD_ID}, ${MEMBER_ID}, 'ja', ${customer.id}, 'test')`;
}

const [JA, EN] = LOCALES;

for (
  const [linkLocale, chosen] of [[JA, EN], [EN, JA]] as const
) {
  Deno.test(`a ${linkLocale} link whose member chose ${chosen} gets Checkout and the pages after it in ${chosen}`, async () => {
    await withCheckoutWorld(async (world) => {
      const token = await world.issueLink({ locale: linkLocale });
      const answer = await world.post("checkout-session", {
        token,
        planId: world.planId,
        locale: chosen,
      });
      assertEquals([answer.status, answer.body.locale], [200, chosen]);
      const [request] = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/checkout/sessions",
      });
      assert(request, "request is missing");
      assertEquals(request.params.locale, chosen);
      assertEquals(
        request.params.success_url,
        `${SITE}/join/thanks?lang=${chosen}&session_id={CHECKOUT_SESSION_ID}`,
      );
      assertEquals(request.params.cancel_url, `${SITE}/join/cancelled?lang=${chosen}`);
    });
  });

  Deno.test(`a ${linkLocale} manage link whose member chose ${chosen} returns from the portal in ${chosen}`, async () => {
    await withCheckoutWorld(async (world) => {
      await memberWithCustomer(world);
      const token = await world.issueLink({ purpose: "manage", locale: linkLocale });
      const answer = await world.post("portal-session", { token, locale: chosen });
      assertEquals([answer.status, answer.body.locale], [200, chosen]);
      const [portal] = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/billing_portal/sessions",
      });
      assert(portal, "portal is missing");
      assertEquals(portal.params.locale, chosen);
      assertEquals(portal.params.return_url, `${SITE}/manage/done?lang=${chosen}`);
    });
  });
}

Deno.test("without a choice the link's language applies", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ locale: "en" });
    assertEquals(
      (await world.post("checkout-session", { token, planId: world.planId })).status,
      200,
    );
    const [request] = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assert(request, "request is missing");
    assertEquals(request.params.cancel_url, `${SITE}/join/cancelled?lang=en`);
  });
});

Deno.test("the same session asked for again in the other language comes back as it was opened", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink({ locale: "ja" });
    const first = await world.post("checkout-session", {
      token,
      planId: world.planId,
      locale: "en",
    });
    const again = await world.post("checkout-session", {
      token,
      planId: world.planId,
      locale: "ja",
    });
    assertEquals([first.status, again.status], [200, 200]);
    assertEquals(again.body, first.body);
    const requests = world.stripeDouble.requests({
      method: "POST",
      path: "/v1/checkout/sessions",
    });
    assertEquals(requests.map((request) => request.params.locale), ["en", "en"]);
    assertEquals((await checkoutRecords(world.db)).attempts.length, 1);
  });
});

Deno.test("a language that is not ja or en is refused and opens nothing", async () => {
  await withCheckoutWorld(async (world) => {
    const token = await world.issueLink();
    for (const locale of ["fr", "EN", "en\r\nx-injected: 1", "", 1, null]) {
      const answer = await world.post("checkout-session", { token, planId: world.planId, locale });
      assertEquals([answer.status, answer.body.error.code], [400, "invalid_request"], `${locale}`);
      const portal = await world.post("portal-session", { token, locale });
      assertEquals([portal.status, portal.body.error.code], [400, "invalid_request"], `${locale}`);
    }
    assertEquals(world.stripeDouble.requests(), []);
    assertEquals(await checkoutRecords(world.db), { memberships: [], attempts: [], usedLinks: 0 });
  });
});

/** Stores a join link created and expiring at the given times (as /subscribe would). */
async function linkAt(world: CheckoutWorld, createdAt: Date, expiresAt: Date): Promise<string> {
  const token = newLinkToken();
  await world.db.sql`
    insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
      created_at, expires_at)
    values (${await hashLinkToken(token)}, 'join', ${GUILD_ID}, ${MEMBER_ID}, 'en', ${createdAt},
      ${expiresAt})`;
  return token;
}

/** Opens Checkout with `token` and returns how far ahead of Stripe's clock `expires_at` was. */
async function checkoutExpiresAhead(
  world: CheckoutWorld,
  token: string,
  stripeNow: number,
): Promise<number> {
  const answer = await world.post("checkout-session", { token, planId: world.planId });
  assertEquals([answer.status, answer.body.kind], [200, "checkout"], JSON.stringify(answer.body));
  const [request] = world.stripeDouble.requests({ method: "POST", path: "/v1/checkout/sessions" });
  assert(request, "request is missing");
  return Number(request.params.expires_at) - Math.floor(stripeNow / 1000);
}

Deno.test("a day-long link used in its last minutes opens a Checkout Stripe accepts", async () => {
  const now = Date.now();
  await withCheckoutWorld(async (world) => {
    // LINK_TOKEN_TTL_SECONDS at its maximum (24 h), clicked 5 minutes before the link ends.
    const token = await linkAt(
      world,
      new Date(now - (23 * 60 + 55) * MINUTE * 1000),
      new Date(now + 5 * MINUTE * 1000),
    );
    const ahead = await checkoutExpiresAhead(world, token, now);
    assert(ahead >= 30 * MINUTE, `${ahead} s ahead`);
  }, { now: () => new Date(now), stripeClock: () => now });
});

Deno.test("a day-long link used at once, by a clock three minutes ahead of Stripe's, stays under 24 hours", async () => {
  const stripeNow = Date.now();
  const ourNow = stripeNow + 3 * MINUTE * 1000;
  await withCheckoutWorld(async (world) => {
    const token = await linkAt(world, new Date(ourNow), new Date(ourNow + 24 * 60 * MINUTE * 1000));
    const ahead = await checkoutExpiresAhead(world, token, stripeNow);
    assert(ahead <= 24 * 60 * MINUTE, `${ahead} s ahead`);
  }, { now: () => new Date(ourNow), stripeClock: () => stripeNow });
});

Deno.test("a short link used at its last second, by a clock thirty seconds behind Stripe's, stays over 30 minutes", async () => {
  const stripeNow = Date.now();
  const ourNow = stripeNow - 30 * 1000;
  await withCheckoutWorld(async (world) => {
    const token = await linkAt(
      world,
      new Date(ourNow - 15 * MINUTE * 1000 + 1000),
      new Date(ourNow + 1000),
    );
    const ahead = await checkoutExpiresAhead(world, token, stripeNow);
    assert(ahead >= 30 * MINUTE, `${ahead} s ahead`);
  }, { now: () => new Date(ourNow), stripeClock: () => stripeNow });
});

Deno.test("the Stripe double refuses an expires_at outside 30 minutes to 24 hours, as Stripe does", async () => {
  const now = Date.now();
  await withCheckoutWorld(async (world) => {
    const customer = world.stripeDouble.createCustomer({});
    const nowSeconds = Math.floor(now / 1000);
    const cases: [number, boolean][] = [
      [nowSeconds + 30 * MINUTE - 1, false],
      [nowSeconds + 30 * MINUTE, true],
      [nowSeconds + 24 * 60 * MINUTE, true],
      [nowSeconds + 24 * 60 * MINUTE + 1, false],
    ];
    for (const [expiresAt, accepted] of cases) {
      const attempt = world.stripe.checkout.sessions.create({
        mode: "subscription",
        customer: customer.id,
        line_items: [{ price: world.priceId, quantity: 1 }],
        success_url: `${SITE}/join/thanks`,
        expires_at: expiresAt,
      });
      if (accepted) {
        assertEquals((await attempt).expires_at, expiresAt);
        continue;
      }
      const error = await attempt.then(() => null, (error) => error);
      assertEquals(
        [error?.type, error?.param, error?.statusCode],
        ["StripeInvalidRequestError", "expires_at", 400],
        `${expiresAt - nowSeconds} s ahead`,
      );
    }
  }, { stripeClock: () => now });
});
