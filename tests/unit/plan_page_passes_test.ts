/**
 * The plan page shows passes as one-time prices ("30 days", "lifetime"), tax-inclusive prices as
 * 税込 when Stripe Tax is on, and tells a pass holder what they have and until when.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { assert } from "../harness/assert.ts";
import { createApp as createPlanPageApp } from "../../functions/plan-page/app.tsx";
import type { CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import type { PlanView } from "../../functions/checkout/contract.ts";
import { sellerNoticeSchema } from "../../functions/_core/operator_text.ts";

const example = JSON.parse(
  await Deno.readTextFile(new URL("../../supabase/plans.example.json", import.meta.url)),
);
const guild = example.guilds[0];
const TOKEN = "A".repeat(43);
const PASS_ID = "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a11";
const LIFETIME_ID = "7b0f8a3e-4a39-4f3b-9d7e-1f6c2d5b8a12";
const display = (en: string, ja: string) => ({
  en: { name: en, description: "", role_name: "Supporter" },
  ja: { name: ja, description: "", role_name: "サポーター" },
});

function view(overrides: Partial<PlanView> = {}): PlanView {
  return {
    locale: "ja",
    guild: {
      id: guild.id,
      name: guild.name,
      sellerNotice: sellerNoticeSchema.parse(guild.seller_notice),
    },
    plans: [{
      id: PASS_ID,
      display: display("30-day pass", "30日パス"),
      unitAmount: 3000,
      currency: "jpy",
      sale: { kind: "pass", accessSeconds: 30 * 86_400 },
      tax: "included",
    }, {
      id: LIFETIME_ID,
      display: display("Lifetime", "永久パス"),
      unitAmount: 20000,
      currency: "jpy",
      sale: { kind: "pass", accessSeconds: null },
      tax: "included",
    }],
    entitled: false,
    pass: null,
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
    ...overrides,
  };
}

async function page(answer: PlanView, lang: Locale): Promise<string> {
  const client = {
    planView: () => Promise.resolve({ ok: true, value: answer }),
  } as unknown as CheckoutClient;
  const app = createPlanPageApp({ checkoutClient: client, publicSiteUrl: "https://p.test" });
  return await (await app.request(`/join/${TOKEN}?lang=${lang}`)).text();
}

Deno.test("passes read as one-time with their length, tax-inclusive (税込) when Stripe Tax is on", async () => {
  const ja = await page(view(), "ja");
  assert(ja.includes("￥3,000 / 1回払い・30日間（税込）"), ja);
  assert(ja.includes("￥20,000 / 1回払い・無期限（税込）"));
  assert(ja.includes("30日パス を購入する") || ja.includes("30日パスを購入する"));
  assert(ja.includes("（ご購入の期間中）"));
  const en = await page(view(), "en");
  assert(en.includes("¥3,000 one-time · 30 days, tax included"));
  assert(en.includes("¥20,000 one-time · lifetime, tax included"));
  assert(en.includes("Buy Lifetime"));
});

Deno.test("a pass holder is told until when, and offered renewal of that pass", async () => {
  const held = view({ pass: { planId: PASS_ID, accessUntil: "2026-12-31T14:59:00.000Z" } });
  const ja = await page(held, "ja");
  assert(ja.includes("「30日パス」をご購入済みです（2026年12月31日 23:59まで）"), ja);
  assert(ja.includes("30日パス を延長する") || ja.includes("30日パスを延長する"));
  const en = await page(held, "en");
  assert(en.includes("You have 30-day pass until December 31, 2026 at 14:59 UTC."));
  assert(en.includes("Renew 30-day pass"));
  const lifetime = await page(view({ pass: { planId: LIFETIME_ID, accessUntil: null } }), "en");
  assert(lifetime.includes("You have Lifetime for good: the role is yours to keep."));
});
