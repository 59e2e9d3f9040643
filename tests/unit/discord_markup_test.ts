/**
 * The sandbox shows the bot's messages as Discord would: emphasis, timestamps in the reader's
 * language, role mentions by name, and every piece of text HTML-escaped.
 */
import type { Locale } from "../../functions/_core/locale.ts";
import { assertEquals } from "../harness/assert.ts";
import {
  discordMarkupToHtml,
  type MarkupContext,
} from "../../functions/_cli/dev/sandbox/discord_markup.ts";

const NOW = new Date("2026-12-02T03:00:00Z");
const context = (locale: Locale): MarkupContext => ({
  locale,
  now: NOW,
  roleNames: new Map([["1200000000000000000", "Supporter"]]),
  userNames: new Map([["1300000000000000000", "member"]]),
  timeZone: "Asia/Tokyo",
});
const unix = (iso: string) => Math.floor(new Date(iso).getTime() / 1000);

Deno.test("bold, italics, underline, strike-through and code render as Discord shows them", () => {
  assertEquals(
    discordMarkupToHtml("**Lounge** の *new* __plan__ ~~old~~ `/subscribe`", context("ja")),
    "<strong>Lounge</strong> の <em>new</em> <u>plan</u> <s>old</s> <code>/subscribe</code>",
  );
  assertEquals(discordMarkupToHtml("a snake_case_name", context("en")), "a snake_case_name");
});

Deno.test("text is HTML-escaped, inside markup too, and escaped markdown stays literal", () => {
  assertEquals(
    discordMarkupToHtml(`<script>alert("x")</script> & 'q'`, context("en")),
    "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;",
  );
  assertEquals(
    discordMarkupToHtml("**<img src=x onerror=alert(1)>**", context("en")),
    "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>",
  );
  assertEquals(discordMarkupToHtml(String.raw`**a\*b**`, context("en")), "<strong>a*b</strong>");
  assertEquals(discordMarkupToHtml(String.raw`\*not italic\*`, context("en")), "*not italic*");
  assertEquals(discordMarkupToHtml("`<b>`", context("en")), "<code>&lt;b&gt;</code>");
});

Deno.test("timestamps show relative and absolute times in the reader's language", () => {
  const inFifteen = unix("2026-12-02T03:15:00Z");
  const relativeEn = discordMarkupToHtml(`expires <t:${inFifteen}:R>.`, context("en"));
  assertEquals(
    relativeEn,
    `expires <time datetime="2026-12-02T03:15:00.000Z" ` +
      `title="Wednesday, December 2, 2026 at 12:15 PM">in 15 minutes</time>.`,
  );
  const relativeJa = discordMarkupToHtml(`<t:${inFifteen}:R>に期限が切れます`, context("ja"));
  assertEquals(relativeJa.replace(/<[^>]+>/g, ""), "15分後に期限が切れます");
  const ago = discordMarkupToHtml(`<t:${unix("2026-11-30T03:00:00Z")}:R>`, context("en"));
  assertEquals(ago.replace(/<[^>]+>/g, ""), "2 days ago");
  const date = unix("2027-01-02T00:00:00Z");
  assertEquals(
    discordMarkupToHtml(`<t:${date}:D>`, context("ja")).replace(/<[^>]+>/g, ""),
    "2027年1月2日",
  );
  assertEquals(
    discordMarkupToHtml(`<t:${date}:D>`, context("en")).replace(/<[^>]+>/g, ""),
    "January 2, 2027",
  );
});

Deno.test("mentions show names: a known role as @Name, an unknown one as Discord does", () => {
  assertEquals(
    discordMarkupToHtml("ロール <@&1200000000000000000>（「サポーター」）", context("ja")),
    `ロール <span class="mention">@Supporter</span>（「サポーター」）`,
  );
  assertEquals(
    discordMarkupToHtml("<@&999> <@1300000000000000000> <@!42> </subscribe:1100>", context("en")),
    `<span class="mention">@deleted-role</span> <span class="mention">@member</span> ` +
      `<span class="mention">@unknown-user</span> <span class="mention">/subscribe</span>`,
  );
});

Deno.test("line breaks stay line breaks", () => {
  assertEquals(
    discordMarkupToHtml("外しました。\n再開するには /subscribe", context("ja")),
    "外しました。<br>再開するには /subscribe",
  );
});
