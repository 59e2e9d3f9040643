import { assert } from "../harness/assert.ts";
import { startDevRunner } from "../../functions/_cli/dev/runner.ts";
import { startSandbox } from "../../functions/_cli/dev/sandbox/sandbox.ts";
import { SANDBOX_LABEL } from "../../functions/_cli/dev/sandbox/sandbox_page.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";

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
      await page.locator("#subscribe-link").click();
      await page.waitForURL((url) => url.pathname.startsWith("/join/"));
      assert((await page.locator("body").innerText()).includes(SANDBOX_LABEL), "plan page label");
      await page.locator(`form[action^="/join/"] button[type="submit"]`).first().click();
      await page.waitForURL((url) => url.pathname.startsWith("/__double/checkout/"));
      assert((await page.locator("body").innerText()).includes("local sandbox"));
      await page.getByRole("button", { name: "Pay", exact: true }).click();
      await page.waitForURL((url) => url.pathname.startsWith("/join/thanks"));

      const deadline = Date.now() + 20_000;
      let text = "";
      do {
        await page.goto(`${runner.url}/sandbox`);
        text = await page.locator("body").innerText();
        if (text.includes("You have the Supporter role.") && !text.includes("None yet.")) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      } while (Date.now() < deadline);
      assert(text.includes("You have the Supporter role."), text);
      assert(!text.includes("None yet."), "the member was sent a message");
      console.log(
        `sandbox walk on PGlite: ${Math.round(performance.now() - started)} ms from start-up`,
      );
    } finally {
      await browser.close();
      await runner.stop();
    }
  },
});
