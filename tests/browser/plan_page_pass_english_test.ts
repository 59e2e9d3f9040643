/**
 * A one-time pass bought and renewed on the plan page in English, in headless Chromium over real
 * HTTP: the member reads the pass's one-time price in English, pays on the double's Checkout page
 * (payment mode), is granted the role on an English thank-you page, and renews the pass from the
 * page, which extends it by its duration from its end. plan_page_pass_test.ts walks the purchase
 * in Japanese.
 */
import type { Page } from "playwright-core";
import { assert, assertEquals } from "../harness/assert.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";
import { GUILD_ID, withCheckoutWorld } from "../integration/checkout_harness.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import { planPageSite } from "./serve.ts";

const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const PASS_ROLE_ID = "330000000000000008";
const PASS_DISPLAY = {
  en: { name: "30-day pass", description: "Supporter channels for 30 days", role_name: "Pass" },
  ja: { name: "30日パス", description: "30日間サポーター限定チャンネル", role_name: "パス" },
};
const DAY_MS = 86_400_000;

/** Presses `button` on the plan page and pays on the double's Checkout page. */
async function buyOnCheckout(tab: Page, button: string): Promise<void> {
  await Promise.all([
    tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
    tab.getByRole("button", { name: button }).click(),
  ]);
  assertEquals(await tab.locator("h1").textContent(), "Pay");
  await Promise.all([
    tab.waitForURL((url) => url.pathname === "/join/thanks"),
    tab.getByRole("button", { name: "Pay", exact: true }).click(),
  ]);
  assertEquals(await tab.getAttribute("html", "lang"), "en");
  assertEquals(
    await tab.locator("main p").first().textContent(),
    planPageMessages("en").thanksGrantingBody,
  );
}

Deno.test("a member buys a 30-day pass on the plan page in English, then renews it", async () => {
  const site = planPageSite();
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      site.bindCheckout(world.app);
      const price = world.stripeDouble.createPrice({
        unitAmount: 3000,
        currency: "jpy",
        recurring: false,
        productName: "30-day pass",
      });
      await world.db.sql`
        insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
          unit_amount, currency, billing_interval, access_kind, access_duration, sort_order)
        values (${GUILD_ID}, ${price.id}, ${PASS_ROLE_ID}, ${world.db.sql.json(PASS_DISPLAY)},
          3000, 'jpy', null, 'duration', '30 days', 10)`;
      const en = planPageMessages("en");
      const tab = await browser.context.newPage();
      await tab.setViewportSize({ width: 390, height: 844 });
      const open = async () =>
        await tab.goto(`${site.url}/join/${await world.issueLink({ locale: "en" })}?lang=en`);

      await open();
      assertEquals(await tab.getAttribute("html", "lang"), "en");
      const plan = tab.locator("article", {
        has: tab.getByRole("heading", { name: PASS_DISPLAY.en.name }),
      });
      assertEquals(await plan.locator(".price").textContent(), "¥3,000 one-time · 30 days");
      assert(
        (await tab.locator("body").textContent())?.includes(
          en.grantsForPass("Rolepass Lounge", PASS_DISPLAY.en.role_name),
        ),
      );
      await buyOnCheckout(tab, en.buyButton(PASS_DISPLAY.en.name));
      const [bought] = await world.db.sql<{ access_until: Date; paid_at: Date }[]>`
        select access_until, paid_at from rolepass.member_passes`;
      assert(bought, "the pass is recorded");
      assertEquals(bought.access_until.getTime() - bought.paid_at.getTime(), 30 * DAY_MS);
      const [membership] = await world.db.sql<{ entitled: boolean; entitled_role_id: string }[]>`
        select entitled, entitled_role_id from rolepass.memberships`;
      assertEquals(membership, { entitled: true, entitled_role_id: PASS_ROLE_ID });

      await open();
      const note = await tab.getByRole("note").textContent();
      assert(note?.startsWith(`You have ${PASS_DISPLAY.en.name} until `), note ?? "");
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await tab.screenshot({
        path: new URL("plan_page_pass_renew_en.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      await buyOnCheckout(tab, en.renewButton(PASS_DISPLAY.en.name));
      const sessions = (await world.stripe.checkout.sessions.list({ limit: 10 })).data;
      assertEquals(sessions.map((session) => session.mode), ["payment", "payment"]);
      const passes = await world.db.sql<{ access_until: Date }[]>`
        select access_until from rolepass.member_passes order by access_until`;
      const last = passes.at(-1);
      assert(last, "the renewal is recorded");
      assertEquals(
        last.access_until.getTime() - bought.access_until.getTime(),
        30 * DAY_MS,
        "renewal extends the pass by 30 days from its end",
      );
      await tab.close();
    }, { publicSiteUrl: site.url });
  } finally {
    await browser.close();
    await site.close();
  }
});
