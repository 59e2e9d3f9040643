/**
 * `deno task doctor`'s plan-switching check against the Stripe double: the Customer Portal must
 * let a guild's members switch between exactly its active subscription prices, through the real
 * gateway (the portal configuration's `products` expanded) and the real check.
 */
import { assertEquals } from "../harness/assert.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { fetchStripeFacts } from "../../functions/_cli/doctor/stripe_facts.ts";
import { checkPortalPlanSwitching } from "../../functions/_cli/doctor/stripe_portal_check.ts";
import type { ConfiguredGuild } from "../../functions/_cli/doctor/configured_plans.ts";
import type { Finding } from "../../functions/_cli/doctor/finding.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";

const KEY = "sk_test_doctorPortalSwitching";

function guild(
  id: string,
  name: string,
  priceIds: string[],
  portalConfigurationId: string | null = null,
): ConfiguredGuild {
  return {
    id,
    name,
    automaticTax: false,
    portalConfigurationId,
    plans: priceIds.map((stripePriceId) => ({
      stripePriceId,
      discordRoleId: "1200000000000000001",
      name: stripePriceId,
      unitAmount: 500,
      currency: "jpy",
      billingInterval: "month",
      intervalCount: 1,
      access: null,
    })),
  };
}

async function check(double: StripeDouble, guilds: ConfiguredGuild[]): Promise<Finding[]> {
  const stripe = connectStripe(KEY, double.url, { maxNetworkRetries: 0 });
  const priceIds = guilds.flatMap((each) => each.plans.map((plan) => plan.stripePriceId));
  return checkPortalPlanSwitching(await fetchStripeFacts(stripe, priceIds), guilds);
}

async function withDouble(fn: (double: StripeDouble) => Promise<void>) {
  const double = await startStripeDouble({ secretKey: KEY });
  try {
    await fn(double);
  } finally {
    await double.close();
  }
}

const price = (double: StripeDouble, name: string) =>
  double.createPrice({ unitAmount: 500, currency: "jpy", productName: name }).id;

Deno.test("doctor passes a portal that switches between exactly the guild's prices", async () => {
  await withDouble(async (double) => {
    const gold = price(double, "Gold");
    const silver = price(double, "Silver");
    double.configurePortalPlanSwitching({
      enabled: true,
      prices: [gold, silver],
      prorationBehavior: "create_prorations",
    });
    const findings = await check(double, [guild("1100000000000000001", "Lounge", [gold, silver])]);
    assertEquals(findings.map((f) => f.status), ["pass"]);
    assertEquals(findings[0]?.message.includes("proration: create_prorations"), true);
  });
});

Deno.test("doctor fails a portal that misses a guild's price or offers another guild's or a stray one", async () => {
  await withDouble(async (double) => {
    const gold = price(double, "Gold");
    const silver = price(double, "Silver");
    const otherGuilds = price(double, "Other server");
    const stray = price(double, "Not a plan");
    double.configurePortalPlanSwitching({ enabled: true, prices: [gold, otherGuilds, stray] });
    const lounge = guild("1100000000000000001", "Lounge", [gold, silver]);
    const other = guild("1100000000000000002", "Other", [otherGuilds]);
    const [forLounge, forOther] = await check(double, [lounge, other]);
    assertEquals(forLounge?.status, "fail");
    assertEquals(forLounge?.message.includes(`does not offer ${silver}`), true);
    assertEquals(forLounge?.message.includes(`offers ${otherGuilds}, a plan of Other`), true);
    assertEquals(forLounge?.message.includes(`offers ${stray}, which no active plan sells`), true);
    assertEquals(forLounge?.fix?.includes(`list exactly ${gold}, ${silver}`), true);
    assertEquals(forOther?.status, "fail", "the other guild's members would see Lounge's prices");
  });
});

Deno.test("doctor warns when a guild with several plans cannot switch in the portal, and ignores a one-time pass", async () => {
  await withDouble(async (double) => {
    const gold = price(double, "Gold");
    const silver = price(double, "Silver");
    const pass = double.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false }).id;
    const findings = await check(double, [
      guild("1100000000000000001", "Lounge", [gold, silver]),
      guild("1100000000000000003", "Single", [pass]),
    ]);
    assertEquals(findings.map((f) => [f.status, f.message.includes("Lounge")]), [["warn", true]]);

    double.configurePortalPlanSwitching({ enabled: true, prices: [gold, silver] });
    const enabled = await check(double, [
      guild("1100000000000000001", "Lounge", [gold, silver, pass]),
    ]);
    assertEquals(enabled.map((f) => f.status), ["pass"], "the pass is not a price to switch to");
  });
});

Deno.test("doctor passes two guilds on one account, each switching in a portal configuration of its own", async () => {
  await withDouble(async (double) => {
    const gold = price(double, "Gold");
    const silver = price(double, "Silver");
    const red = price(double, "Red");
    const blue = price(double, "Blue");
    const stripe = connectStripe(KEY, double.url, { maxNetworkRetries: 0 });
    const lounge = await stripe.saveGuildPortalConfiguration({
      configurationId: null,
      guildId: "1100000000000000001",
      priceIds: [gold, silver],
    });
    const other = await stripe.saveGuildPortalConfiguration({
      configurationId: null,
      guildId: "1100000000000000002",
      priceIds: [red, blue],
    });
    const guilds = [
      guild("1100000000000000001", "Lounge", [gold, silver], lounge),
      guild("1100000000000000002", "Other", [red, blue], other),
    ];
    assertEquals((await check(double, guilds)).map((f) => f.status), ["pass", "pass"]);

    const gone = guild("1100000000000000003", "Gone", [gold], "bpc_doesNotExist000");
    const [missing] = await check(double, [gone]);
    assertEquals(missing?.status, "fail");
    assertEquals(missing?.message.includes("bpc_doesNotExist000"), true);
  });
});
