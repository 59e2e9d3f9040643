import { assert, assertEquals } from "../harness/assert.ts";
import { describeSources, startupBanner } from "../../functions/_cli/dev/banner.ts";

const LIVE_FACTS = {
  mode: "live" as const,
  url: "http://127.0.0.1:8787",
  database: "postgresql://postgres:****@127.0.0.1:5432/rolepass",
  functions: ["discord-interactions"],
};

Deno.test("credentials that all came from one place are said to come from there", () => {
  assertEquals(describeSources({ A: ".env", B: ".env" }), "from .env");
  assertEquals(describeSources({ A: "environment", B: "environment" }), "from the environment");
  assertEquals(
    describeSources({ A: "environment", B: ".env", C: ".env" }),
    "from the environment (A) and .env (B, C)",
  );
});

Deno.test("a public PUBLIC_SITE_URL in live mode gives no localhost warning", () => {
  const banner = startupBanner({
    ...LIVE_FACTS,
    credentialSources: { STRIPE_SECRET_KEY: "environment" },
    publicSiteUrl: "https://rolepass.example",
  });
  assert(banner.includes("rolepass dev runner: live credentials from the environment"), banner);
  assert(!banner.includes("!!!"), banner);
});

Deno.test("a PUBLIC_SITE_URL set to this machine in live mode is warned about, naming it", () => {
  const banner = startupBanner({
    ...LIVE_FACTS,
    credentialSources: { STRIPE_SECRET_KEY: ".env" },
    publicSiteUrl: "http://localhost:8787",
  });
  assert(banner.includes("PUBLIC_SITE_URL is http://localhost:8787, an address on this machine"));
});

Deno.test("the sandbox has no members to mislead, so it gives no localhost warning", () => {
  const banner = startupBanner({ ...LIVE_FACTS, mode: "sandbox" });
  assert(!banner.includes("!!!"), banner);
});
