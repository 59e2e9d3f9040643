/**
 * The /subscribe replies: ephemeral, no mentions, a link button only where there is a link, in the
 * member's language, with the operator's text escaped.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import {
  dmRefusalReply,
  escapeMarkdown,
  type PlanSummary,
  subscribeReply,
  unavailableReply,
  unknownCommandReply,
  unsupportedInteractionReply,
} from "../../functions/_core/messages/subscribe.ts";
import { type Locale, LOCALES } from "../../functions/_core/locale.ts";

const LINK = "https://plans.example/join/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const EXPIRES = new Date("2026-11-21T10:15:00Z");
const gold: PlanSummary = {
  display: { en: { name: "Gold", description: "" }, ja: { name: "ゴールド", description: "" } },
  unitAmount: 500,
  currency: "jpy",
  sale: { kind: "subscription", billingInterval: "month", intervalCount: 1 },
};

function everyReply(locale: Locale) {
  return [
    subscribeReply({ kind: "no_plan", guildName: "Guild" }, locale),
    subscribeReply({ kind: "no_plan", guildName: null }, locale),
    subscribeReply({
      kind: "join",
      guildName: "Guild",
      plans: [gold],
      link: LINK,
      linkExpiresAt: EXPIRES,
    }, locale),
    subscribeReply({
      kind: "manage",
      guildName: "Guild",
      membership: { plan: gold.display, standing: { kind: "active" } },
      link: LINK,
      linkExpiresAt: EXPIRES,
    }, locale),
    dmRefusalReply(locale, "</subscribe:1>"),
    unknownCommandReply(locale),
    unsupportedInteractionReply(locale),
    unavailableReply(locale, "</subscribe:1>"),
  ];
}

Deno.test("every reply is an ephemeral message that mentions nobody", () => {
  for (const locale of LOCALES) {
    for (const reply of everyReply(locale)) {
      assertEquals(reply.type, 4);
      assertEquals(reply.data?.flags, 64);
      assertEquals(reply.data?.allowed_mentions, { parse: [] });
      assert((reply.data?.content ?? "").length <= 2000);
    }
  }
});

Deno.test("Japanese replies are written in Japanese and English ones in English", () => {
  const japanese = /[\u3040-\u30ff\u4e00-\u9fff]/;
  for (const reply of everyReply("ja")) assert(japanese.test(reply.data?.content ?? ""));
  for (const reply of everyReply("en")) assert(!japanese.test(reply.data?.content ?? ""));
});

Deno.test("only replies with a link carry a single link button", () => {
  const [noPlan, unknownGuild, join, manage] = everyReply("en");
  assert(noPlan, "noPlan is missing");
  assert(unknownGuild, "unknownGuild is missing");
  assertEquals(noPlan.data?.components, undefined);
  assertEquals(unknownGuild.data?.components, undefined);
  for (const reply of [join, manage]) {
    assert(reply, "reply is missing");
    const rows = reply.data?.components ?? [];
    assertEquals(rows.length, 1);
    const row = rows[0] as unknown as { components: Record<string, unknown>[] };
    assertEquals(row.components.length, 1);
    assertEquals(first(row.components, "an item of row.components").style, 5);
    assertEquals(first(row.components, "an item of row.components").url, LINK);
    assertEquals(first(row.components, "an item of row.components").custom_id, undefined);
  }
});

Deno.test("the link's expiry is shown as a Discord timestamp the client localizes", () => {
  const [, , join] = everyReply("en");
  assert(join, "join is missing");
  assert(join.data?.content?.includes(`<t:${EXPIRES.getTime() / 1000}:R>`));
});

Deno.test("a scheduled cancellation and a paused role each get their own words", () => {
  const endsAt = new Date("2027-01-31T00:00:00Z");
  const ending = subscribeReply({
    kind: "manage",
    guildName: "Guild",
    membership: { plan: gold.display, standing: { kind: "cancel_scheduled", endsAt } },
    link: LINK,
    linkExpiresAt: EXPIRES,
  }, "en");
  assert(ending.data?.content?.includes("ends on <t:1801353600:D>"), ending.data?.content);
  const paused = subscribeReply({
    kind: "manage",
    guildName: "Guild",
    membership: { plan: null, standing: { kind: "inactive" } },
    link: LINK,
    linkExpiresAt: EXPIRES,
  }, "ja");
  assert(paused.data?.content?.includes("有料ロール のサブスクリプションに対応が必要"));
});

Deno.test("operator-written names cannot inject markdown", () => {
  assertEquals(
    escapeMarkdown("**Gold** _plan_ `x` ~~y~~ |z|"),
    "\\*\\*Gold\\*\\* \\_plan\\_ \\`x\\` \\~\\~y\\~\\~ \\|z\\|",
  );
  const reply = subscribeReply({ kind: "no_plan", guildName: "*Guild*" }, "en");
  assert(reply.data?.content?.startsWith("**\\*Guild\\***"));
});

Deno.test("plans are listed with the plan page's price wording", () => {
  const [, , join] = everyReply("en");
  assert(join, "join is missing");
  assert(join.data?.content?.includes("• Gold: ¥500 per month"), join.data?.content);
  const [, , joinJa] = everyReply("ja");
  assert(joinJa, "joinJa is missing");
  assert(joinJa.data?.content?.includes("• ゴールド: ￥500 / 毎月"), joinJa.data?.content);
});

Deno.test("a long plan list is cut to ten lines with a count of the rest", () => {
  const plans = Array.from({ length: 13 }, () => gold);
  const reply = subscribeReply({
    kind: "join",
    guildName: "Guild",
    plans,
    link: LINK,
    linkExpiresAt: EXPIRES,
  }, "en");
  const content = reply.data?.content ?? "";
  assertEquals(content.split("\n").filter((line) => line.startsWith("• ")).length, 10);
  assert(content.includes("…and 3 more"));
});
