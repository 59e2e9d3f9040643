/**
 * The Stripe double's hosted Checkout and Customer Portal pages tell the member what Stripe's would:
 * the amount in the currency's own decimals, a declined card, and where the subscription stands.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import assert from "node:assert/strict";
import Stripe from "stripe";
import {
  THREE_DECIMAL_CURRENCIES,
  ZERO_DECIMAL_CURRENCIES,
} from "../../functions/_core/currency.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";

const SECRET_KEY = "sk_test_hosted_pages";

async function withDouble(fn: (double: StripeDouble, stripe: Stripe) => Promise<void>) {
  const double = await startStripeDouble({ secretKey: SECRET_KEY });
  const stripe = new Stripe(SECRET_KEY, {
    host: "127.0.0.1",
    port: double.port,
    protocol: "http",
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  });
  try {
    await fn(double, stripe);
  } finally {
    await double.close();
  }
}

async function openCheckout(
  double: StripeDouble,
  stripe: Stripe,
  price: { unitAmount: number; currency: string },
  locale: Locale = "en",
) {
  const { id } = double.createPrice({ ...price, productName: "Supporter" });
  const customer = await stripe.customers.create({ email: "member@example.com" });
  return await stripe.checkout.sessions.create({
    mode: "subscription",
    customer: customer.id,
    line_items: [{ price: id, quantity: 1 }],
    success_url: "https://rolepass.test/thanks?session={CHECKOUT_SESSION_ID}",
    cancel_url: "https://rolepass.test/cancelled",
    locale,
  });
}

async function page(url: string): Promise<string> {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return (await response.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
}

async function pay(url: string, outcome: "paid" | "payment_failed"): Promise<void> {
  const response = await fetch(`${url}/pay`, {
    method: "POST",
    body: new URLSearchParams({ outcome }),
    redirect: "manual",
  });
  assert.equal(response.status, 303);
  await response.body?.cancel();
}

Deno.test("the Checkout page shows ¥500 for 500 JPY, and every zero-decimal currency in whole units", async () => {
  await withDouble(async (double, stripe) => {
    const yen = await openCheckout(double, stripe, { unitAmount: 500, currency: "jpy" });
    const text = await page(yen.url!);
    assert.match(text, /Total due today: ¥500 /);
    assert.doesNotMatch(text, /¥5(?!00)/);

    for (const currency of ZERO_DECIMAL_CURRENCIES.filter((c) => c !== "jpy")) {
      const session = await openCheckout(double, stripe, { unitAmount: 12500, currency });
      const shown = await page(session.url!);
      assert.match(shown, /Total due today: [^\d]*12,500 /, `${currency}: ${shown}`);
    }
  });
});

Deno.test("the Checkout page shows three-decimal currencies in thousandths", async () => {
  await withDouble(async (double, stripe) => {
    for (const currency of THREE_DECIMAL_CURRENCIES) {
      const session = await openCheckout(double, stripe, { unitAmount: 1500, currency });
      const shown = await page(session.url!);
      assert.match(shown, /Total due today: [^\d]*1\.500 /, `${currency}: ${shown}`);
    }
    const dollars = await openCheckout(double, stripe, { unitAmount: 500, currency: "usd" });
    assert.match(await page(dollars.url!), /Total due today: \$5\.00 /);
  });
});

Deno.test("a declined card is announced on the Checkout page in the session's language", async () => {
  await withDouble(async (double, stripe) => {
    const english = await openCheckout(double, stripe, { unitAmount: 500, currency: "jpy" });
    assert.doesNotMatch(await page(english.url!), /declined\./);
    await pay(english.url!, "payment_failed");
    assert.match(await page(english.url!), /Your card was declined\./);

    const japanese = await openCheckout(double, stripe, { unitAmount: 500, currency: "jpy" }, "ja");
    await pay(japanese.url!, "payment_failed");
    const text = await page(japanese.url!);
    assert.match(text, /カードが拒否されました。/);
    await pay(japanese.url!, "payment_failed");
    assert.match(await page(japanese.url!), /カードが拒否されました。/);
  });
});

Deno.test("the Portal says one truthful state: renews, then cancels on a date, then ended", async () => {
  await withDouble(async (double, stripe) => {
    const session = await openCheckout(double, stripe, { unitAmount: 500, currency: "jpy" });
    const { subscription } = double.completeCheckout(session.id, { outcome: "paid" });
    const portal = await stripe.billingPortal.sessions.create({
      customer: String(subscription.customer),
      return_url: "https://rolepass.test/manage/done",
    });
    const act = async (action: string) => {
      const response = await fetch(`${portal.url}/${action}`, {
        method: "POST",
        body: new URLSearchParams({ subscription: subscription.id }),
        redirect: "manual",
      });
      assert.equal(response.status, 303);
      await response.body?.cancel();
      return await page(portal.url);
    };

    const active = await page(portal.url);
    assert.match(active, /¥500 /);
    assert.match(active, /Active · renews on \d{4}-\d\d-\d\d/);

    const scheduled = await act("cancel_at_period_end");
    assert.match(scheduled, /Active · cancels on \d{4}-\d\d-\d\d/);
    assert.doesNotMatch(scheduled, /renews/i);

    const ended = await act("cancel_now");
    assert.match(ended, /Canceled · ended on \d{4}-\d\d-\d\d/);
    assert.doesNotMatch(ended, /cancels on|renews on|active/i);
    const overview = await page(`${double.url}/__double`);
    assert.match(overview, /Canceled · ended on/);
    assert.doesNotMatch(overview, /cancels/i);
  });
});
