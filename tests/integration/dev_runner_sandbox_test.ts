import { assert } from "../harness/assert.ts";
import { startDevRunner } from "../../functions/_cli/dev/runner.ts";
import { startSandbox } from "../../functions/_cli/dev/sandbox/sandbox.ts";
import { SANDBOX_LABEL } from "../../functions/_cli/dev/sandbox/sandbox_page.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";
import type { Page } from "playwright-core";

/** Reloads /sandbox until `done` holds for its text (the role job runs in the background). */
async function sandboxOnceItShows(
  page: Page,
  url: string,
  done: (text: string) => boolean,
): Promise<string> {
  const deadline = Date.now() + 20_000;
  let text = "";
  do {
    await page.goto(`${url}/sandbox`);
    text = await page.locator("body").innerText();
    if (done(text)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  } while (Date.now() < deadline);
  return text;
}

// Raw Discord markup a client never shows: bold markers, timestamps, role and user mentions.
const RAW_DISCORD_MARKUP = /\*\*|<t:\d+|<@&?\d+>/;
const JAPANESE = /[\u3040-\u30ff\u4e00-\u9fff]/;

Deno.test({
  name:
    "with no credentials the runner starts a labelled sandbox on the embedded database where a newcomer gets the role in a browser",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const started = performance.now();
    const runner = await startDevRunner({ env: { PORT: "0" } }, startSandbox);
    const browser = await launchHeadlessChromium();
    try {
      assert(runner.settings.mode === "sandbox");
      assert(runner.banner.includes("LOCAL SANDBOX"), runner.banner);
      assert(runner.banner.includes(`${runner.url}/sandbox`), runner.banner);
      const page = await browser.context.newPage();
      await page.goto(`${runner.url}/sandbox`);
      assert((await page.locator("body").innerText()).includes(SANDBOX_LABEL));

      await page.locator("#run-subscribe").click();
      await page.locator("#subscribe-link").waitFor();
      assert((await page.locator("body").innerText()).includes(SANDBOX_LABEL));
      const reply = await page.locator("#bot-reply").innerText();
      assert(!RAW_DISCORD_MARKUP.test(reply), `the reply is shown as Discord shows it: ${reply}`);
      await page.locator("#subscribe-link").click();
      await page.waitForURL((url) => url.pathname.startsWith("/join/"));
      assert((await page.locator("body").innerText()).includes(SANDBOX_LABEL), "plan page label");
      const heading = await page.evaluate<string>(
        'getComputedStyle(document.querySelector("h1")).wordBreak',
      );
      assert(["keep-all", "auto-phrase"].includes(heading), `h1 word-break: ${heading}`);
      await page.goto(`${page.url().split("?")[0]}?lang=en`);
      const sellerNotice = await page.locator("dl.notice").innerText();
      assert(!JAPANESE.test(sellerNotice), `the English seller notice:\n${sellerNotice}`);
      await page.goto(`${page.url().split("?")[0]}?lang=ja`);

      await page.locator(`form[action^="/join/"] button[type="submit"]`).first().click();
      await page.waitForURL((url) => url.pathname.startsWith("/__double/checkout/"));
      const checkout = await page.locator("body").innerText();
      assert(checkout.includes("local sandbox"));
      assert(checkout.includes("Total due today: ¥500"), `500 JPY is ¥500:\n${checkout}`);
      await page.getByRole("button", { name: "Pay with a card that is declined" }).click();
      await page.waitForURL((url) => url.pathname.startsWith("/__double/checkout/"));
      const declined = await page.getByRole("alert").innerText();
      assert(declined === "カードが拒否されました。", `declined: ${declined}`);
      await page.getByRole("button", { name: "Pay", exact: true }).click();
      await page.waitForURL((url) => url.pathname.startsWith("/join/thanks"));

      let text = await sandboxOnceItShows(
        page,
        runner.url,
        (text) => text.includes("You have the Supporter role.") && !text.includes("None yet."),
      );
      assert(text.includes("You have the Supporter role."), text);
      assert(!text.includes("None yet."), "the member was sent a message");
      const messages = await page.locator("#messages").innerText();
      // A declined card and then a paid one is one change of the role: one message.
      const told = await page.locator("#messages li").count();
      assert(told === 1, `one message for the grant, got ${told}: ${messages}`);
      assert(messages.includes("@Supporter"), `the role mention shows its name: ${messages}`);
      assert(!RAW_DISCORD_MARKUP.test(messages), `messages as Discord shows them: ${messages}`);
      const overview = await page.getByRole("link", { name: /account overview/ })
        .getAttribute("href");
      assert((await page.request.get(overview!)).status() === 200, `${overview} opens`);

      // The same member with Discord in English manages and cancels the subscription.
      await page.locator("#member-locale").selectOption("en-US");
      await page.locator("#run-subscribe").click();
      await page.locator("#subscribe-link").waitFor();
      const manage = await page.locator("#bot-reply").innerText();
      assert(manage.startsWith("You are subscribed to Supporter (monthly)"), manage);
      assert(!RAW_DISCORD_MARKUP.test(manage), manage);
      await page.locator("#subscribe-link").click();
      await page.waitForURL((url) => url.pathname.startsWith("/__double/portal/"));
      assert((await page.locator("body").innerText()).includes("¥500"), "the portal shows ¥500");
      await page.getByRole("button", { name: "Cancel now" }).click();
      await page.waitForURL((url) => url.pathname.startsWith("/__double/portal/"));
      const portal = await page.locator(".state").innerText();
      assert(/^Canceled · ended on \d{4}-\d\d-\d\d$/.test(portal), `one portal state: ${portal}`);

      text = await sandboxOnceItShows(
        page,
        runner.url,
        (text) =>
          text.includes("The Supporter role was removed from you.") &&
          /外しました|has been removed/.test(text),
      );
      assert(text.includes("The Supporter role was removed from you."), text);
      assert(!text.includes("yet"), text);
      const allTold = await page.locator("#messages li").count();
      assert(
        allTold === 2,
        `one message for the grant and one for the removal, got ${allTold}: ${await page.locator(
          "#messages",
        ).innerText()}`,
      );
      const revoked = await page.locator("#messages li").last().innerText();
      assert(/@Supporter/.test(revoked) && !RAW_DISCORD_MARKUP.test(revoked), revoked);
      console.log(
        `sandbox walk on PGlite: ${Math.round(performance.now() - started)} ms from start-up`,
      );
    } finally {
      await browser.close();
      await runner.stop();
    }
  },
});
