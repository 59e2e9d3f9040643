import { assertEquals, assertRejects } from "../harness/assert.ts";
import { ConfigError } from "../../functions/_shared/env.ts";
import { loadConfig as loadCheckoutConfig } from "../../functions/checkout/config.ts";
import { loadConfig as loadPlanPageConfig } from "../../functions/plan-page/config.ts";

const checkoutEnv = {
  STRIPE_SECRET_KEY: "sk_test_123abc",
  PUBLIC_SITE_URL: "https://plans.rolepass.test/",
  SUPABASE_DB_URL: "postgresql://postgres:pw@db.example.supabase.co:5432/postgres",
  DATABASE_URL: "postgresql://local/ignored",
};

Deno.test("the checkout function reads its four settings, preferring SUPABASE_DB_URL", () => {
  assertEquals(loadCheckoutConfig(checkoutEnv), {
    stripeSecretKey: "sk_test_123abc",
    stripeApiBaseUrl: "https://api.stripe.com",
    publicSiteUrl: "https://plans.rolepass.test",
    databaseUrl: checkoutEnv.SUPABASE_DB_URL,
    stripeMode: "standalone",
  });
  const local = loadCheckoutConfig({
    ...checkoutEnv,
    SUPABASE_DB_URL: undefined,
    STRIPE_API_BASE_URL: "http://127.0.0.1:12111",
  });
  assertEquals(local.databaseUrl, "postgresql://local/ignored");
  assertEquals(local.stripeApiBaseUrl, "http://127.0.0.1:12111");
});

Deno.test("a missing or malformed checkout setting fails at boot, naming the variable", async () => {
  await assertRejects(
    () => Promise.resolve().then(() => loadCheckoutConfig({ PUBLIC_SITE_URL: "not a url" })),
    ConfigError,
    "STRIPE_SECRET_KEY is missing",
  );
  for (const name of ["PUBLIC_SITE_URL is invalid", "DATABASE_URL is missing"]) {
    await assertRejects(
      () => Promise.resolve().then(() => loadCheckoutConfig({ PUBLIC_SITE_URL: "not a url" })),
      ConfigError,
      name,
    );
  }
  await assertRejects(
    () =>
      Promise.resolve().then(() =>
        loadCheckoutConfig({ ...checkoutEnv, STRIPE_SECRET_KEY: "pk_test_publishable" })
      ),
    ConfigError,
    "STRIPE_SECRET_KEY is invalid",
  );
});

Deno.test("the plan page needs only the Supabase URL, the publishable key and its own URL", async () => {
  assertEquals(
    loadPlanPageConfig({
      SUPABASE_URL: "https://abc.supabase.co/",
      SUPABASE_PUBLISHABLE_KEY: "sb_publishable_abc",
      PUBLIC_SITE_URL: "https://plans.rolepass.test",
    }),
    {
      supabaseUrl: "https://abc.supabase.co",
      supabasePublishableKey: "sb_publishable_abc",
      publicSiteUrl: "https://plans.rolepass.test",
      port: 8000,
    },
  );
  await assertRejects(
    () => Promise.resolve().then(() => loadPlanPageConfig({ PORT: "80" })),
    ConfigError,
    "SUPABASE_PUBLISHABLE_KEY is missing",
  );
});
