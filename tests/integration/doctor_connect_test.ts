/**
 * `deno task doctor` in platform mode, against the Stripe double with Connect and a migrated
 * database: the Connect endpoint's secret and webhook endpoint, the platform endpoint's money
 * events, and each selling guild's connected account (onboarding, charges, payouts, what is due
 * and by when, the platform fee). Standalone deployments get no Connect finding.
 */
import assert from "node:assert/strict";
import type { Finding } from "../../functions/_cli/doctor/finding.ts";
import { runDoctor } from "../../functions/_cli/doctor/run.ts";
import { setGuildSellerPolicy } from "../../functions/_shared/guild_stripe_accounts.ts";
import { HANDLED_EVENT_TYPES } from "../../functions/_core/stripe_shapes.ts";
import { type ConnectWorld, createConnectWorld } from "./connect_world.ts";

const SUPABASE_URL = "https://abcdefghijklmnop.supabase.co";
const PLATFORM_URL = `${SUPABASE_URL}/functions/v1/stripe-webhook`;
const CONNECT_URL = `${PLATFORM_URL}/connect`;
const MONEY_EVENTS = [
  "transfer.created",
  "transfer.reversed",
  "application_fee.created",
  "application_fee.refunded",
];

async function withWorld(fn: (world: ConnectWorld) => Promise<void>) {
  const world = await createConnectWorld();
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}

async function connectFindings(
  world: ConnectWorld,
  env: Record<string, string | undefined> = {},
): Promise<Finding[]> {
  const findings = await runDoctor({ ...world.env, SUPABASE_URL, ...env });
  return findings.filter((f) =>
    f.check === "stripe.connect" || f.check === "stripe.connect_accounts"
  );
}

function about(findings: Finding[], text: string | RegExp): Finding[] {
  return findings.filter((f) =>
    typeof text === "string" ? f.message.includes(text) : text.test(f.message)
  );
}

function addEndpoints(world: ConnectWorld, options: { moneyEvents?: boolean } = {}) {
  world.stripeDouble.createWebhookEndpoint({
    url: PLATFORM_URL,
    enabled_events: [
      ...HANDLED_EVENT_TYPES,
      ...(options.moneyEvents === false ? [] : MONEY_EVENTS),
    ],
  });
  world.stripeDouble.connect.createConnectEndpoint({
    url: CONNECT_URL,
    enabled_events: ["account.updated"],
  });
}

Deno.test("a guild that sells through an account that cannot take charges fails the doctor", async () => {
  await withWorld(async (world) => {
    addEndpoints(world);
    const findings = await connectFindings(world);
    for (const guild of [world.a, world.b]) {
      const [finding] = about(findings, `(${guild.guildId}) sells, but its account`);
      assert.equal(finding?.status, "fail", JSON.stringify(findings));
      assert.match(finding?.message ?? "", /cannot take charges: onboarding is not finished/);
      assert.match(finding?.fix ?? "", new RegExp(`connect -- onboard --guild ${guild.guildId}`));
    }
    assert.equal(about(findings, "Connect webhook endpoint")[0]?.status, "pass");
    assert.equal(about(findings, "transfers and platform fees")[0]?.status, "pass");
    assert.equal(about(findings, "secret is set")[0]?.status, "pass");
  });
});

Deno.test("a guild whose account takes charges passes; what is due, and by when, is a warning", async () => {
  await withWorld(async (world) => {
    addEndpoints(world);
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    world.stripeDouble.connect.completeOnboarding(world.b.accountId);
    const deadline = new Date("2027-01-15T00:00:00Z");
    world.stripeDouble.connect.requireInformationBy(
      world.b.accountId,
      ["individual.verification.document"],
      deadline,
    );
    await setGuildSellerPolicy(world.db.sql, world.a.guildId, { platformFeePercent: 0 });
    const findings = await connectFindings(world);
    assert.deepEqual(findings.filter((f) => f.status === "fail"), [], JSON.stringify(findings));
    const [sellsA] = about(findings, `(${world.a.guildId}) sells through ${world.a.accountId}`);
    assert.equal(sellsA?.status, "pass");
    const [dueB] = about(findings, "Stripe needs individual.verification.document");
    assert.equal(dueB?.status, "warn");
    assert.match(dueB?.message ?? "", new RegExp(world.b.guildId));
    assert.match(dueB?.message ?? "", /by 2027-01-15T00:00:00\.000Z/);
    const [zeroFee] = about(findings, "the platform fee is 0%");
    assert.equal(zeroFee?.status, "warn");
    assert.match(zeroFee?.message ?? "", new RegExp(world.a.guildId));
  });
});

Deno.test("a restricted account, a guild without one and missing endpoints fail with the fix", async () => {
  await withWorld(async (world) => {
    world.stripeDouble.createWebhookEndpoint({
      url: PLATFORM_URL,
      enabled_events: [...HANDLED_EVENT_TYPES],
    });
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    world.stripeDouble.connect.requireInformation(world.a.accountId, ["external_account"]);
    await world.db.sql`
      delete from rolepass.guild_stripe_accounts where guild_id = ${world.b.guildId}`;
    const findings = await connectFindings(world);
    const [restricted] = about(findings, `(${world.a.guildId}) sells, but its account`);
    assert.equal(restricted?.status, "fail");
    assert.match(restricted?.message ?? "", /Stripe needs external_account/);
    const [none] = about(findings, "has no connected account");
    assert.equal(none?.status, "fail");
    assert.match(none?.message ?? "", new RegExp(world.b.guildId));
    const [endpoint] = about(findings, "No enabled Stripe webhook endpoint listening");
    assert.equal(endpoint?.status, "fail");
    assert.match(endpoint?.fix ?? "", new RegExp(CONNECT_URL.replaceAll("/", "\\/")));
    const [money] = about(findings, "transfers and platform fees would be missing");
    assert.equal(money?.status, "fail");
    assert.match(money?.message ?? "", /transfer\.created, transfer\.reversed/);
  });
});

Deno.test("platform mode without the Connect secret fails; standalone mode has no Connect finding", async () => {
  await withWorld(async (world) => {
    addEndpoints(world);
    const withoutSecret = await connectFindings(world, {
      STRIPE_CONNECT_WEBHOOK_SECRET: undefined,
    });
    const [settings] = about(withoutSecret, "settings are unusable");
    assert.equal(settings?.status, "fail");
    assert.match(settings?.message ?? "", /STRIPE_CONNECT_WEBHOOK_SECRET/);

    const standalone = await connectFindings(world, {
      ROLEPASS_STRIPE_MODE: "standalone",
      STRIPE_CONNECT_WEBHOOK_SECRET: undefined,
    });
    assert.deepEqual(standalone, []);
  });
});

Deno.test("members whose live subscriptions pay the platform alone, from standalone days, are a warning", async () => {
  await withWorld(async (world) => {
    addEndpoints(world);
    // A member who subscribed while the deployment was standalone: the subscription pays the
    // platform alone. Another pays guild A's account, as platform mode's Checkout makes it.
    const early = world.stripeDouble.createForeignSubscription({ priceId: world.a.priceId });
    const late = world.stripeDouble.connect.redirectSubscription(
      world.stripeDouble.createForeignSubscription({ priceId: world.a.priceId }).id,
      world.a.accountId,
    );
    for (
      const [member, subscription] of [["200000000000000041", early], [
        "200000000000000042",
        late,
      ]] as const
    ) {
      await world.db.sql`
        insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
          stripe_subscription_id, plan_id, status, entitled, entitled_role_id, subscription_live,
          change_cause)
        values (${world.a.guildId}, ${member}, ${String(subscription.customer)},
          ${subscription.id}, ${world.a.planId}, 'active', true, ${world.a.roleId}, true, 'test')`;
    }
    const findings = await connectFindings(world);
    const [standalone] = about(findings, "pay the platform alone or another account");
    assert.equal(standalone?.status, "warn", JSON.stringify(findings));
    assert.match(standalone?.message ?? "", new RegExp(`\\(${world.a.guildId}\\): 1 of 2 member`));
    assert.match(standalone?.fix ?? "", /ROLEPASS_STRIPE_MODE=standalone/);
    assert.equal(about(findings, new RegExp(`${world.b.guildId}.*platform alone`)).length, 0);
  });
});
