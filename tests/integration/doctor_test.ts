/**
 * `deno task doctor` against the Stripe and Discord doubles and a real migrated PostgreSQL: a
 * correct setup passes, and each check detects its misconfiguration with the right message.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { type DiscordDouble, startDiscordDouble } from "../doubles/discord.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { doctorCommand } from "../../functions/_cli/doctor.ts";
import type { Finding } from "../../functions/_cli/doctor/finding.ts";
import { runDoctor } from "../../functions/_cli/doctor/run.ts";
import {
  botPermissions,
  ranksAbove,
} from "../../functions/_cli/doctor/discord_permissions_check.ts";
import { missingEvents } from "../../functions/_cli/doctor/stripe_webhook_check.ts";
import { applyPlansFile, fetchPriceTerms } from "../../functions/_cli/plans_apply.ts";
import { parsePlansFile } from "../../functions/_core/plans_file.ts";
import { connectStripe, createStripeClient } from "../../functions/_shared/stripe_gateway.ts";
import { HANDLED_EVENT_TYPES } from "../../functions/_core/stripe_shapes.ts";

const GUILD_ID = "1187654321098765432";
const SUPABASE_URL = "https://abcdefghijklmnop.supabase.co";
const BOT_TOKEN = "MTE4NzY1NDMyMTA5ODc2NTQzMg.GdOubL.double-bot-token_for-the-doctor-tests";
const STRIPE_KEY = "sk_test_doctorDoubleKey123";
const ROLE_SYNC_SECRET = "role-sync-secret-for-the-doctor-tests";
const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

/** A correct setup: a guild where the bot ranks above the paid role, a recurring price, a
 * webhook endpoint with every event, the portal, plans applied and Vault filled in. */
interface Setup {
  db: TestDatabase;
  discord: DiscordDouble;
  stripe: StripeDouble;
  env: Record<string, string>;
  roleId: string;
  priceId: string;
  run(): Promise<Finding[]>;
}

async function withSetup(
  fn: (setup: Setup) => Promise<void>,
  options: { stripeKey?: string } = {},
): Promise<void> {
  const stripeKey = options.stripeKey ?? STRIPE_KEY;
  const discord = await startDiscordDouble({
    botToken: BOT_TOKEN,
    rateLimits: { enabled: false },
  });
  const stripe = await startStripeDouble({ secretKey: stripeKey });
  try {
    await withTestDatabase(async (db) => {
      discord.addGuild({ id: GUILD_ID, name: "Rolepass Lounge", botRolePosition: 10 });
      const role = discord.addRole(GUILD_ID, { name: "Supporter", position: 5 });
      const price = stripe.createPrice({ unitAmount: 500, currency: "jpy", interval: "month" });
      stripe.createWebhookEndpoint({
        url: `${SUPABASE_URL}/functions/v1/stripe-webhook`,
        enabled_events: [...HANDLED_EVENT_TYPES],
      });
      const env: Record<string, string> = {
        DATABASE_URL: db.url,
        DISCORD_APPLICATION_ID: discord.applicationId,
        DISCORD_PUBLIC_KEY: "0".repeat(64),
        DISCORD_BOT_TOKEN: BOT_TOKEN,
        DISCORD_API_BASE_URL: discord.apiBaseUrl,
        STRIPE_SECRET_KEY: stripeKey,
        STRIPE_WEBHOOK_SECRET: "whsec_doctorTestSecret",
        STRIPE_API_BASE_URL: stripe.url,
        ROLE_SYNC_SECRET,
        PUBLIC_SITE_URL: "https://rolepass.example",
        SUPABASE_URL,
        SUPABASE_PUBLISHABLE_KEY: "sb_publishable_doctorTestKey0123",
      };
      assert(env, "env is missing");
      await applyPlans(db, env, { priceId: price.id, roleId: role.id });
      await db.sql`select vault.create_secret(${`${SUPABASE_URL}/functions/v1/role-sync`},
        'role_sync_url')`;
      await db.sql`select vault.create_secret(${ROLE_SYNC_SECRET}, 'role_sync_secret')`;
      await fn({
        db,
        discord,
        stripe,
        env,
        roleId: role.id,
        priceId: price.id,
        run: () => runDoctor(env),
      });
    });
  } finally {
    await discord.close();
    await stripe.close();
  }
}

/** Applies the example plans file with one plan, for `priceId` and `roleId`, through plans:apply. */
async function applyPlans(
  db: TestDatabase,
  env: Record<string, string>,
  ids: { priceId: string; roleId: string },
): Promise<void> {
  const json = JSON.parse(exampleText);
  json.guilds[0].plans = [json.guilds[0].plans[0]];
  json.guilds[0].plans[0].stripe_price_id = ids.priceId;
  json.guilds[0].plans[0].discord_role_id = ids.roleId;
  const parsed = parsePlansFile(JSON.stringify(json));
  assert(parsed.ok);
  const secretKey = env.STRIPE_SECRET_KEY;
  assert(secretKey, "the env has STRIPE_SECRET_KEY");
  const stripe = connectStripe(secretKey, env.STRIPE_API_BASE_URL);
  await applyPlansFile(db.sql, parsed.file, await fetchPriceTerms(stripe, parsed.file));
}

function failures(findings: Finding[], check?: string): string[] {
  return findings.filter((f) => f.status === "fail" && (!check || f.check === check))
    .map((f) => f.message);
}

function assertOnlyFailure(findings: Finding[], check: string, includes: string): Finding {
  const failed = findings.filter((f) => f.status === "fail");
  assertEquals(failed.map((f) => f.check), [check], JSON.stringify(failed, null, 2));
  const [failure] = failed;
  assert(failure, `no ${check} failure`);
  assert(failure.message.includes(includes), `"${includes}" not in "${failure.message}"`);
  assert(failure.fix, "a failure comes with a fix");
  return failure;
}

Deno.test("a correct setup passes every check and exits 0", async () => {
  await withSetup(async ({ env }) => {
    const lines: string[] = [];
    const code = await doctorCommand([], env, (text) => lines.push(text));
    const report = lines.join("\n");
    assertEquals(code, 0, report);
    assert(report.includes("✓ Discord bot token is valid"), report);
    assert(report.includes("✓ The bot has Manage Roles in guild"), report);
    assert(report.includes("Nothing blocks going live"), report);
    assert(!report.includes(BOT_TOKEN) && !report.includes(STRIPE_KEY), "no secret printed");
    assert(!report.includes(ROLE_SYNC_SECRET), "the role-sync secret is not printed");

    const json: string[] = [];
    assertEquals(await doctorCommand(["--json"], env, (text) => json.push(text)), 0);
    const parsed = JSON.parse(json.join(""));
    assertEquals(parsed.ok, true);
    const checks = new Set(parsed.findings.map((f: Finding) => f.check));
    for (
      const check of [
        "env",
        "database.migrations",
        "database.plans",
        "vault.role_sync",
        "discord.token",
        "discord.guild",
        "discord.permissions",
        "discord.roles",
        "stripe.key",
        "stripe.prices",
        "stripe.webhook",
        "stripe.portal",
      ]
    ) assert(checks.has(check), `${check} was checked`);
  });
});

Deno.test("a missing variable is told to be set, a malformed one to be corrected, each with where to get it", async () => {
  await withSetup(async ({ env }) => {
    const broken = { ...env, DISCORD_PUBLIC_KEY: "", STRIPE_WEBHOOK_SECRET: "not-a-secret" };
    const findings = await runDoctor(broken);
    const env_ = findings.filter((f) => f.check === "env" && f.status === "fail");
    assertEquals(env_.map((f) => f.message), [
      "DISCORD_PUBLIC_KEY is not set",
      "STRIPE_WEBHOOK_SECRET is set but malformed (expected whsec_... (several separated by " +
      "commas while rotating))",
    ]);
    const [unset, malformed] = env_;
    assert(unset && malformed, "two env findings");
    assert(unset.fix?.startsWith("set it: "), unset.fix);
    assert(unset.fix?.includes("General Information → Public Key"));
    assert(malformed.fix?.startsWith("correct its value: "), malformed.fix);
    const lines: string[] = [];
    assertEquals(await doctorCommand([], broken, (text) => lines.push(text)), 1);
  });
});

Deno.test("a bot token Discord refuses is reported and the guild checks are skipped", async () => {
  await withSetup(async ({ env }) => {
    const findings = await runDoctor({
      ...env,
      DISCORD_BOT_TOKEN: "MTE4NzY1NDMyMTA5ODc2NTQzMg.wrong.token-discord-refuses",
    });
    assertOnlyFailure(findings, "discord.token", "Discord refused DISCORD_BOT_TOKEN (401");
    assert(findings.some((f) => f.check === "discord.guild" && f.status === "skip"));
  });
});

Deno.test("a public key of another application is reported", async () => {
  await withSetup(async ({ env }) => {
    const findings = await runDoctor({ ...env, DISCORD_PUBLIC_KEY: "ab".repeat(32) });
    assertOnlyFailure(findings, "discord.token", "DISCORD_PUBLIC_KEY is not the public key");
  });
});

Deno.test("a guild the bot is not in is reported with an invite link", async () => {
  await withSetup(async ({ env, discord }) => {
    discord.removeMember(GUILD_ID, discord.applicationId);
    const findings = await runDoctor(env);
    const failure = assertOnlyFailure(
      findings,
      "discord.guild",
      `The bot is not in guild "Rolepass Lounge" (${GUILD_ID})`,
    );
    assert(failure.fix?.includes(`client_id=${discord.applicationId}`), failure.fix);
    assert(failure.fix?.includes("permissions=268435456"), failure.fix);
  });
});

Deno.test("a bot without Manage Roles is reported", async () => {
  await withSetup(async ({ env, discord }) => {
    discord.setBotRole(GUILD_ID, { permissions: 0n });
    assertOnlyFailure(await runDoctor(env), "discord.permissions", "lacks Manage Roles");
    discord.setBotRole(GUILD_ID, { permissions: 1n << 3n });
    assertEquals(failures(await runDoctor(env)), [], "Administrator implies Manage Roles");
  });
});

Deno.test("a bot whose highest role is below a paid role is reported", async () => {
  await withSetup(async ({ env, discord, roleId }) => {
    discord.setBotRole(GUILD_ID, { position: 3 });
    assertOnlyFailure(
      await runDoctor(env),
      "discord.permissions",
      `is not above the paid role "Supporter" (${roleId})`,
    );
  });
});

Deno.test("a paid role that does not exist in the guild is reported", async () => {
  await withSetup(async ({ env, db, roleId }) => {
    const missing = "1187654321098765999";
    await db.sql`update rolepass.plans set discord_role_id = ${missing}
      where discord_role_id = ${roleId}`;
    assertOnlyFailure(
      await runDoctor(env),
      "discord.roles",
      `The role ${missing} of plan "Supporter (monthly)" does not exist`,
    );
  });
});

Deno.test("a Stripe key Stripe refuses is reported", async () => {
  await withSetup(async ({ env }) => {
    const findings = await runDoctor({ ...env, STRIPE_SECRET_KEY: "sk_test_someOtherKey" });
    assertOnlyFailure(findings, "stripe.key", "Stripe refused STRIPE_SECRET_KEY (401)");
  });
});

Deno.test("a missing, one-time or archived price is reported", async () => {
  await withSetup(async ({ env, db, stripe, priceId }) => {
    await db.sql`update rolepass.plans set stripe_price_id = 'price_doesNotExist'`;
    assertOnlyFailure(
      await runDoctor(env),
      "stripe.prices",
      "The price price_doesNotExist of plan",
    );

    const oneTime = stripe.createPrice({ unitAmount: 500, currency: "jpy", recurring: false });
    await db.sql`update rolepass.plans set stripe_price_id = ${oneTime.id}`;
    assertOnlyFailure(await runDoctor(env), "stripe.prices", "is a one-time price");

    // The double has no control to archive a price; answer as Stripe does for an archived one.
    await db.sql`update rolepass.plans set stripe_price_id = ${priceId}`;
    const archived = { ...stripe.createPrice({ unitAmount: 500, currency: "jpy" }), active: false };
    await db.sql`update rolepass.plans set stripe_price_id = ${archived.id}`;
    stripe.inject({
      method: "GET",
      path: `/v1/prices/${archived.id}`,
      status: 200,
      body: archived,
    });
    assertOnlyFailure(await runDoctor(env), "stripe.prices", "is archived (inactive) in Stripe");
  });
});

Deno.test("a guild selling a 30-day pass beside its subscription passes the price checks", async () => {
  await withSetup(async ({ env, db, stripe, priceId, roleId }) => {
    const pass = stripe.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const json = JSON.parse(exampleText);
    const [monthly] = json.guilds[0].plans;
    json.guilds[0].plans = [
      { ...monthly, stripe_price_id: priceId, discord_role_id: roleId },
      { ...monthly, stripe_price_id: pass.id, discord_role_id: roleId, access: "P30D" },
    ];
    const parsed = parsePlansFile(JSON.stringify(json));
    assert(parsed.ok, JSON.stringify(parsed));
    const client = connectStripe(STRIPE_KEY, env.STRIPE_API_BASE_URL);
    await applyPlansFile(db.sql, parsed.file, await fetchPriceTerms(client, parsed.file));

    const findings = await runDoctor(env);
    assertEquals(failures(findings), []);
    const prices = findings.filter((f) => f.check === "stripe.prices").map((f) => f.message);
    assertEquals(prices.length, 2, JSON.stringify(prices));
    assert(
      prices.some((m) => m.includes(pass.id) && m.includes("3000 JPY once, for 30 days")),
      JSON.stringify(prices),
    );

    await db.sql`update rolepass.plans set unit_amount = 2500 where stripe_price_id = ${pass.id}`;
    assertOnlyFailure(
      await runDoctor(env),
      "stripe.prices",
      "shows 2500 JPY once, for 30 days for plan",
    );
  });
});

Deno.test("a plan whose Stripe amount changed since plans:apply is reported", async () => {
  await withSetup(async ({ env, db }) => {
    await db.sql`update rolepass.plans set unit_amount = 800`;
    assertOnlyFailure(
      await runDoctor(env),
      "stripe.prices",
      "shows 800 JPY every month for plan",
    );
  });
});

Deno.test("a missing webhook endpoint and one without every event are reported", async () => {
  await withSetup(async ({ env, stripe }) => {
    const elsewhere = { ...env, SUPABASE_URL: "https://otherproject0000.supabase.co" };
    const failure = assertOnlyFailure(
      await runDoctor(elsewhere),
      "stripe.webhook",
      "No Stripe webhook endpoint points at " +
        "https://otherproject0000.supabase.co/functions/v1/stripe-webhook",
    );
    assert(failure.fix?.includes("charge.dispute.created"), failure.fix);

    stripe.createWebhookEndpoint({
      url: "https://otherproject0000.supabase.co/functions/v1/stripe-webhook",
      enabled_events: ["checkout.session.completed", "customer.subscription.deleted"],
    });
    assertOnlyFailure(
      await runDoctor(elsewhere),
      "stripe.webhook",
      "does not send customer.subscription.created, customer.subscription.updated",
    );
  });
});

Deno.test("a disabled webhook endpoint is reported", async () => {
  await withSetup(async ({ env, stripe }) => {
    // The double cannot disable an endpoint; answer the list as Stripe would with it disabled.
    const endpoint = stripe.createWebhookEndpoint({
      url: "https://disabled0000000000.supabase.co/functions/v1/stripe-webhook",
    });
    const { secret: _secret, ...listed } = { ...endpoint, status: "disabled" };
    stripe.inject({
      method: "GET",
      path: "/v1/webhook_endpoints",
      status: 200,
      body: { object: "list", data: [listed], has_more: false, url: "/v1/webhook_endpoints" },
    });
    const findings = await runDoctor({
      ...env,
      SUPABASE_URL: "https://disabled0000000000.supabase.co",
    });
    assertOnlyFailure(findings, "stripe.webhook", "is disabled");
  });
});

Deno.test("a Customer Portal without saved settings is reported", async () => {
  await withSetup(async ({ env, stripe }) => {
    stripe.configurePortal(false);
    assertOnlyFailure(
      await runDoctor(env),
      "stripe.portal",
      "The Stripe Customer Portal is not configured",
    );
  });
});

Deno.test("a database missing a migration is reported with the version", async () => {
  await withSetup(async ({ env, db }) => {
    const { version } = first(
      await db.sql<{ version: string }[]>`
      delete from supabase_migrations.schema_migrations
      where version = (select max(version) from supabase_migrations.schema_migrations)
      returning version`,
      "a row",
    );
    assertOnlyFailure(await runDoctor(env), "database.migrations", `migrations: ${version}`);
    await db.sql`drop schema supabase_migrations cascade`;
    assertOnlyFailure(await runDoctor(env), "database.migrations", "has never been migrated");
  });
});

Deno.test("a database without plans is reported and the plan checks are skipped", async () => {
  await withSetup(async ({ env, db }) => {
    await db.sql`update rolepass.plans set active = false`;
    const findings = await runDoctor(env);
    assertOnlyFailure(findings, "database.plans", "No guild has an active plan");
    assert(findings.some((f) => f.check === "stripe.prices" && f.status === "skip"));
  });
});

Deno.test("Vault without the role-sync URL, with a wrong URL or another secret is reported", async () => {
  await withSetup(async ({ env, db }) => {
    await db.sql`delete from vault.secrets where name = 'role_sync_url'`;
    assertOnlyFailure(await runDoctor(env), "vault.role_sync", "Vault has no role_sync_url");

    await db.sql`select vault.create_secret('https://example.com/hooks/roles', 'role_sync_url')`;
    assertOnlyFailure(
      await runDoctor(env),
      "vault.role_sync",
      "is not the role-sync function's URL",
    );

    await db.sql`update vault.secrets set secret = ${`${SUPABASE_URL}/functions/v1/role-sync`}
      where name = 'role_sync_url'`;
    await db.sql`update vault.secrets set secret = 'another-secret-0123456789'
      where name = 'role_sync_secret'`;
    const failure = assertOnlyFailure(
      await runDoctor(env),
      "vault.role_sync",
      "role_sync_secret differs from ROLE_SYNC_SECRET",
    );
    assert(!JSON.stringify(failure).includes("another-secret"), "the secret is not shown");
  });
});

Deno.test("warnings alone, such as a portal without cancellation, do not block going live", async () => {
  await withSetup(async ({ env, stripe }) => {
    const secretKey = env.STRIPE_SECRET_KEY;
    assert(secretKey, "the env has STRIPE_SECRET_KEY");
    const client = createStripeClient(secretKey, env.STRIPE_API_BASE_URL);
    const list = await client.billingPortal.configurations.list();
    first(list.data, "an item of list.data").features.subscription_cancel.enabled = false;
    first(list.data, "an item of list.data").features.payment_method_update.enabled = true;
    stripe.inject({
      method: "GET",
      path: "/v1/billing_portal/configurations",
      status: 200,
      body: list,
    });
    const lines: string[] = [];
    assertEquals(await doctorCommand([], env, (text) => lines.push(text)), 0);
    const report = lines.join("\n");
    assert(report.includes("! The Customer Portal does not let members cancel"), report);
    assert(report.includes("Nothing blocks going live (2 warnings)"), report);
  });
});

Deno.test("roles at equal positions rank by age, and @everyone's permissions count", () => {
  const older = { id: "1000000000000000001", position: 4 };
  const newer = { id: "1000000000000000002", position: 4 };
  assert(ranksAbove(older, newer) && !ranksAbove(newer, older));
  assert(ranksAbove({ id: newer.id, position: 5 }, older));
  const everyone = { id: GUILD_ID, permissions: String(1n << 28n) };
  const botRole = { id: "1000000000000000003", permissions: "0" };
  const roles = [everyone, botRole] as Parameters<typeof botPermissions>[1];
  assertEquals(botPermissions(GUILD_ID, roles, [botRole.id]), 1n << 28n);
  assertEquals(botPermissions("1000000000000000009", roles, [botRole.id]), 0n);
});

Deno.test("an endpoint sending every event ('*') lacks none of the needed events", () => {
  assertEquals(missingEvents({ enabled_events: ["*"] }), []);
  assertEquals(
    missingEvents({ enabled_events: HANDLED_EVENT_TYPES.filter((t) => t !== "invoice.paid") }),
    ["invoice.paid"],
  );
});

Deno.test("a PUBLIC_SITE_URL on this machine blocks going live with a live key, and is a warning with a test key", async () => {
  const loopback = "http://127.0.0.1:8787";
  const localLinks = (findings: Finding[]) =>
    findings.filter((f) => f.check === "env" && f.message.includes("PUBLIC_SITE_URL"));

  await withSetup(async ({ env }) => {
    const findings = await runDoctor({ ...env, PUBLIC_SITE_URL: loopback });
    const found = localLinks(findings);
    assertEquals(found.map((f) => f.status), ["warn"], JSON.stringify(found));
    assert(
      first(found, "an item of found").message.includes(
        `PUBLIC_SITE_URL (${loopback}) is on this machine`,
      ),
    );
    assert(
      first(found, "an item of found").fix?.includes("public https URL"),
      first(found, "an item of found").fix,
    );
    assertEquals(failures(findings), [], "a rehearsal with a test key is not blocked");
  });

  await withSetup(async ({ env }) => {
    const findings = await runDoctor({ ...env, PUBLIC_SITE_URL: loopback });
    assertOnlyFailure(findings, "env", `PUBLIC_SITE_URL (${loopback}) is on this machine`);
    assertEquals(localLinks(findings).map((f) => f.status), ["fail"]);
  }, { stripeKey: "sk_live_doctorDoubleKey123" });
});
