/**
 * plans:apply gives each guild a Customer Portal configuration of its own, through the real
 * gateway and the Stripe double: members switch between exactly their guild's subscription
 * prices, never another guild's on the same Stripe account, and a second apply updates the same
 * configuration.
 */
import { assert, assertEquals, rejects } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { startStripeDouble } from "../../functions/_doubles/stripe/index.ts";
import {
  applyPlansFile,
  fetchPriceTerms,
  saveGuildPortalConfigurations,
} from "../../functions/_cli/plans_apply.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";

const KEY = "sk_test_guildPortalConfigurations";
const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

Deno.test("each guild on one Stripe account gets its own portal configuration with exactly its subscription prices", async () => {
  const double = await startStripeDouble({ secretKey: KEY });
  try {
    await withTestDatabase(async (db) => {
      const price = (name: string) =>
        double.createPrice({ unitAmount: 500, currency: "jpy", productName: name }).id;
      const [gold, silver, red, blue] = [
        price("Gold"),
        price("Silver"),
        price("Red"),
        price("Blue"),
      ];
      const pass = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false }).id;
      const example = JSON.parse(exampleText);
      const [template] = example.guilds;
      const [plan] = template.plans;
      const plansOf = (priceIds: string[]) =>
        priceIds.map((id, i) => ({ ...plan, stripe_price_id: id, sort_order: i }));
      const file = (loungePrices: string[]) => ({
        guilds: [
          {
            ...template,
            plans: [...plansOf(loungePrices), {
              ...plan,
              stripe_price_id: pass,
              access: "P30D",
              sort_order: 9,
            }],
          },
          {
            ...template,
            id: "1187654321098765433",
            name: "Other",
            // A Discord role belongs to one server: the other server sells a role of its own.
            plans: plansOf([red, blue]).map((p) => ({
              ...p,
              discord_role_id: "1187654321098765601",
            })),
          },
        ],
      });
      const stripe = connectStripe(KEY, double.url);
      const apply = async (loungePrices: string[]) => {
        const parsed = parsePlansFile(JSON.stringify(file(loungePrices)));
        assert(parsed.ok, JSON.stringify(parsed));
        await applyPlansFile(db.sql, parsed.file, await fetchPriceTerms(stripe, parsed.file));
        return await saveGuildPortalConfigurations(
          db.sql,
          stripe,
          parsed.file.guilds.map((guild) => guild.id),
        );
      };

      const saved = await apply([gold, silver]);
      const stored = await db.sql<{ id: string; configuration: string | null }[]>`
        select id, stripe_portal_configuration_id as configuration from rolepass.guilds
        order by id`;
      assertEquals(stored.map((row) => row.configuration), saved.map((s) => s.configurationId));
      const [lounge, other] = saved;
      assert(lounge && other && lounge.configurationId !== other.configurationId);
      const switching = async () =>
        new Map(
          (await stripe.listPortalConfigurations()).map((configuration) => [
            configuration.id,
            configuration.features.subscription_update.products.flatMap((p) => p.prices).sort(),
          ]),
        );
      const offered = await switching();
      assertEquals(offered.get(lounge.configurationId), [gold, silver].sort(), "no pass");
      assertEquals(offered.get(other.configurationId), [red, blue].sort());

      const [again] = await apply([gold]);
      assertEquals(again?.configurationId, lounge.configurationId, "updated, not created again");
      const [configuration] = (await stripe.listPortalConfigurations()).filter((c) =>
        c.id === lounge.configurationId
      );
      assertEquals(configuration?.features.subscription_update.enabled, false, "one plan");
    });
  } finally {
    await double.close();
  }
});

Deno.test("an apply that crashed before storing its portal configuration reuses it", async () => {
  const double = await startStripeDouble({ secretKey: KEY });
  try {
    await withTestDatabase(async (db) => {
      const price = (name: string) =>
        double.createPrice({ unitAmount: 500, currency: "jpy", productName: name }).id;
      const example = JSON.parse(exampleText);
      const [template] = example.guilds;
      const [plan] = template.plans;
      const parsed = parsePlansFile(JSON.stringify({
        guilds: [{
          ...template,
          plans: [price("Gold"), price("Silver")].map((id, i) => ({
            ...plan,
            stripe_price_id: id,
            sort_order: i,
          })),
        }],
      }));
      assert(parsed.ok, JSON.stringify(parsed));
      const stripe = connectStripe(KEY, double.url);
      await applyPlansFile(db.sql, parsed.file, await fetchPriceTerms(stripe, parsed.file));
      const save = () => saveGuildPortalConfigurations(db.sql, stripe, [template.id]);
      const guildConfigurations = async () =>
        (await stripe.listPortalConfigurations()).filter((c) => !c.is_default).map((c) => c.id);

      // Stripe creates the configuration, then every answer is lost (the SDK's retries included).
      double.inject({
        method: "POST",
        path: "/v1/billing_portal/configurations",
        drop: true,
        dropPhase: "after",
      });
      await rejects(save);
      assertEquals((await guildConfigurations()).length, 1, "created before the crash");
      const [stored] = await db
        .sql`select stripe_portal_configuration_id as id from rolepass.guilds`;
      assertEquals(stored?.id, null, "never stored");

      double.clearFaults();
      const [saved] = await save();
      assertEquals(await guildConfigurations(), [saved?.configurationId], "the same one");
    });
  } finally {
    await double.close();
  }
});
