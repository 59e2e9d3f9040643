/**
 * The plan page in headless Chromium, over real HTTP: the page server calls the checkout function
 * through supabase-js (`functions.invoke`) at a stand-in for the Supabase gateway that mounts the
 * checkout app under /functions/v1/checkout, as Kong does. Screenshots in both languages go to
 * tests/artifacts/.
 */
import axe from "axe-core";
import type { Page } from "playwright-core";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { launchHeadlessChromium } from "../e2e/browser.ts";
import { PLAN_DISPLAY, SELLER_NOTICE, withCheckoutWorld } from "../integration/checkout_harness.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import { createCheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";

const ARTIFACTS = new URL("../artifacts/", import.meta.url);

/**
 * WCAG 2.1 A/AA violations axe-core finds on the page (contrast, labels, lang, landmarks...).
 * Evaluated through the DevTools protocol, which the page's CSP does not restrict.
 */
async function accessibilityViolations(tab: Page): Promise<string[]> {
  await tab.evaluate(axe.source);
  const result = await tab.evaluate<{ passes: number; violations: string[] }>(`axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  }).then((r) => ({
    passes: r.passes.length,
    violations: r.violations.map((v) => v.id + ": " + v.nodes.map((n) => n.target).join(" ")),
  }))`);
  assert(result.passes > 10, `axe ran its rules (${result.passes} passed)`);
  return result.violations;
}

/** Passes a gateway request on to the checkout app with the path Supabase functions see. */
async function forward(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  url: URL,
  request: Request,
): Promise<Response> {
  const body = request.method === "GET" ? undefined : await request.arrayBuffer();
  return app.fetch(new Request(url, { method: request.method, headers: request.headers, body }));
}

/** Serves `handler` on 127.0.0.1; `handler` may be bound after the port is known. */
function serve(handler: { fetch?: (request: Request) => Response | Promise<Response> }) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => handler.fetch!(request),
  );
  return { server, url: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("a member opens the join link, reads plan and seller notice in both languages, and lands on Checkout", async () => {
  const page = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const gateway = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const pageServer = serve(page);
  const gatewayServer = serve(gateway);
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      const gatewayPaths: string[] = [];
      gateway.fetch = (request) => {
        const url = new URL(request.url);
        gatewayPaths.push(
          `${request.method} ${url.pathname} apikey=${request.headers.has("apikey")} request-id=${
            request.headers.has("x-request-id")
          }`,
        );
        url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
        return forward(world.app, url, request);
      };
      page.fetch = createPlanPageApp({
        checkoutClient: createCheckoutClient({
          supabaseUrl: gatewayServer.url,
          publishableKey: "sb_publishable_rolepass_test",
        }),
        publicSiteUrl: pageServer.url,
      }).fetch;

      const token = await world.issueLink({ locale: "ja" });
      const tab = await browser.context.newPage();
      await tab.setViewportSize({ width: 390, height: 844 });
      const opened = await tab.goto(`${pageServer.url}/join/${token}`);
      assertEquals(opened?.status(), 200);
      assertEquals(await tab.getAttribute("html", "lang"), "ja");
      assertEquals(
        await tab.locator("h3").first().textContent(),
        PLAN_DISPLAY.ja.name,
      );
      assert((await tab.locator(".price").first().textContent())?.includes("￥500 / 毎月"));
      assertEquals(
        await tab.locator("dl.facts dd").nth(1).textContent(),
        `「Rolepass Lounge」の「${PLAN_DISPLAY.ja.role_name}」ロール（ご契約中のみ）`,
      );
      const notice = tab.getByRole("region", { name: "特定商取引法に基づく表記" });
      assert(await notice.isVisible());
      assert((await notice.textContent())?.includes(SELLER_NOTICE.seller.ja));
      assert((await notice.textContent())?.includes(SELLER_NOTICE.cancellationPolicy.ja));
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await tab.screenshot({
        path: new URL("plan_page_ja.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      assertEquals(await accessibilityViolations(tab), [], "no WCAG 2.1 AA violation (ja)");

      await tab.getByRole("link", { name: "English" }).click();
      await tab.waitForURL(/lang=en/);
      assertEquals(await tab.getAttribute("html", "lang"), "en");
      assert((await tab.locator(".price").first().textContent())?.includes("¥500 per month"));
      const noticeEn = tab.getByRole("region", {
        name: "Notation based on the Specified Commercial Transactions Act",
      });
      assert((await noticeEn.textContent())?.includes(SELLER_NOTICE.seller.en));
      await tab.screenshot({
        path: new URL("plan_page_en.png", ARTIFACTS).pathname,
        fullPage: true,
      });
      assertEquals(await accessibilityViolations(tab), [], "no WCAG 2.1 AA violation (en)");

      // Keyboard only: the subscribe button is reachable with Tab and shows its focus. (Page-side
      // expressions are strings: the test is type-checked without the DOM library.)
      const buttonName = `Subscribe to ${PLAN_DISPLAY.en.name}`;
      const button = tab.getByRole("button", { name: buttonName });
      const focused = () => tab.evaluate<string>("document.activeElement?.textContent ?? ''");
      for (let i = 0; i < 10 && (await focused()) !== buttonName; i++) {
        await tab.keyboard.press("Tab");
      }
      assertEquals(await focused(), buttonName, "the button takes keyboard focus");
      assertEquals(
        await tab.evaluate<string>("getComputedStyle(document.activeElement).outlineStyle"),
        "solid",
      );
      await Promise.all([
        tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
        tab.keyboard.press("Enter"),
      ]);
      assert(tab.url().startsWith(`${world.stripeDouble.url}/__double/checkout/cs_`));
      const [request] = world.stripeDouble.requests({
        method: "POST",
        path: "/v1/checkout/sessions",
      });
      assert(request, "request is missing");
      // The member switched to English: Stripe's page and every page after it speak English.
      assertEquals(request.params.locale, "en");
      assertEquals(request.params.cancel_url, `${pageServer.url}/join/cancelled?lang=en`);
      assert(
        gatewayPaths.includes("POST /functions/v1/checkout/plan-view apikey=true request-id=true"),
      );
      assert(
        gatewayPaths.includes(
          "POST /functions/v1/checkout/checkout-session apikey=true request-id=true",
        ),
      );

      // The member cancels on Checkout and lands on the cancelled page in their language.
      const checkoutUrl = tab.url();
      await Promise.all([
        tab.waitForURL((url) => url.pathname === "/join/cancelled"),
        tab.getByRole("link", { name: "Cancel" }).click(),
      ]);
      assertEquals(await tab.getAttribute("html", "lang"), "en");
      assertEquals(await tab.locator("h1").textContent(), planPageMessages("en").cancelledTitle);

      // Back on the plan page with the same link: the plans still show, and subscribing again
      // returns the same Checkout session rather than a second one.
      await tab.goto(`${pageServer.url}/join/${token}?lang=en`);
      await Promise.all([
        tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
        button.click(),
      ]);
      assertEquals(tab.url(), checkoutUrl);
      const sessions = await world.stripe.checkout.sessions.list({ limit: 10 });
      assertEquals(sessions.data.length, 1);

      // Paying leads to the thank-you page, which syncs the membership from Stripe at once: no
      // webhook is delivered here, yet the page can say the role is being granted.
      await Promise.all([
        tab.waitForURL((url) => url.pathname === "/join/thanks"),
        tab.getByRole("button", { name: "Pay", exact: true }).click(),
      ]);
      assertEquals(
        new URL(tab.url()).searchParams.get("session_id"),
        first(sessions.data, "an item of sessions.data").id,
      );
      assertEquals(await tab.getAttribute("html", "lang"), "en");
      assertEquals(await tab.locator("h1").textContent(), planPageMessages("en").thanksTitle);
      assertEquals(
        await tab.locator("main p").first().textContent(),
        planPageMessages("en").thanksGrantingBody,
      );
      assert(
        gatewayPaths.includes(
          "POST /functions/v1/checkout/checkout-complete apikey=true request-id=true",
        ),
      );
      assertEquals(world.stripeDouble.deliveries(), []);
      const [membership] = await world.db.sql<{ entitled: boolean }[]>`
        select entitled from rolepass.memberships`;
      assert(membership, "membership is missing");
      assertEquals(membership.entitled, true);
      await tab.close();
    }, { publicSiteUrl: pageServer.url });
  } finally {
    await browser.close();
    await pageServer.server.shutdown();
    await gatewayServer.server.shutdown();
  }
});

Deno.test("an expired link shows a page telling the member to run /subscribe again", async () => {
  const page = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const gateway = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const pageServer = serve(page);
  const gatewayServer = serve(gateway);
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      gateway.fetch = (request) => {
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
        return forward(world.app, url, request);
      };
      page.fetch = createPlanPageApp({
        checkoutClient: createCheckoutClient({
          supabaseUrl: gatewayServer.url,
          publishableKey: "sb_publishable_rolepass_test",
        }),
        publicSiteUrl: pageServer.url,
      }).fetch;
      const token = await world.issueLink({ expired: true, locale: "en" });
      const tab = await browser.context.newPage();
      const opened = await tab.goto(`${pageServer.url}/join/${token}?lang=en`);
      assertEquals(opened?.status(), 410);
      assertEquals(await tab.locator("h1").textContent(), "This link cannot be used");
      assert((await tab.getByRole("alert").textContent())?.includes("expired"));
      assert((await tab.locator("main").textContent())?.includes("Run /subscribe again"));
      await tab.screenshot({ path: new URL("plan_page_expired_en.png", ARTIFACTS).pathname });
      assertEquals(await accessibilityViolations(tab), [], "no WCAG 2.1 AA violation (error page)");
      await tab.close();
    }, { publicSiteUrl: pageServer.url });
  } finally {
    await browser.close();
    await pageServer.server.shutdown();
    await gatewayServer.server.shutdown();
  }
});

Deno.test("a member who stays in Japanese gets Checkout and the pages after it in Japanese", async () => {
  const page = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const gateway = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const pageServer = serve(page);
  const gatewayServer = serve(gateway);
  const browser = await launchHeadlessChromium();
  try {
    await withCheckoutWorld(async (world) => {
      gateway.fetch = (request) => {
        const url = new URL(request.url);
        url.pathname = url.pathname.replace(/^\/functions\/v1/, "");
        return forward(world.app, url, request);
      };
      page.fetch = createPlanPageApp({
        checkoutClient: createCheckoutClient({
          supabaseUrl: gatewayServer.url,
          publishableKey: "sb_publishable_rolepass_test",
        }),
        publicSiteUrl: pageServer.url,
      }).fetch;
      // An English link whose member reads Japanese: the page's choice wins over the link's.
      const token = await world.issueLink({ locale: "en" });
      const tab = await browser.context.newPage();
      await tab.goto(`${pageServer.url}/join/${token}`);
      await tab.getByRole("link", { name: planPageMessages("ja").languageName }).click();
      await tab.waitForURL(/lang=ja/);
      await Promise.all([
        tab.waitForURL((url) => url.pathname.startsWith("/__double/checkout/cs_")),
        tab.getByRole("button", {
          name: planPageMessages("ja").subscribeButton(PLAN_DISPLAY.ja.name),
        }).click(),
      ]);
      await Promise.all([
        tab.waitForURL((url) => url.pathname === "/join/thanks"),
        tab.getByRole("button", { name: "Pay", exact: true }).click(),
      ]);
      assertEquals(await tab.getAttribute("html", "lang"), "ja");
      assertEquals(await tab.locator("h1").textContent(), planPageMessages("ja").thanksTitle);
      assertEquals(
        await tab.locator("main p").first().textContent(),
        planPageMessages("ja").thanksGrantingBody,
      );
      await tab.close();
    }, { publicSiteUrl: pageServer.url });
  } finally {
    await browser.close();
    await pageServer.server.shutdown();
    await gatewayServer.server.shutdown();
  }
});

Deno.test("the language links of a 404 for a path like //elsewhere stay on the site", async () => {
  const page = {} as { fetch?: (request: Request) => Response | Promise<Response> };
  const pageServer = serve(page);
  page.fetch = createPlanPageApp({
    // A 404 calls nothing; the client points nowhere.
    checkoutClient: createCheckoutClient({
      supabaseUrl: "http://127.0.0.1:9",
      publishableKey: "sb_publishable_rolepass_test",
    }),
    publicSiteUrl: pageServer.url,
  }).fetch;
  const browser = await launchHeadlessChromium();
  try {
    const tab = await browser.context.newPage();
    // Anything off the site is answered here, so a link that leaves shows up as a page, not a
    // DNS failure.
    const site = new URL(pageServer.url);
    await tab.route((url) => url.host !== site.host, (route) =>
      route.fulfill({
        status: 200,
        contentType: "text/html",
        body: "<!doctype html><title>elsewhere</title><h1>elsewhere</h1>",
      }));
    for (const path of ["//evil.example/x", "/\\evil.example/x", "///evil.example/x"]) {
      const opened = await tab.goto(`${pageServer.url}${path}`);
      assertEquals(opened?.status(), 404, path);
      assertEquals(new URL(tab.url()).host, site.host, path);
      await Promise.all([
        tab.waitForURL(/lang=en/),
        tab.getByRole("link", { name: "English" }).click(),
      ]);
      const landed = new URL(tab.url());
      assertEquals(landed.host, site.host, `${path} -> ${tab.url()}`);
      assertEquals(await tab.getAttribute("html", "lang"), "en", path);
      assertEquals(
        await tab.getByRole("alert").textContent(),
        planPageMessages("en").problems.not_found,
      );
    }
    await tab.close();
  } finally {
    await browser.close();
    await pageServer.server.shutdown();
  }
});
