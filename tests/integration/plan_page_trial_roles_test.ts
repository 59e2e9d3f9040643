/**
 * The plan page over real HTTP, reading the real checkout function on a real database: a plan
 * whose trial grants a role of its own, or none until the first payment, says what the member
 * holds during the trial and from the first payment, and its seller notice says the first charge
 * comes when the trial ends and the role at sign-up or with that charge; a member who already had
 * a trial reads the paid role and the operator's payment and delivery timings, as Checkout would
 * start no trial for them.
 */
import { assertEquals } from "../harness/assert.ts";
import {
  GUILD_ID,
  MEMBER_ID,
  PLAN_DISPLAY,
  SELLER_NOTICE,
  withCheckoutWorld,
} from "./checkout_harness.ts";
import { planPageMessages } from "../../functions/_core/messages/plan_page.ts";
import { type Locale, LOCALES } from "../../functions/_core/locale.ts";
import { planPageSite } from "../browser/serve.ts";

const TRIAL_ROLE_ID = "330000000000000008";
const TRIAL_ROLE_NAME = { ja: "体験", en: "Trial" };
const TIMING = {
  ja: "無料お試し期間（7日間）の終了時（以後、毎月の更新日）",
  en: "When the 7-day free trial ends, then on each monthly renewal date",
};
/** The seller notice's delivery timing of a trial with a role of its own, and with none. */
const DELIVERY = {
  own: {
    ja: "お申し込み後すぐに「体験」ロールを付与（無料お試し期間中）、初回のお支払い後は" +
      `「${PLAN_DISPLAY.ja.role_name}」ロール`,
    en: "The “Trial” role as soon as you sign up (during the free trial), then the " +
      `“${PLAN_DISPLAY.en.role_name}” role from your first payment`,
  },
  none: {
    ja: "初回のお支払い（無料お試し期間の終了時）後すぐにロールを付与",
    en: "The role as soon as your first payment goes through (when the free trial ends)",
  },
};

/** The text of the `<dd>` after the `<dt>` reading `label`, as a reader sees it. */
function rowAfter(html: string, label: string): string | undefined {
  const at = html.indexOf(`<dt>${label}</dt>`);
  if (at < 0) return undefined;
  const match = /<dd[^>]*>([\s\S]*?)<\/dd>/.exec(html.slice(at));
  return match?.[1]?.replaceAll("&#39;", "'").replaceAll("&quot;", '"').replaceAll("&amp;", "&");
}

Deno.test("the plan page says what a trial grants and when it charges, until the member has had one", async () => {
  const site = planPageSite();
  try {
    await withCheckoutWorld(async (world) => {
      site.bindCheckout(world.app);
      const display = {
        ja: { ...PLAN_DISPLAY.ja, trial_role_name: TRIAL_ROLE_NAME.ja },
        en: { ...PLAN_DISPLAY.en, trial_role_name: TRIAL_ROLE_NAME.en },
      };
      await world.db.sql`
        update rolepass.plans set trial_days = 7, trial_role_ids = ${[TRIAL_ROLE_ID]}::text[],
          display = ${world.db.sql.json(display)}
        where id = ${world.planId}`;
      const rows = async (locale: Locale) => {
        const token = await world.issueLink({ locale });
        const html = await (await fetch(`${site.url}/join/${token}?lang=${locale}`)).text();
        const text = planPageMessages(locale);
        return {
          grants: rowAfter(html, text.grantsLabel),
          timing: rowAfter(html, text.sellerNotice.paymentTiming),
          delivery: rowAfter(html, text.sellerNotice.deliveryTiming),
        };
      };

      for (const locale of LOCALES) {
        const text = planPageMessages(locale);
        const name = `${PLAN_DISPLAY[locale].name}: `;
        assertEquals(await rows(locale), {
          grants: text.grantsTrialRole(TRIAL_ROLE_NAME[locale], PLAN_DISPLAY[locale].role_name),
          timing: name + TIMING[locale],
          delivery: name + DELIVERY.own[locale],
        });
      }
      assertEquals(
        (await rows("ja")).grants,
        `無料お試し中は「体験」ロール、初回のお支払い後は「${PLAN_DISPLAY.ja.role_name}」ロール`,
      );

      await world.db.sql`
        update rolepass.plans set trial_role_ids = '{}' where id = ${world.planId}`;
      for (const locale of LOCALES) {
        const text = planPageMessages(locale);
        assertEquals(await rows(locale), {
          grants: text.grantsFromFirstPayment(PLAN_DISPLAY[locale].role_name),
          timing: `${PLAN_DISPLAY[locale].name}: ${TIMING[locale]}`,
          delivery: `${PLAN_DISPLAY[locale].name}: ${DELIVERY.none[locale]}`,
        });
      }
      assertEquals(
        (await rows("en")).grants,
        `No role during the free trial, then the “${PLAN_DISPLAY.en.role_name}” role from your ` +
          "first payment",
      );

      await world.db.sql`
        insert into rolepass.memberships (guild_id, discord_user_id, locale, change_cause,
          trial_started_at)
        values (${GUILD_ID}, ${MEMBER_ID}, 'ja', 'join_link', now() - interval '30 days')`;
      for (const locale of LOCALES) {
        const text = planPageMessages(locale);
        assertEquals(await rows(locale), {
          grants: text.grants("Rolepass Lounge", PLAN_DISPLAY[locale].role_name),
          timing: SELLER_NOTICE.paymentTiming[locale],
          delivery: SELLER_NOTICE.deliveryTiming[locale],
        });
      }
    }, { publicSiteUrl: site.url });
  } finally {
    await site.close();
  }
});
