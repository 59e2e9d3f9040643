/**
 * The plan page offers a plan's free trial when checkout says this member's Checkout starts one:
 * its days, the price after it, whether a card is asked up front, and a button that says so.
 */
import { type Locale, LOCALES } from "../../functions/_core/locale.ts";
import { assert } from "../harness/assert.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import type { CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import type { PlanView, PlanViewItem } from "../../functions/checkout/contract.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";

const TOKEN = "A".repeat(43);
const PLAN: PlanViewItem = {
  id: "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a21",
  display: {
    en: { name: "Supporter", description: "", role_name: "Supporter" },
    ja: { name: "サポーター", description: "", role_name: "サポーター" },
  },
  unitAmount: 500,
  currency: "jpy",
  sale: { kind: "subscription", interval: "month", intervalCount: 1 },
  tax: null,
};

function view(plan: PlanViewItem, entitled = false): PlanView {
  return {
    locale: "ja",
    guild: { id: "110000000000000001", name: "Lounge", sellerNotice: null },
    plans: [plan],
    entitled,
    pass: null,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
  };
}

async function page(answer: PlanView, lang: Locale): Promise<string> {
  const client = {
    planView: () => Promise.resolve({ ok: true, value: answer }),
  } as unknown as CheckoutClient;
  const app = createPlanPageApp({ checkoutClient: client, publicSiteUrl: "https://p.test" });
  return await (await app.request(`/join/${TOKEN}?lang=${lang}`)).text();
}

Deno.test("a plan's trial reads as its free days and the price after them, with a trial button", async () => {
  const withCard = view({ ...PLAN, trial: { days: 7, cardUpFront: true, roles: "paid" } });
  const ja = await page(withCard, "ja");
  const jaText = planPageMessages("ja");
  assert(ja.includes(jaText.trialTerms(7, "￥500 / 毎月", true)), ja);
  assert(ja.includes("最初の7日間は無料です。その後は ￥500 / 毎月 で自動更新されます。"));
  assert(ja.includes(jaText.trialButton("サポーター", 7)));
  const en = await page(withCard, "en");
  assert(en.includes("Free for the first 7 days, then ¥500 per month."), en);
  assert(en.includes("Try Supporter free for 7 days"));

  const noCard = await page(
    view({ ...PLAN, trial: { days: 1, cardUpFront: false, roles: "paid" } }),
    "en",
  );
  assert(noCard.includes(planPageMessages("en").trialTerms(1, "¥500 per month", false)), noCard);
  assert(noCard.includes("Free for the first 1 day, no card needed."));
});

Deno.test("no trial is offered when checkout starts none, nor to a member who already subscribes", async () => {
  for (const lang of LOCALES) {
    const text = planPageMessages(lang);
    const name = PLAN.display[lang]!.name;
    const none = await page(view(PLAN), lang);
    assert(!none.includes(text.trialLabel), none);
    assert(none.includes(text.subscribeButton(name)));
    const subscribed = await page(
      view({ ...PLAN, trial: { days: 7, cardUpFront: true, roles: "paid" } }, true),
      lang,
    );
    assert(!subscribed.includes(text.trialLabel), subscribed);
    assert(subscribed.includes(text.manageButton));
  }
});

Deno.test("the thank-you page says a trial began, not that a payment went through", async () => {
  for (
    const [status, key] of [
      ["trial_granting", "thanksTrialGrantingBody"],
      ["trial_started", "thanksTrialStartedBody"],
    ] as const
  ) {
    const client = {
      completeCheckout: () => Promise.resolve({ ok: true, value: { status } }),
    } as unknown as CheckoutClient;
    const app = createPlanPageApp({ checkoutClient: client, publicSiteUrl: "https://p.test" });
    for (const lang of LOCALES) {
      const html = await (await app.request(`/join/thanks?lang=${lang}&session_id=cs_test_a1`))
        .text();
      assert(html.includes(planPageMessages(lang)[key]), html);
    }
  }
});
