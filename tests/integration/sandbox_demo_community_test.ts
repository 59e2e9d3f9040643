/**
 * The sandbox's demo community sells what a newcomer should see: a monthly subscription and a
 * one-time 30-day pass of the same role, in the doubles and in the database.
 */
import { assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { startDiscordDouble } from "../doubles/discord.ts";
import { startStripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { seedDemoCommunity } from "../../functions/_cli/dev/sandbox/demo_community.ts";

Deno.test("the sandbox sells a monthly plan and, after it, a 30-day pass of the same role", async () => {
  const discord = await startDiscordDouble({ botToken: "sandbox-bot-token-for-the-demo-test" });
  const stripe = await startStripeDouble({ secretKey: "sk_test_sandboxDemo" });
  try {
    await withTestDatabase(async (db) => {
      const community = await seedDemoCommunity({ discord, stripe, sql: db.sql });
      const plans = await db.sql<
        {
          stripe_price_id: string;
          discord_role_id: string;
          billing_interval: string | null;
          access_kind: string;
          access_days: number | null;
          unit_amount: number;
        }[]
      >`
        select stripe_price_id, discord_role_id, billing_interval, access_kind,
          extract(day from access_duration)::int as access_days, unit_amount
        from rolepass.plans where guild_id = ${community.guildId}
        order by sort_order`;
      assertEquals(plans.map((plan) => [plan.stripe_price_id, plan.access_kind]), [
        [community.priceId, "subscription"],
        [community.passPriceId, "duration"],
      ]);
      const [, pass] = plans;
      assertEquals(
        [pass?.discord_role_id, pass?.billing_interval, pass?.access_days, pass?.unit_amount],
        [community.roleId, null, 30, 3000],
      );
      assertEquals(stripe.get<{ type: string }>(community.passPriceId)?.type, "one_time");
    });
  } finally {
    await discord.close();
    await stripe.close();
  }
});
