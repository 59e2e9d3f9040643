/**
 * `deno task plans:apply` sells passes, promotion codes and Stripe Tax: a one-time price with an
 * access is stored as a pass, the guild's tax setting and each plan's promotion codes are written,
 * and every price that does not fit its plan is refused at its path, writing nothing.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { startStripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { runPlansApply } from "../../functions/_cli/plans_apply.ts";

const STRIPE_KEY = "sk_test_plansApplyPassesKey";
const example = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

async function withApply(
  fn: (
    context: {
      apply(json: unknown): Promise<{ code: number; out: string }>;
      stripe: Awaited<ReturnType<typeof startStripeDouble>>;
      db: Parameters<Parameters<typeof withTestDatabase>[0]>[0];
    },
  ) => Promise<void>,
) {
  const stripe = await startStripeDouble({ secretKey: STRIPE_KEY });
  const dir = await Deno.makeTempDir({ prefix: "rolepass_plans_passes_" });
  try {
    await withTestDatabase(async (db) => {
      let runs = 0;
      await fn({
        stripe,
        db,
        async apply(json) {
          const path = `${dir}/plans_${runs++}.json`;
          await Deno.writeTextFile(path, JSON.stringify(json));
          const lines: string[] = [];
          const code = await runPlansApply([path], {
            DATABASE_URL: db.url,
            STRIPE_SECRET_KEY: STRIPE_KEY,
            STRIPE_API_BASE_URL: stripe.url,
          }, { info: (line) => lines.push(line), error: (line) => lines.push(line) });
          return { code, out: lines.join("\n") };
        },
      });
    });
  } finally {
    await stripe.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a one-time price with an access is stored as a pass, with tax and promotion codes", async () => {
  await withApply(async ({ apply, stripe, db }) => {
    const monthly = stripe.createPrice({
      unitAmount: 500,
      currency: "jpy",
      interval: "month",
      taxBehavior: "inclusive",
    });
    const pass = stripe.createPrice({
      unitAmount: 3000,
      currency: "jpy",
      recurring: false,
      taxBehavior: "inclusive",
    });
    const json = JSON.parse(example);
    json.guilds[0].promotion_codes = true;
    json.guilds[0].tax = { automatic: true, billing_address_collection: "required" };
    json.guilds[0].plans[0].stripe_price_id = monthly.id;
    json.guilds[0].plans[0].promotion_codes = false;
    json.guilds[0].plans[1].stripe_price_id = pass.id;
    json.guilds[0].plans[1].access = "P30D";
    const { code, out } = await apply(json);
    assertEquals(code, 0, out);
    const plans = await db.sql<
      {
        stripe_price_id: string;
        access_kind: string;
        access_days: number | null;
        billing_interval: string | null;
        allow_promotion_codes: boolean;
        tax_behavior: string;
      }[]
    >`
      select stripe_price_id, access_kind, (extract(epoch from access_duration) / 86400)::int as access_days,
        billing_interval, allow_promotion_codes, tax_behavior
      from rolepass.plans order by sort_order, created_at`;
    const byPrice = new Map(plans.map((plan) => [plan.stripe_price_id, plan]));
    assertEquals(byPrice.get(monthly.id), {
      stripe_price_id: monthly.id,
      access_kind: "subscription",
      access_days: null,
      billing_interval: "month",
      allow_promotion_codes: false,
      tax_behavior: "inclusive",
    });
    assertEquals(byPrice.get(pass.id), {
      stripe_price_id: pass.id,
      access_kind: "duration",
      access_days: 30,
      billing_interval: null,
      allow_promotion_codes: true,
      tax_behavior: "inclusive",
    });
    const [guild] = await db.sql<{ automatic_tax: boolean; billing_address_collection: string }[]>`
      select automatic_tax, billing_address_collection from rolepass.guilds`;
    assertEquals(guild, { automatic_tax: true, billing_address_collection: "required" });
  });
});

Deno.test("a price that does not fit its plan is refused at its path and nothing is written", async () => {
  await withApply(async ({ apply, stripe, db }) => {
    const monthly = stripe.createPrice({ unitAmount: 500, currency: "jpy", interval: "month" });
    const oneTime = stripe.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const json = JSON.parse(example);
    json.guilds[0].tax = { automatic: true, billing_address_collection: "auto" };
    json.guilds[0].plans[0].stripe_price_id = monthly.id;
    json.guilds[0].plans[0].access = "P30D";
    json.guilds[0].plans[1].stripe_price_id = oneTime.id;
    const { code, out } = await apply(json);
    assertEquals(code, 1, out);
    assert(out.includes(`guilds[0].plans[0].access: price ${monthly.id} is recurring`), out);
    assert(out.includes(`guilds[0].plans[1].stripe_price_id: price ${oneTime.id} is a one-time`));
    assert(out.includes(`guilds[0].plans[0].stripe_price_id: price ${monthly.id} does not say`));
    const [count] = await db.sql<
      { plans: number }[]
    >`select count(*)::int as plans from rolepass.plans`;
    assertEquals(count?.plans, 0);
  });
});
