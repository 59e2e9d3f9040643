/**
 * `/subscribe` tells a one-time pass holder what they hold and until when, with renewal from
 * their page; a lifetime holder is told it is theirs for good; passes are listed as one-time.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { type PlanSummary, subscribeReply } from "../../functions/_core/messages/subscribe.ts";

const LINK = "https://plans.example/join/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const EXPIRES = new Date("2026-11-21T10:15:00Z");
const UNTIL = new Date("2026-12-21T10:15:00Z");
const display = {
  en: { name: "30-day pass", description: "" },
  ja: { name: "30日パス", description: "" },
};
const plans: PlanSummary[] = [
  {
    display,
    unitAmount: 3000,
    currency: "jpy",
    sale: { kind: "pass", accessSeconds: 30 * 86_400 },
  },
  {
    display: {
      en: { name: "Lifetime", description: "" },
      ja: { name: "永久パス", description: "" },
    },
    unitAmount: 20000,
    currency: "jpy",
    sale: { kind: "pass", accessSeconds: null },
  },
];

function reply(locale: Locale, accessUntil: Date | null | undefined) {
  const answer = subscribeReply({
    kind: "join",
    guildName: "Lounge",
    plans,
    pass: accessUntil === undefined ? null : { plan: display, accessUntil },
    link: LINK,
    linkExpiresAt: EXPIRES,
  }, locale);
  const label = JSON.stringify(answer.data?.components ?? []).match(/"label":"([^"]*)"/)?.[1];
  return { content: answer.data?.content ?? "", label };
}

Deno.test("a pass holder is told until when, and the button offers renewal", () => {
  const until = `<t:${UNTIL.getTime() / 1000}:D>`;
  const en = reply("en", UNTIL);
  assert(
    en.content.startsWith(`You have **30-day pass** on **Lounge** until ${until}.`),
    en.content,
  );
  assertEquals(en.label, "Renew or choose a plan");
  const ja = reply("ja", UNTIL);
  assert(
    ja.content.startsWith(`**Lounge** の **30日パス** をお持ちです（${until}まで）。`),
    ja.content,
  );
  assertEquals(ja.label, "延長・プランを選ぶ");
});

Deno.test("a lifetime holder is told the role is theirs for good", () => {
  assert(reply("en", null).content.startsWith("You have **30-day pass** on **Lounge** for good"));
  assert(reply("ja", null).content.includes("期限はなく、ずっとご利用いただけます。"));
  assertEquals(reply("en", null).label, "Choose a plan");
});

Deno.test("passes are listed as one-time, with their length or for life", () => {
  const en = reply("en", undefined).content;
  assert(en.includes("• 30-day pass: ¥3,000 one-time · 30 days"), en);
  assert(en.includes("• Lifetime: ¥20,000 one-time · lifetime"));
  assert(reply("ja", undefined).content.includes("• 30日パス: ￥3,000 / 1回払い・30日間"));
  assert(!en.startsWith("You have"));
});

Deno.test("a pass holder whose role is being given back is told so after what they hold", () => {
  const repaired = (locale: Locale) =>
    subscribeReply({
      kind: "join",
      guildName: "Lounge",
      plans,
      pass: { plan: display, accessUntil: UNTIL },
      roleRepair: true,
      link: LINK,
      linkExpiresAt: EXPIRES,
    }, locale).data?.content ?? "";
  const en = repaired("en");
  assert(
    en.includes(
      "from that date.\n\nYou did not have the **30-day pass** role on the server, so it is " +
        "being given back now. It should appear within seconds.\n\nPlans on **Lounge**:",
    ),
    en,
  );
  const ja = repaired("ja");
  assert(
    ja.includes(
      "延長されます。\n\n**30日パス** のロールが付いていなかったため、付け直しを手配しました。" +
        "数秒で戻ります。\n\n**Lounge** のプラン:",
    ),
    ja,
  );
});
