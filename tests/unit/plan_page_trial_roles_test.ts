/**
 * The plan page says what a member holds during a plan's free trial and what from the first
 * payment, when the trial grants a role of its own or none; and its seller notice says a trial's
 * first charge comes when the trial ends, not at sign-up, and its role comes at sign-up or with
 * that first charge, not when a payment completes. Only when that member is offered the trial:
 * otherwise the page reads as it does for any plan, with the operator's timings.
 */
import { type Locale, LOCALES } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import type { CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import type { PlanView, PlanViewItem } from "../../functions/checkout/contract.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import type { SellerNotice } from "../../functions/_core/operator_text.ts";

const TOKEN = "A".repeat(43);
const TEXT = { en: "x", ja: "x" };
const NOTICE: SellerNotice = {
  seller: TEXT,
  representative: TEXT,
  address: TEXT,
  phone: TEXT,
  email: "seller@rolepass.example",
  additionalFees: TEXT,
  paymentMethods: TEXT,
  paymentTiming: { ja: "お申し込み時に決済", en: "Charged at sign-up" },
  deliveryTiming: {
    ja: "決済完了後すぐにロールを付与",
    en: "The role is granted as soon as the payment completes",
  },
  cancellationPolicy: TEXT,
};
const GOLD: PlanViewItem = {
  id: "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a21",
  display: {
    en: { name: "Gold", description: "", role_name: "Gold", trial_role_name: "Trial" },
    ja: { name: "ゴールド", description: "", role_name: "ゴールド", trial_role_name: "体験" },
  },
  unitAmount: 500,
  currency: "jpy",
  sale: { kind: "subscription", interval: "month", intervalCount: 1 },
  tax: null,
};
const PASS: PlanViewItem = {
  id: "8c1f9b4f-5b4a-4c5c-8e8f-2a7d3e6c9b32",
  display: { en: { name: "Day pass", description: "" }, ja: { name: "1日パス", description: "" } },
  unitAmount: 300,
  currency: "jpy",
  sale: { kind: "pass", accessSeconds: 86_400 },
  tax: null,
};
const OWN_ROLE = { days: 7, cardUpFront: true, roles: "own" } as const;

function view(plans: PlanViewItem[], entitled = false): PlanView {
  return {
    locale: "ja",
    guild: { id: "110000000000000001", name: "Lounge", sellerNotice: NOTICE },
    plans,
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

/** The text of the `<dd>` after the `<dt>` reading `label`, as a reader sees it. */
function rowAfter(html: string, label: string): string | undefined {
  const at = html.indexOf(`<dt>${label}</dt>`);
  if (at < 0) return undefined;
  const match = /<dd[^>]*>([\s\S]*?)<\/dd>/.exec(html.slice(at));
  return match?.[1]?.replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
}

Deno.test("the role row of a trial with a role of its own names both roles", () => {
  const ja = planPageMessages("ja");
  const en = planPageMessages("en");
  assertEquals(
    ja.grantsTrialRole("体験", "ゴールド"),
    "無料お試し中は「体験」ロール、初回のお支払い後は「ゴールド」ロール",
  );
  assertEquals(
    en.grantsTrialRole("Trial", "Gold"),
    "The “Trial” role during the free trial, then the “Gold” role from your first payment",
  );
  assertEquals(
    ja.grantsTrialRole(undefined, undefined),
    "無料お試し中はお試し用のロール、初回のお支払い後はこのプランのロール",
  );
  assertEquals(
    en.grantsTrialRole(undefined, "Gold"),
    "A trial role during the free trial, then the “Gold” role from your first payment",
  );
});

Deno.test("the role row of a trial without a role says the role comes with the first payment", () => {
  assertEquals(
    planPageMessages("ja").grantsFromFirstPayment("ゴールド"),
    "無料お試し中はロールなし、初回のお支払い後は「ゴールド」ロール",
  );
  assertEquals(
    planPageMessages("en").grantsFromFirstPayment("Gold"),
    "No role during the free trial, then the “Gold” role from your first payment",
  );
  assertEquals(
    planPageMessages("en").grantsFromFirstPayment(undefined),
    "No role during the free trial, then this plan's role from your first payment",
  );
});

Deno.test("the seller notice's payment timing follows a trial: its end, then each renewal", () => {
  const ja = planPageMessages("ja");
  const en = planPageMessages("en");
  const monthly = { interval: "month", intervalCount: 1 } as const;
  const quarterly = { interval: "month", intervalCount: 3 } as const;
  assertEquals(
    ja.subscriptionChargeTiming(monthly, 7),
    "無料お試し期間（7日間）の終了時（以後、毎月の更新日）",
  );
  assertEquals(ja.subscriptionChargeTiming(quarterly), "お申し込み時（以後、3か月ごとの更新日）");
  assertEquals(ja.passChargeTiming, "ご購入時");
  assertEquals(
    en.subscriptionChargeTiming(monthly, 7),
    "When the 7-day free trial ends, then on each monthly renewal date",
  );
  assertEquals(
    en.subscriptionChargeTiming(quarterly),
    "At sign-up, then on each renewal date (every 3 months)",
  );
  assertEquals(en.passChargeTiming, "At purchase");
});

Deno.test("a trial moves the seller notice's delivery timing to sign-up or to its end", () => {
  const ja = planPageMessages("ja");
  const en = planPageMessages("en");
  assertEquals(
    ja.subscriptionDeliveryTiming("own", "体験", "ゴールド"),
    "お申し込み後すぐに「体験」ロールを付与（無料お試し期間中）、初回のお支払い後は「ゴールド」ロール",
  );
  assertEquals(
    ja.subscriptionDeliveryTiming("own"),
    "お申し込み後すぐにお試し用のロールを付与（無料お試し期間中）、初回のお支払い後はこのプランのロール",
  );
  assertEquals(
    ja.subscriptionDeliveryTiming("paid", undefined, "ゴールド"),
    "お申し込み後すぐにロールを付与（無料お試し期間中から）",
  );
  assertEquals(
    ja.subscriptionDeliveryTiming("none", undefined, "ゴールド"),
    "初回のお支払い（無料お試し期間の終了時）後すぐにロールを付与",
  );
  assertEquals(ja.subscriptionDeliveryTiming(), "お支払い後すぐにロールを付与");
  assertEquals(ja.passDeliveryTiming(30 * 86_400), "ご購入後すぐにロールを付与（30日間）");
  assertEquals(ja.passDeliveryTiming(null), "ご購入後すぐにロールを付与（無期限）");
  assertEquals(
    en.subscriptionDeliveryTiming("own", "Trial", "Gold"),
    "The “Trial” role as soon as you sign up (during the free trial), then the “Gold” role " +
      "from your first payment",
  );
  assertEquals(
    en.subscriptionDeliveryTiming("own"),
    "A trial role as soon as you sign up (during the free trial), then this plan's role from " +
      "your first payment",
  );
  assertEquals(
    en.subscriptionDeliveryTiming("paid"),
    "The role as soon as you sign up, free trial included",
  );
  assertEquals(
    en.subscriptionDeliveryTiming("none"),
    "The role as soon as your first payment goes through (when the free trial ends)",
  );
  assertEquals(en.subscriptionDeliveryTiming(), "The role as soon as your payment goes through");
  assertEquals(en.passDeliveryTiming(86_400), "The role as soon as you buy, for 1 day");
  assertEquals(en.passDeliveryTiming(null), "The role as soon as you buy, for good");
});

Deno.test("a member offered a trial reads its roles and when they pay, in Japanese and English", async () => {
  const plans = [
    { ...GOLD, trial: OWN_ROLE },
    { ...GOLD, id: "9d2a0c5a-6c5b-4d6d-9f90-3b8e4f7d0c43", trial: { ...OWN_ROLE, roles: "none" } },
    PASS,
  ] satisfies PlanViewItem[];
  const ja = planPageMessages("ja");
  const jaPage = await page(view(plans), "ja");
  assert(
    jaPage.includes(
      "<dd>無料お試し中は「体験」ロール、初回のお支払い後は「ゴールド」ロール</dd>",
    ),
    jaPage,
  );
  assert(
    jaPage.includes("<dd>無料お試し中はロールなし、初回のお支払い後は「ゴールド」ロール</dd>"),
  );
  assertEquals(
    rowAfter(jaPage, ja.sellerNotice.paymentTiming),
    [
      "ゴールド: 無料お試し期間（7日間）の終了時（以後、毎月の更新日）",
      "ゴールド: 無料お試し期間（7日間）の終了時（以後、毎月の更新日）",
      "1日パス: ご購入時",
    ].join("\n"),
  );
  assertEquals(
    rowAfter(jaPage, ja.sellerNotice.deliveryTiming),
    [
      "ゴールド: お申し込み後すぐに「体験」ロールを付与（無料お試し期間中）、初回のお支払い後は「ゴールド」ロール",
      "ゴールド: 初回のお支払い（無料お試し期間の終了時）後すぐにロールを付与",
      "1日パス: ご購入後すぐにロールを付与（1日間）",
    ].join("\n"),
  );

  const en = planPageMessages("en");
  const enPage = await page(view(plans), "en");
  assert(
    enPage.includes(
      "<dd>The “Trial” role during the free trial, then the “Gold” role from your first payment</dd>",
    ),
    enPage,
  );
  assertEquals(
    rowAfter(enPage, en.sellerNotice.paymentTiming),
    [
      "Gold: When the 7-day free trial ends, then on each monthly renewal date",
      "Gold: When the 7-day free trial ends, then on each monthly renewal date",
      "Day pass: At purchase",
    ].join("\n"),
  );
  assertEquals(
    rowAfter(enPage, en.sellerNotice.deliveryTiming),
    [
      "Gold: The “Trial” role as soon as you sign up (during the free trial), then the “Gold” " +
      "role from your first payment",
      "Gold: The role as soon as your first payment goes through (when the free trial ends)",
      "Day pass: The role as soon as you buy, for 1 day",
    ].join("\n"),
  );
});

Deno.test("a member not offered the trial reads the paid role and the operator's timing", async () => {
  for (const lang of LOCALES) {
    const text = planPageMessages(lang);
    const role = GOLD.display[lang]!.role_name;
    for (
      const answer of [
        view([GOLD, PASS]), // the member already had a trial: checkout offers none
        view([{ ...GOLD, trial: OWN_ROLE }, PASS], true), // a subscriber goes to the portal
      ]
    ) {
      const html = await page(answer, lang);
      assertEquals(rowAfter(html, text.grantsLabel), text.grants("Lounge", role));
      assertEquals(
        rowAfter(html, text.sellerNotice.paymentTiming),
        NOTICE.paymentTiming[lang],
      );
      assertEquals(
        rowAfter(html, text.sellerNotice.deliveryTiming),
        NOTICE.deliveryTiming[lang],
      );
    }
  }
  // A trial that grants the paid role reads as the plan's role, granted at sign-up; a plan
  // beside it without a trial grants its role on payment.
  const en = planPageMessages("en");
  const paid = await page(
    view([{ ...GOLD, trial: { ...OWN_ROLE, roles: "paid" } }, { ...GOLD, id: PASS.id }]),
    "en",
  );
  assertEquals(rowAfter(paid, en.grantsLabel), en.grants("Lounge", "Gold"));
  assertEquals(
    rowAfter(paid, en.sellerNotice.deliveryTiming),
    "Gold: The role as soon as you sign up, free trial included\n" +
      "Gold: The role as soon as your payment goes through",
  );
});
