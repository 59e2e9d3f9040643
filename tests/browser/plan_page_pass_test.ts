/**
 * A one-time pass bought on the plan page in headless Chromium, over real HTTP (the page server
 * calls the checkout function through supabase-js at a stand-in for the Supabase gateway): the
 * member reads the pass's one-time, tax-inclusive price in Japanese, pays on the double's
 * Checkout page (payment mode, address for Stripe Tax), and is granted the role on the thank-you
 * page; back on the page in English, they are told until when and offered renewal.
 */
import type { Page } from "playwright-core";
import { assert, assertEquals } from "../harness/assert.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";
import { GUILD_ID, withCheckoutWorld } from "../integration/checkout_harness.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import { planPageSite } from "./serve.ts";

const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const PASS_ROLE_ID = "330000000000000007";
const PASS_DISPLAY = {
  en: { name: "30-day pass", description: "Supporter channels for 30 days", role_name: "Pass" },
  ja: {
    name: "30日パス",
    description: "30日間サポーター限定チャンネルに参加できます",
    role_name: "パス",
  },
};

async function passPrice(tab: Page, planName: string): Promise<string> {
  const plan = tab.locator("article", { has: tab.getByRole("heading", { name: planName }) });
  return (await plan.locator(".price").textContent()) ?? "";
}

Deno.test("a member buys a 30-day pass on the plan page in Japanese, and is offered renewal in English", async () => {
  const site = planPageSite();
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      site.bindCheckout(world.app);
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
      await world.db.sql`update rolepass.plans set tax_behavior = 'inclusive'`;
      await world.db.sql`
        insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
          unit_amount, currency, billing_interval, access_kind, access_duration, tax_behavior,
          sort_order)
        values (${GUILD_ID}, ${price.id}, ${PASS_ROLE_ID}, ${world.db.sql.json(PASS_DISPLAY)},
          3000, 'jpy', null, 'duration', '30 days', 'inclusive', 10)`;

      const tab = await browser.context.newPage();
      await tab.setViewportSize({ width: 390, height: 844 });
      await tab.goto(`${site.url}/join/${await world.issueLink({ locale: "ja" })}`);
      assertEquals(await tab.getAttribute("html", "lang"), "ja");
      assertEquals(await passPrice(tab, PASS_DISPLAY.ja.name), "￥3,000 / 1回払い・30日間（税込）");
      const ja = planPageMessages("ja");
      assert(
        (await tab.locator("body").textContent())?.includes(
          ja.grantsForPass("Rolepass Lounge", PASS_DISPLAY.ja.role_name),
        ),
      );
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await tab.screenshot({
        path: new URL("plan_page_pass_ja.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      await Promise.all([
        tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
        tab.getByRole("button", { name: ja.buyButton(PASS_DISPLAY.ja.name) }).click(),
      ]);
      assertEquals(await tab.locator("h1").textContent(), "Pay");
      await tab.getByLabel("Country").selectOption("JP");
      await Promise.all([
        tab.waitForURL((url) => url.pathname === "/join/thanks"),
        tab.getByRole("button", { name: "Pay", exact: true }).click(),
      ]);
      assertEquals(await tab.getAttribute("html", "lang"), "ja");
      assertEquals(await tab.locator("main p").first().textContent(), ja.thanksGrantingBody);
      const [membership] = await world.db.sql<{ entitled: boolean; entitled_role_id: string }[]>`
        select entitled, entitled_role_id from rolepass.memberships`;
      assertEquals(membership, { entitled: true, entitled_role_id: PASS_ROLE_ID });
      const [session] = (await world.stripe.checkout.sessions.list({ limit: 1 })).data;
      assertEquals(session?.mode, "payment");
      assertEquals(session?.total_details?.amount_tax, 273);

      await tab.goto(`${site.url}/join/${await world.issueLink({ locale: "en" })}?lang=en`);
      const en = planPageMessages("en");
      assertEquals(
        await passPrice(tab, PASS_DISPLAY.en.name),
        "¥3,000 one-time · 30 days, tax included",
      );
      const note = await tab.getByRole("note").textContent();
      assert(note?.startsWith(`You have ${PASS_DISPLAY.en.name} until `), note ?? "");
      assert(
        await tab.getByRole("button", { name: en.renewButton(PASS_DISPLAY.en.name) }).isVisible(),
      );
      await tab.screenshot({
        path: new URL("plan_page_pass_holder_en.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      await tab.close();
    }, { publicSiteUrl: site.url });
  } finally {
    await browser.close();
    await site.close();
  }
});
