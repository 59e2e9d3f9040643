/**
 * One definition of each variable: the dev runner, `deno task doctor` and the functions'
 * `loadConfig` accept and refuse the same values.
 */
import { assertEquals } from "../harness/assert.ts";
import { DevConfigError, loadDevSettings } from "../../functions/_cli/dev/settings.ts";
import { checkEnvironment } from "../../functions/_cli/doctor/env_check.ts";
import { loadConfig as loadRoleSyncConfig } from "../../functions/role-sync/config.ts";
import { loadConfig as loadWebhookConfig } from "../../functions/stripe-webhook/config.ts";
import { loadConfig as loadCheckoutConfig } from "../../functions/checkout/config.ts";

const LIVE = {
  DISCORD_PUBLIC_KEY: "a".repeat(64),
  DISCORD_APPLICATION_ID: "123456789012345678",
  DISCORD_BOT_TOKEN: "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.fake-bot-token-for-tests",
  STRIPE_SECRET_KEY: "sk_test_51FakeKeyForTests",
  STRIPE_WEBHOOK_SECRET: "whsec_FakeSecretForTests",
  ROLE_SYNC_SECRET: "r".repeat(40),
  PUBLIC_SITE_URL: "https://rolepass.example",
  DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres",
};

function devAccepts(name: string, value: string): boolean {
  try {
    loadDevSettings({ ...LIVE, [name]: value });
    return true;
  } catch (error) {
    if (error instanceof DevConfigError) return false;
    throw error;
  }
}

function doctorAccepts(name: string, value: string): boolean {
  const { findings } = checkEnvironment({ ...LIVE, [name]: value });
  return !findings.some((finding) => finding.status === "fail" && finding.message.startsWith(name));
}

function accepts(load: (env: Record<string, string>) => unknown, name: string, value: string) {
  try {
    load({ ...LIVE, [name]: value });
    return true;
  } catch {
    return false;
  }
}

const CASES: { name: string; value: string; valid: boolean }[] = [
  { name: "ROLE_SYNC_SECRET", value: "s".repeat(20), valid: false },
  { name: "ROLE_SYNC_SECRET", value: "s".repeat(32), valid: true },
  { name: "STRIPE_WEBHOOK_SECRET", value: "whsec_rolepass_test_secret_0001", valid: true },
  { name: "STRIPE_WEBHOOK_SECRET", value: "whsec_new_1, whsec_old_0", valid: true },
  { name: "STRIPE_WEBHOOK_SECRET", value: "whsec_abc,", valid: false },
  { name: "STRIPE_WEBHOOK_SECRET", value: "sk_test_abc", valid: false },
  { name: "STRIPE_SECRET_KEY", value: "rk_live_with_underscores", valid: true },
  { name: "STRIPE_SECRET_KEY", value: "pk_test_publishable", valid: false },
  { name: "DISCORD_BOT_TOKEN", value: "sandbox-bot-token.abcdefghijklmnopqrst", valid: true },
  { name: "DISCORD_BOT_TOKEN", value: `Bot ${LIVE.DISCORD_BOT_TOKEN}`, valid: false },
];

const FUNCTIONS_READING: Record<string, ((env: Record<string, string>) => unknown)[]> = {
  ROLE_SYNC_SECRET: [loadRoleSyncConfig],
  STRIPE_WEBHOOK_SECRET: [loadWebhookConfig],
  STRIPE_SECRET_KEY: [loadWebhookConfig, loadCheckoutConfig],
  DISCORD_BOT_TOKEN: [loadRoleSyncConfig],
};

for (const { name, value, valid } of CASES) {
  Deno.test(`dev, doctor and the functions all ${valid ? "accept" : "refuse"} ${name}="${value}"`, () => {
    assertEquals(devAccepts(name, value), valid, "dev runner");
    assertEquals(doctorAccepts(name, value), valid, "doctor");
    for (const load of FUNCTIONS_READING[name] ?? []) {
      assertEquals(accepts(load, name, value), valid, `${load.name} of a function`);
    }
  });
}
