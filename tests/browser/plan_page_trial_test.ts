/**
 * A free trial started on the plan page in headless Chromium, over real HTTP (the page server
 * calls the checkout function through supabase-js at a stand-in for the Supabase gateway): a
 * member reads the trial's free days and the price after them in Japanese, starts the trial on
 * the double's Checkout page, is told on the thank-you page that the trial (not a payment) began,
 * and holds the trial's role from there; a second member does the same in English. Before they
 * start, the page names the trial's role and the paid role from the first payment, and its seller
 * notice says the first charge comes when the trial ends and the trial's role at sign-up. Once the
 * first member's trial has ended, the page offers them no second one (it names the paid role and
 * the operator's payment and delivery timings) and their Checkout starts none (one trial per
 * member per guild).
 */
import type { Page } from "playwright-core";
import { assert, assertEquals } from "../harness/assert.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";
import {
  type CheckoutWorld,
  MEMBER_ID,
  PLAN_DISPLAY,
  SELLER_NOTICE,
  withCheckoutWorld,
} from "../integration/checkout_harness.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import type { Locale } from "../../functions/_core/locale.ts";
import { syncSubscription } from "../../functions/_shared/subscription_sync.ts";
import { createStripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import { planPageSite } from "./serve.ts";

const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const TRIAL_ROLE_ID = "330000000000000008";
const OTHER_MEMBER_ID = "220000000000000002";
const PRICE = { ja: "￥500 / 毎月", en: "¥500 per month" };
const TRIAL_ROLE_NAME = { ja: "体験", en: "Trial" };
/** The role row and the seller notice's payment and delivery timings while a trial is offered. */
const TRIAL_ROWS = {
  ja: {
    grants:
      `無料お試し中は「体験」ロール、初回のお支払い後は「${PLAN_DISPLAY.ja.role_name}」ロール`,
    timing: `${PLAN_DISPLAY.ja.name}: 無料お試し期間（7日間）の終了時（以後、毎月の更新日）`,
    delivery:
      `${PLAN_DISPLAY.ja.name}: お申し込み後すぐに「体験」ロールを付与（無料お試し期間中）、` +
      `初回のお支払い後は「${PLAN_DISPLAY.ja.role_name}」ロール`,
  },
  en: {
    grants: `The “Trial” role during the free trial, then the “${PLAN_DISPLAY.en.role_name}” ` +
      "role from your first payment",
    timing: `${PLAN_DISPLAY.en.name}: When the 7-day free trial ends, then on each monthly ` +
      "renewal date",
    delivery: `${PLAN_DISPLAY.en.name}: The “Trial” role as soon as you sign up (during the free ` +
      `trial), then the “${PLAN_DISPLAY.en.role_name}” role from your first payment`,
  },
};

/** The trial row of the plan on the page, or null when the page offers none. */
async function trialTerms(tab: Page): Promise<string | null> {
  const row = tab.locator("dd.trial");
  return await row.count() ? await row.textContent() : null;
}

/** The page's role row and its seller notice's timings, as a reader sees them. */
async function roleAndTiming(tab: Page, locale: Locale) {
  const text = planPageMessages(locale);
  const after = (dt: string) =>
    tab.locator("dt", { hasText: dt }).locator("xpath=following-sibling::dd[1]");
  return {
    grants: await after(text.grantsLabel).textContent(),
    timing: await after(text.sellerNotice.paymentTiming).textContent(),
    delivery: await after(text.sellerNotice.deliveryTiming).textContent(),
  };
}

/** The `subscription_data` of the last Checkout Session the double was asked for. */
function lastSubscriptionData(world: CheckoutWorld): Record<string, unknown> {
  const request = world.stripeDouble.requests({ method: "POST", path: "/v1/checkout/sessions" })
    .at(-1);
  assert(request, "a Checkout Session was created");
  return request.params.subscription_data as Record<string, unknown>;
}

async function membershipOf(world: CheckoutWorld, memberId: string) {
  const [row] = await world.db.sql<
    { status: string; entitled: boolean; entitled_role_ids: string[]; subscription: string }[]
  >`select status, entitled, entitled_role_ids, stripe_subscription_id as subscription
    from rolepass.memberships where discord_user_id = ${memberId}`;
  assert(row, `membership of ${memberId}`);
  return row;
}

/** Opens the member's plan page in `locale`, starts the trial on Checkout and pays nothing. */
async function startTrial(tab: Page, url: string, locale: Locale) {
  const text = planPageMessages(locale);
  await tab.goto(url);
  assertEquals(await tab.getAttribute("html", "lang"), locale);
  assertEquals(await trialTerms(tab), text.trialTerms(7, PRICE[locale], true));
  assertEquals(await roleAndTiming(tab, locale), TRIAL_ROWS[locale]);
  assertEquals(
    TRIAL_ROWS[locale].grants,
    text.grantsTrialRole(TRIAL_ROLE_NAME[locale], PLAN_DISPLAY[locale].role_name),
  );
  await tab.screenshot({
    path: new URL(`plan_page_trial_${locale}.png`, ARTIFACTS).pathname,
    fullPage: true,
  });
  await Promise.all([
    tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
    tab.getByRole("button", { name: text.trialButton(PLAN_DISPLAY[locale].name, 7) }).click(),
  ]);
  await Promise.all([
    tab.waitForURL((url) => url.pathname === "/join/thanks"),
    tab.getByRole("button", { name: "Pay", exact: true }).click(),
  ]);
  assertEquals(await tab.getAttribute("html", "lang"), locale);
  assertEquals(await tab.locator("h1").textContent(), text.thanksTitle);
  assertEquals(await tab.locator("main p").first().textContent(), text.thanksTrialGrantingBody);
}

Deno.test("members start a plan's free trial on the plan page in Japanese and English, once each", async () => {
  const site = planPageSite();
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      site.bindCheckout(world.app);
      const display = {
        ja: { ...PLAN_DISPLAY.ja, trial_role_name: TRIAL_ROLE_NAME.ja },
        en: { ...PLAN_DISPLAY.en, trial_role_name: TRIAL_ROLE_NAME.en },
      };
      await world.db.sql`
        update rolepass.plans set trial_days = 7, trial_role_ids = ${[TRIAL_ROLE_ID]}::text[],
          display = ${world.db.sql.json(display)}
        where id = ${world.planId}`;
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      const tab = await browser.context.newPage();
      await tab.setViewportSize({ width: 390, height: 844 });

      const join = async (memberId: string, locale: Locale) =>
        `${site.url}/join/${await world.issueLink({ memberId, locale })}?lang=${locale}`;
      await startTrial(tab, await join(MEMBER_ID, "ja"), "ja");
      assertEquals(lastSubscriptionData(world).trial_period_days, "7");
      const trialing = await membershipOf(world, MEMBER_ID);
      assertEquals(
        { status: trialing.status, entitled: trialing.entitled, roles: trialing.entitled_role_ids },
        { status: "trialing", entitled: true, roles: [TRIAL_ROLE_ID] },
      );

      await startTrial(tab, await join(OTHER_MEMBER_ID, "en"), "en");
      assertEquals(lastSubscriptionData(world).trial_period_days, "7");
      assertEquals((await membershipOf(world, OTHER_MEMBER_ID)).entitled_role_ids, [
        TRIAL_ROLE_ID,
      ]);

      // The first member's trial ends unpaid; Stripe's re-read (as the webhook does it) ends it.
      world.stripeDouble.cancelNow(trialing.subscription);
      const sql = createSql(world.db.url, { max: 2 });
      try {
        await syncSubscription(
          {
            sql,
            stripe: createStripeGateway(world.stripe),
            now: () => new Date(),
            logger: createLogger("test"),
          },
          { subscriptionId: trialing.subscription },
          { cause: "test", eventId: null },
        );
      } finally {
        await sql.end();
      }
      const en = planPageMessages("en");
      await tab.goto(await join(MEMBER_ID, "en"));
      assertEquals(await trialTerms(tab), null, "no second trial is offered");
      assertEquals(await roleAndTiming(tab, "en"), {
        grants: en.grants("Rolepass Lounge", PLAN_DISPLAY.en.role_name),
        timing: SELLER_NOTICE.paymentTiming.en,
        delivery: SELLER_NOTICE.deliveryTiming.en,
      });
      await tab.screenshot({
        path: new URL("plan_page_trial_used_en.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      await Promise.all([
        tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
        tab.getByRole("button", { name: en.subscribeButton(PLAN_DISPLAY.en.name) }).click(),
      ]);
      assertEquals(lastSubscriptionData(world).trial_period_days, undefined, "Checkout: no trial");
      await tab.close();
    }, { publicSiteUrl: site.url });
  } finally {
    await browser.close();
    await site.close();
  }
});
