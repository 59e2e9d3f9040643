/**
 * The plan page's HTML and redirects, built with a checkout client that answers from data (the
 * integration and browser tests drive the real checkout function).
 */
import { LOCALES } from "../../functions/_core/locale.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import type { CheckoutAnswer, CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import type {
  CheckoutCompletion,
  PlanView,
  SessionLink,
} from "../../functions/checkout/contract.ts";
import {
  PLAN_PAGE_PROBLEMS,
  planPageMessages,
  type PlanPageProblem,
} from "../../functions/_core/messages/plan_page.ts";
import { sellerNoticeSchema } from "../../functions/_core/operator_text.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { onSitePath } from "../../functions/plan-page/site_path.ts";

const example = JSON.parse(
  await Deno.readTextFile(new URL("../../supabase/plans.example.json", import.meta.url)),
);
const guild = example.guilds[0];
const TOKEN = "A".repeat(43);
const SITE = "https://plans.rolepass.test";

function viewOf(overrides: Partial<PlanView> = {}): PlanView {
  return {
    locale: "ja",
    guild: {
      id: guild.id,
      name: guild.name,
      sellerNotice: sellerNoticeSchema.parse(guild.seller_notice),
    },
    plans: [{
      id: "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10",
      display: guild.plans[0].display,
      unitAmount: 500,
      currency: "jpy",
      sale: { kind: "subscription", interval: "month", intervalCount: 1 },
      tax: null,
    }],
    entitled: false,
    pass: null,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    ...overrides,
  };
}

function clientAnswering(answers: {
  view?: CheckoutAnswer<PlanView>;
  session?: CheckoutAnswer<SessionLink>;
  portal?: CheckoutAnswer<SessionLink>;
  completion?: CheckoutAnswer<CheckoutCompletion>;
}) {
  const calls: string[] = [];
  const client: CheckoutClient = {
    planView(token) {
      calls.push(`view ${token}`);
      return Promise.resolve(answers.view ?? { ok: true, value: viewOf() });
    },
    checkoutSession(token, planId, locale) {
      calls.push(`session ${token} ${planId} ${locale}`);
      return Promise.resolve(answers.session ?? { ok: false, problem: "unavailable" });
    },
    portalSession(token, locale) {
      calls.push(`portal ${token} ${locale}`);
      return Promise.resolve(answers.portal ?? { ok: false, problem: "unavailable" });
    },
    completeCheckout(sessionId) {
      calls.push(`complete ${sessionId}`);
      return Promise.resolve(answers.completion ?? { ok: false, problem: "unavailable" });
    },
  };
  return { client, calls };
}

function app(client: CheckoutClient) {
  return createPlanPageApp({ checkoutClient: client, publicSiteUrl: SITE });
}

Deno.test("the join page shows the plan, its price and the seller notice in the link's language", async () => {
  const { client } = clientAnswering({});
  const response = await app(client).request(`/join/${TOKEN}`);
  assertEquals(response.status, 200);
  const html = await response.text();
  assert(html.startsWith("<!doctype html>"));
  assert(html.includes('<html lang="ja">'));
  assert(html.includes(guild.plans[0].display.ja.name));
  assertEquals(html.split("￥500 / 毎月").length - 1, 2, "on the plan and in the seller notice");
  assert(html.includes("特定商取引法に基づく表記"));
  assert(html.includes(guild.seller_notice.address.ja));
  assert(html.includes(guild.seller_notice.email));
  assert(html.includes(`action="/join/${TOKEN}"`));
  assert(html.includes('name="plan_id" value="7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10"'));
  assertEquals(response.headers.get("referrer-policy"), "no-referrer");
  assertEquals(response.headers.get("cache-control"), "no-store");
  assert(!html.includes("<script"), "the page has no client script");
});

Deno.test("the language switch shows the same page in English", async () => {
  const { client } = clientAnswering({});
  const html = await (await app(client).request(`/join/${TOKEN}?lang=en`)).text();
  assert(html.includes('<html lang="en">'));
  assert(html.includes(guild.plans[0].display.en.name));
  assert(html.includes("¥500 per month"));
  assert(html.includes(guild.seller_notice.address.en));
  assert(html.includes(`href="/join/${TOKEN}?lang=ja"`));
  assert(html.includes('aria-current="true"'));
});

Deno.test("the plan names the Discord role it grants, in the page's language", async () => {
  const { client } = clientAnswering({});
  const ja = await (await app(client).request(`/join/${TOKEN}`)).text();
  assert(ja.includes(planPageMessages("ja").grants(guild.name, "サポーター")));
  const en = await (await app(client).request(`/join/${TOKEN}?lang=en`)).text();
  assert(
    en.includes(planPageMessages("en").grants(guild.name, "Supporter").replaceAll("'", "&#39;")),
  );
  assert(en.includes("The “Supporter” role on"));
});

Deno.test('a plan without a role name says "this plan\'s role", and Japanese falls back to English', async () => {
  const noRole = structuredClone(guild.plans[0].display);
  delete noRole.en.role_name;
  delete noRole.ja.role_name;
  const enOnly = structuredClone(guild.plans[0].display);
  delete enOnly.ja.role_name;
  const view = viewOf();
  view.plans = [
    { ...first(view.plans, "a plan"), display: noRole },
    { ...first(view.plans, "a plan"), id: "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a11", display: enOnly },
  ];
  const { client } = clientAnswering({ view: { ok: true, value: view } });
  const en = await (await app(client).request(`/join/${TOKEN}?lang=en`)).text();
  assert(en.includes("This plan&#39;s role on “Rolepass Lounge”"));
  const ja = await (await app(client).request(`/join/${TOKEN}?lang=ja`)).text();
  assert(ja.includes(planPageMessages("ja").grants(guild.name)));
  assert(ja.includes(planPageMessages("ja").grants(guild.name, "Supporter")));
});

Deno.test("a member who already subscribes is told so and offered the portal", async () => {
  const { client } = clientAnswering({ view: { ok: true, value: viewOf({ entitled: true }) } });
  const html = await (await app(client).request(`/join/${TOKEN}?lang=en`)).text();
  assert(html.includes(planPageMessages("en").alreadySubscribed));
  assert(html.includes(planPageMessages("en").manageButton));
});

Deno.test("a missing seller notice is said plainly instead of showing an empty table", async () => {
  const view = viewOf();
  view.guild.sellerNotice = null;
  const { client } = clientAnswering({ view: { ok: true, value: view } });
  const html = await (await app(client).request(`/join/${TOKEN}?lang=en`)).text();
  assert(html.includes(planPageMessages("en").sellerNoticeMissing.replaceAll("'", "&#39;")));
});

Deno.test("subscribing posts the plan and answers 303 to the Checkout URL", async () => {
  const checkoutUrl = "https://checkout.stripe.test/c/pay/cs_test_1";
  const { client, calls } = clientAnswering({
    session: { ok: true, value: { kind: "checkout", url: checkoutUrl, locale: "ja" } },
  });
  const response = await app(client).request(`/join/${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: SITE },
    body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=ja",
  });
  assertEquals(response.status, 303);
  assertEquals(response.headers.get("location"), checkoutUrl);
  assertEquals(calls, [`session ${TOKEN} 7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10 ja`]);
});

Deno.test("a form posted from another site is refused without calling checkout", async () => {
  const { client, calls } = clientAnswering({});
  const response = await app(client).request(`/join/${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.test" },
    body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
  });
  assertEquals(response.status, 400);
  assertEquals(calls, []);
});

Deno.test("a form without a valid plan is a 400 page, and checkout is not called", async () => {
  const { client, calls } = clientAnswering({});
  const response = await app(client).request(`/join/${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "plan_id=not-a-plan&lang=en",
  });
  assertEquals(response.status, 400);
  assert((await response.text()).includes(planPageMessages("en").runSubscribeAgain));
  assertEquals(calls, []);
});

Deno.test("every problem renders a page that tells the member to run /subscribe again", async () => {
  const statuses: Record<string, number> = {};
  for (const problem of PLAN_PAGE_PROBLEMS) {
    const { client } = clientAnswering({ view: { ok: false, problem } });
    for (const locale of LOCALES) {
      const response = await app(client).request(`/join/${TOKEN}?lang=${locale}`);
      const html = await response.text();
      const text = planPageMessages(locale);
      assert(html.includes(text.problems[problem as PlanPageProblem]), `${problem} ${locale}`);
      assert(html.includes(text.runSubscribeAgain), `${problem} ${locale}`);
      assert(html.includes(`<html lang="${locale}">`));
      statuses[problem] = response.status;
    }
  }
  assertEquals(statuses.expired_token, 410);
  assertEquals(statuses.used_token, 409);
  assertEquals(statuses.malformed_token, 400);
  assertEquals(statuses.unknown_token, 404);
  assertEquals(statuses.stripe_unavailable, 502);
});

Deno.test("a Stripe failure while subscribing offers a way back to the plans", async () => {
  const { client } = clientAnswering({ session: { ok: false, problem: "stripe_unavailable" } });
  const response = await app(client).request(`/join/${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
  });
  assertEquals(response.status, 502);
  assert((await response.text()).includes(`href="/join/${TOKEN}?lang=en"`));
});

Deno.test("the manage link answers 303 to the portal", async () => {
  const portalUrl = "https://billing.stripe.test/p/session/bps_1";
  const { client } = clientAnswering({
    portal: { ok: true, value: { kind: "portal", url: portalUrl, locale: "en" } },
  });
  const response = await app(client).request(`/manage/${TOKEN}`);
  assertEquals(response.status, 303);
  assertEquals(response.headers.get("location"), portalUrl);
});

Deno.test("the thank-you, cancelled and portal-return pages speak the requested language", async () => {
  const { client } = clientAnswering({});
  for (
    const [path, key] of [
      ["/join/thanks", "thanksTitle"],
      ["/join/cancelled", "cancelledTitle"],
      ["/manage/done", "portalReturnTitle"],
    ] as const
  ) {
    for (const locale of LOCALES) {
      const response = await app(client).request(`${path}?lang=${locale}&session_id=cs_test_1`);
      assertEquals(response.status, 200);
      assert((await response.text()).includes(planPageMessages(locale)[key]), `${path} ${locale}`);
    }
  }
});

Deno.test("the thank-you page syncs the Checkout session and says the role is being granted", async () => {
  const { client, calls } = clientAnswering({
    completion: { ok: true, value: { status: "granting" } },
  });
  for (const locale of LOCALES) {
    const response = await app(client).request(`/join/thanks?lang=${locale}&session_id=cs_test_a1`);
    assertEquals(response.status, 200);
    const html = await response.text();
    const text = planPageMessages(locale);
    assert(html.includes(text.thanksTitle));
    assert(html.includes(text.thanksGrantingBody.replaceAll("'", "&#39;")), locale);
  }
  assertEquals(calls, ["complete cs_test_a1", "complete cs_test_a1"]);
});

Deno.test("the thank-you page says the payment is still processing when Stripe has not confirmed it", async () => {
  const { client } = clientAnswering({ completion: { ok: true, value: { status: "processing" } } });
  const html = await (await app(client).request(`/join/thanks?lang=en&session_id=cs_test_a1`))
    .text();
  assert(html.includes(planPageMessages("en").thanksProcessingBody));
});

Deno.test("a failed sync still shows the thank-you page, and is logged", async () => {
  const logLines: string[] = [];
  setLogSink((line) => logLines.push(line));
  try {
    for (const problem of ["not_found", "stripe_unavailable", "unavailable"] as const) {
      const { client } = clientAnswering({ completion: { ok: false, problem } });
      const response = await app(client).request(`/join/thanks?lang=en&session_id=cs_test_a1`);
      assertEquals(response.status, 200);
      const html = await response.text();
      assert(html.includes(planPageMessages("en").thanksTitle));
      assert(html.includes(planPageMessages("en").thanksBody));
    }
  } finally {
    setLogSink(null);
  }
  const warnings = logLines.filter((line) => line.includes("could not sync the checkout"));
  assertEquals(warnings.length, 3);
  assert(warnings[1]?.includes("stripe_unavailable"));
});

Deno.test("the thank-you page without a session id calls nothing", async () => {
  const { client, calls } = clientAnswering({});
  const html = await (await app(client).request("/join/thanks?lang=en")).text();
  assert(html.includes(planPageMessages("en").thanksBody));
  assertEquals(calls, []);
});

Deno.test("an unknown path is a proper 404 page", async () => {
  const { client } = clientAnswering({});
  const response = await app(client).request("/nothing/here", {
    headers: { "accept-language": "en-US,en;q=0.9" },
  });
  assertEquals(response.status, 404);
  assert((await response.text()).includes(planPageMessages("en").problems.not_found));
});

Deno.test("an oversized form is refused before anything is parsed or called", async () => {
  const { client, calls } = clientAnswering({});
  const response = await app(client).request(`/join/${TOKEN}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `plan_id=${"x".repeat(10_000)}`,
  });
  assertEquals(response.status, 400);
  assertEquals(calls, []);
});

Deno.test("the language chosen on the page goes to checkout; without a choice, none is sent", async () => {
  const checkoutUrl = "https://checkout.stripe.test/c/pay/cs_test_1";
  const session = {
    ok: true,
    value: { kind: "checkout", url: checkoutUrl, locale: "en" },
  } as const;
  const portal = { ok: true, value: { kind: "portal", url: checkoutUrl, locale: "en" } } as const;
  const { client, calls } = clientAnswering({ session, portal });
  const plan = "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10";
  for (const body of [`${plan}&lang=en`, `${plan}&lang=ja`, plan, `${plan}&lang=fr`]) {
    const response = await app(client).request(`/join/${TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body,
    });
    assertEquals(response.status, 303, body);
  }
  for (const query of ["?lang=en", "?lang=ja", "", "?lang=de"]) {
    assertEquals((await app(client).request(`/manage/${TOKEN}${query}`)).status, 303, query);
  }
  const session_ = `session ${TOKEN} 7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10`;
  assertEquals(calls, [
    `${session_} en`,
    `${session_} ja`,
    `${session_} null`,
    `${session_} null`,
    `portal ${TOKEN} en`,
    `portal ${TOKEN} ja`,
    `portal ${TOKEN} null`,
    `portal ${TOKEN} null`,
  ]);
});

/** The language links of a page, as written in its HTML. */
function languageHrefs(html: string): string[] {
  return [...html.matchAll(/<a href="([^"]*)" lang="(?:ja|en)"/g)].map((match) => match[1] ?? "");
}

/** Whether a browser on SITE following `href` stays on SITE (tabs and newlines are dropped first). */
function staysOnSite(href: string): boolean {
  const decoded = href.replaceAll("&amp;", "&").replaceAll("&#39;", "'");
  return new URL(decoded.replace(/[\t\n\r]/g, ""), `${SITE}/somewhere/page`).origin === SITE;
}

const ODD_PATHS = [
  "//x",
  "//evil.example/x",
  "///evil.example/x",
  "/\\evil.example/x",
  "/\\\\evil.example",
  "\\/evil.example",
  "/%2F%2Fevil.example",
  "/%5C%5Cevil.example",
  "/\t/evil.example",
  "/\n/evil.example",
  "/\r\n/evil.example",
  "/ /evil.example",
  "https:",
  "https://evil.example/x",
  "javascript:alert(1)",
  "evil.example",
  "",
  "/join/thanks/../..//evil.example",
  "/.//evil.example",
  "/%",
  "/%zz/x",
  "/\u0000/x",
  "/日本語/x",
  "/\ud800/x",
  '/"><script>alert(1)</script>',
];

Deno.test("a path, however odd, becomes a link that stays on the site", () => {
  for (const path of ODD_PATHS) {
    const link = onSitePath(path);
    assert(link.startsWith("/") && !/^\/[/\\]/.test(link), `${JSON.stringify(path)} -> ${link}`);
    const printable = [...link].every((char) =>
      char > " " && char < "\x7f" && !`\\"<>`.includes(char)
    );
    assert(printable, `${JSON.stringify(path)} -> ${link}`);
    assert(staysOnSite(`${link}?lang=en`), `${JSON.stringify(path)} -> ${link}`);
  }
  assertEquals(onSitePath("/join/thanks"), "/join/thanks");
  assertEquals(onSitePath(`/join/${TOKEN}`), `/join/${TOKEN}`);
  assertEquals(onSitePath("//evil.example/x"), "/evil.example/x");
  assertEquals(onSitePath("/\\evil.example/x"), "/%5Cevil.example/x");
  assertEquals(onSitePath("/%2F%2Fx"), "/%2F%2Fx");
  assertEquals(onSitePath("/\t/x"), "/%09/x");
  assertEquals(onSitePath("https:"), "/https:");
  assertEquals(onSitePath("/%zz"), "/%25zz");
});

Deno.test("the language links of a 404 for an odd path stay on the site", async () => {
  const { client, calls } = clientAnswering({});
  const requests = [
    "http://plans.rolepass.test//evil.example/x",
    "http://plans.rolepass.test///evil.example/x",
    "http://plans.rolepass.test/\\evil.example/x",
    "http://plans.rolepass.test/%2F%2Fevil.example/x",
    "http://plans.rolepass.test/%09/evil.example",
    "http://plans.rolepass.test/https:/evil.example",
    "http://plans.rolepass.test//evil.example/x?lang=en",
  ];
  for (const url of requests) {
    const response = await app(client).request(url);
    assertEquals(response.status, 404, url);
    const hrefs = languageHrefs(await response.text());
    assertEquals(hrefs.length, 2, url);
    for (const href of hrefs) assert(staysOnSite(href), `${url}: ${href}`);
  }
  assertEquals(calls, []);
});

Deno.test("links of every page built from the request stay on the site", async () => {
  const { client } = clientAnswering({
    view: { ok: false, problem: "expired_token" },
    session: { ok: false, problem: "stripe_unavailable" },
  });
  const pages = [
    await app(client).request(`http://plans.rolepass.test//join/${TOKEN}`),
    await app(client).request(`http://plans.rolepass.test/join/${TOKEN}`),
    await app(client).request(`http://plans.rolepass.test/join/${TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
    }),
    await app(client).request("http://plans.rolepass.test//join/thanks"),
    await app(client).request("http://plans.rolepass.test//manage/done?lang=en"),
  ];
  for (const response of pages) {
    const html = await response.text();
    const hrefs = [...html.matchAll(/(?:href|action)="([^"]*)"/g)].map((match) => match[1] ?? "");
    assert(hrefs.length >= 2);
    for (const href of hrefs) assert(staysOnSite(href), href);
  }
});

Deno.test("a token of the wrong length or alphabet is refused without calling checkout", async () => {
  const { client, calls } = clientAnswering({});
  const tokens = [
    "A".repeat(42),
    "A".repeat(44),
    "A".repeat(42) + "=",
    "A".repeat(42) + "+",
    "A".repeat(42) + "%2F",
    "A".repeat(42) + ".",
    "x".repeat(5000),
  ];
  for (const token of tokens) {
    const join = await app(client).request(`/join/${token}?lang=en`);
    assertEquals(join.status, 400, token);
    assert((await join.text()).includes(planPageMessages("en").problems.malformed_token));
    const manage = await app(client).request(`/manage/${token}`);
    assertEquals(manage.status, 400, token);
    const post = await app(client).request(`/join/${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
    });
    assertEquals(post.status, 400, token);
  }
  assertEquals(calls, []);
});

Deno.test("a form posted cross-site, even with Origin: null, is refused without calling checkout", async () => {
  const { client, calls } = clientAnswering({});
  const cases: Record<string, string>[] = [
    { origin: "null", "sec-fetch-site": "cross-site" },
    { origin: "null", "sec-fetch-site": "same-site" },
    { "sec-fetch-site": "cross-site" },
    { origin: "https://plans.rolepass.test.evil.example" },
    { origin: "http://plans.rolepass.test" },
  ];
  for (const headers of cases) {
    const response = await app(client).request(`/join/${TOKEN}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
    });
    assertEquals(response.status, 400, JSON.stringify(headers));
  }
  assertEquals(calls, []);
});

Deno.test("the page's own form, posted with Origin: null as no-referrer pages are, goes through", async () => {
  const checkoutUrl = "https://checkout.stripe.test/c/pay/cs_test_1";
  const { client, calls } = clientAnswering({
    session: { ok: true, value: { kind: "checkout", url: checkoutUrl, locale: "en" } },
  });
  const response = await app(client).request(`${SITE}/join/${TOKEN}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "null",
      "sec-fetch-site": "same-origin",
    },
    body: "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10&lang=en",
  });
  assertEquals(response.status, 303);
  assertEquals(calls.length, 1);
});

Deno.test("other methods and odd forms get a page, never a crash or a call", async () => {
  const { client, calls } = clientAnswering({});
  for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
    for (const path of [`/join/${TOKEN}`, "/join/thanks", `/manage/${TOKEN}`, "/"]) {
      const response = await app(client).request(path, { method });
      assertEquals(response.status, 404, `${method} ${path}`);
      await response.body?.cancel();
    }
  }
  const forms: [string, string][] = [
    ["application/x-www-form-urlencoded", "plan_id=a&plan_id=b&lang=en&lang=ja"],
    ["application/x-www-form-urlencoded", "%%%%=%%"],
    ["application/json", '{"plan_id":"7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10"}'],
    ["multipart/form-data; boundary=x", "--x\r\nnot a part"],
    ["text/plain", "plan_id=7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a10"],
  ];
  for (const [type, body] of forms) {
    const response = await app(client).request(`/join/${TOKEN}`, {
      method: "POST",
      headers: { "content-type": type },
      body,
    });
    assertEquals(response.status, 400, `${type} ${body}`);
    await response.body?.cancel();
  }
  assertEquals(calls, []);
});

Deno.test("the page's request id goes to checkout with the call and back in the answer", async () => {
  const { client } = clientAnswering({});
  const passed: (string | undefined)[] = [];
  const planView = client.planView;
  client.planView = (token, context) => {
    passed.push(context?.requestId);
    return planView(token, context);
  };
  const response = await app(client).request(`/join/${TOKEN}`, {
    headers: { "x-request-id": "page-click-1" },
  });
  assertEquals(response.headers.get("x-request-id"), "page-click-1");
  assertEquals(passed, ["page-click-1"]);
});
