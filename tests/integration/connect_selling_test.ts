/**
 * Selling on behalf of a community in platform mode: the plan page of a guild whose account cannot
 * take charges says so and opens no Checkout; a guild's member pays through a destination charge
 * to that guild's account with its fee, never to another guild's; a refund reverses the guild's
 * own transfer and refunds the fee as the guild's policy says, and refuses a charge whose money
 * went to another account.
 */
import assert from "node:assert/strict";
import { hashLinkToken, newLinkToken } from "../../functions/_core/link_token.ts";
import { startOnboarding } from "../../functions/_cli/connect.ts";
import { refundLastPayment } from "../../functions/_cli/refund.ts";
import type { CheckoutProblem } from "../../functions/checkout/contract.ts";
import { createApp as createCheckoutApp } from "../../functions/checkout/app.ts";
import {
  depsFromConfig as checkoutDeps,
  loadConfig as loadCheckoutConfig,
} from "../../functions/checkout/config.ts";
import {
  guildStripeAccount,
  setGuildSellerPolicy,
} from "../../functions/_shared/guild_stripe_accounts.ts";
import { createApp as createPlanPage } from "../../functions/plan-page/app.tsx";
import type { CheckoutClient } from "../../functions/plan-page/checkout_client.ts";
import { sellerStandingSchema } from "../../functions/checkout/connect_seller.ts";
import { type ConnectWorld, createConnectWorld, type WorldGuild } from "./connect_world.ts";

const MEMBER_ID = "200000000000000001";

interface SellingWorld extends ConnectWorld {
  checkout: ReturnType<typeof createCheckoutApp>;
  /** Stores a join link of `memberId` in `guild` and returns the token. */
  issueLink(guild: WorldGuild, memberId?: string): Promise<string>;
  /** POSTs to the checkout function, as the plan page does. */
  ask(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
}

async function withSellingWorld(fn: (world: SellingWorld) => Promise<void>) {
  const world = await createConnectWorld();
  const deps = checkoutDeps(
    loadCheckoutConfig({ ...world.env, PUBLIC_SITE_URL: "https://plans.rolepass.test" }),
  );
  const checkout = createCheckoutApp(deps);
  try {
    await fn({
      ...world,
      checkout,
      async issueLink(guild, memberId = MEMBER_ID) {
        const token = newLinkToken();
        await world.db.sql`
          insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
            created_at, expires_at)
          values (${await hashLinkToken(token)}, 'join', ${guild.guildId}, ${memberId}, 'ja',
            now(), now() + interval '15 minutes')`;
        return token;
      },
      async ask(path, body) {
        const response = await checkout.request(`/checkout/${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: await response.json() };
      },
    });
  } finally {
    await deps.sql.end({ timeout: 5 });
    await world.close();
  }
}

/** A member of `guild` goes to Checkout and pays; returns the subscription the double made. */
async function subscribe(world: SellingWorld, guild: WorldGuild, memberId = MEMBER_ID) {
  const token = await world.issueLink(guild, memberId);
  const opened = await world.ask("checkout-session", { token, planId: guild.planId });
  assert.equal(opened.status, 200, JSON.stringify(opened.body));
  const sessionId = String(opened.body.url).split("/").at(-1) ?? "";
  return world.stripeDouble.completeCheckout(sessionId).subscription;
}

/** The community finishes Stripe's onboarding; account.updated reaches the Connect endpoint. */
async function onboard(world: SellingWorld, guild: WorldGuild): Promise<void> {
  world.stripeDouble.connect.completeOnboarding(guild.accountId);
  const event = world.stripeDouble.connect.events()
    .filter((e) => e.account === guild.accountId).at(-1);
  assert.ok(event, "account.updated was emitted");
  const response = await world.post("/stripe-webhook/connect", event);
  assert.equal((await response.json()).status, "applied");
}

Deno.test("a guild whose account cannot take charges says so on the plan page and opens no Checkout", async () => {
  await withSellingWorld(async (world) => {
    const token = await world.issueLink(world.a);
    const view = await world.ask("plan-view", { token });
    assert.equal(view.status, 409);
    assert.equal((view.body.error as { code: string }).code, "not_selling_yet");
    const opened = await world.ask("checkout-session", { token, planId: world.a.planId });
    assert.equal(opened.status, 409);
    assert.equal(world.stripeDouble.requests({ path: "/v1/checkout/sessions" }).length, 0);

    await onboard(world, world.b);
    const stillA = await world.ask("plan-view", { token });
    assert.equal(stillA.status, 409, "guild B's onboarding does not let guild A sell");
    await onboard(world, world.a);
    const view2 = await world.ask("plan-view", { token });
    assert.equal(view2.status, 200, JSON.stringify(view2.body));
  });
});

Deno.test("each guild's member pays that guild's own account, with that guild's fee", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await onboard(world, world.b);
    await setGuildSellerPolicy(world.db.sql, world.b.guildId, { platformFeePercent: 20 });

    const inA = await subscribe(world, world.a);
    assert.equal(inA.transfer_data?.destination, world.a.accountId);
    assert.equal(inA.on_behalf_of, world.a.accountId);
    assert.equal(inA.application_fee_percent, 10);
    const inB = await subscribe(world, world.b);
    assert.equal(inB.transfer_data?.destination, world.b.accountId);
    assert.equal(inB.application_fee_percent, 20);
    assert.notEqual(inA.customer, inB.customer, "one customer per (guild, member)");

    const transfers = [...world.stripeDouble.connect.transfers.values()];
    assert.deepEqual(
      transfers.map((t) => t.destination).sort(),
      [world.a.accountId, world.b.accountId].sort(),
    );
    const fees = [...world.stripeDouble.connect.applicationFees.values()];
    assert.deepEqual(
      fees.map((f) => [f.account, f.amount]).sort(),
      [
        [world.a.accountId, 100],
        [world.b.accountId, 200],
      ].sort(),
    );
  });
});

Deno.test("a refund reverses the guild's own transfer and refunds the fee as its policy says", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await onboard(world, world.b);
    await setGuildSellerPolicy(world.db.sql, world.b.guildId, { refundApplicationFee: false });
    const memberA = "200000000000000011";
    const memberB = "200000000000000012";
    await subscribe(world, world.a, memberA);
    await subscribe(world, world.b, memberB);
    const deps = { sql: world.db.sql, stripe: world.gateway, now: () => new Date() };

    const refundA = await refundLastPayment(
      { ...deps, mode: "platform" },
      world.a.guildId,
      memberA,
    );
    assert.ok(refundA.ok, JSON.stringify(refundA));
    const refundB = await refundLastPayment(
      { ...deps, mode: "platform" },
      world.b.guildId,
      memberB,
    );
    assert.ok(refundB.ok, JSON.stringify(refundB));

    const byDestination = new Map(
      [...world.stripeDouble.connect.transfers.values()].map((t) => [t.destination, t]),
    );
    assert.equal(byDestination.get(world.a.accountId)?.amount_reversed, 1000);
    assert.equal(byDestination.get(world.b.accountId)?.amount_reversed, 1000);
    const feeOf = (account: string) =>
      [...world.stripeDouble.connect.applicationFees.values()].find((f) => f.account === account);
    assert.equal(feeOf(world.a.accountId)?.amount_refunded, 100, "guild A gives its fee back");
    assert.equal(feeOf(world.b.accountId)?.amount_refunded, 0, "guild B's policy keeps the fee");
  });
});

Deno.test("a refund for one guild refuses a charge whose money went to another guild's account", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await onboard(world, world.b);
    const memberB = "200000000000000012";
    await subscribe(world, world.b, memberB);
    // The database keeps a customer to one membership; were guild B's customer moved to guild
    // A's membership all the same, guild A's refund must not reverse guild B's transfer.
    const [customer] = await world.db.sql<{ stripe_customer_id: string }[]>`
      select stripe_customer_id from rolepass.memberships
      where guild_id = ${world.b.guildId} and discord_user_id = ${memberB}`;
    assert.ok(customer);
    await world.db.sql`
      update rolepass.memberships set stripe_customer_id = null
      where guild_id = ${world.b.guildId} and discord_user_id = ${memberB}`;
    await world.db.sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, change_cause)
      values (${world.a.guildId}, ${memberB}, ${customer.stripe_customer_id}, 'test')`;
    const refused = await refundLastPayment(
      { sql: world.db.sql, stripe: world.gateway, now: () => new Date(), mode: "platform" },
      world.a.guildId,
      memberB,
    );
    assert.equal(refused.ok, false);
    assert.match(!refused.ok ? refused.reason : "", /paid to acct_.*not to the guild's account/);
    const transfer = [...world.stripeDouble.connect.transfers.values()][0];
    assert.equal(transfer?.amount_reversed, 0);
    assert.equal(world.stripeDouble.requests({ method: "POST", path: "/v1/refunds" }).length, 0);
  });
});

Deno.test("a pass in platform mode pays the guild's own account; the platform keeps only its fee", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await onboard(world, world.b);
    await setGuildSellerPolicy(world.db.sql, world.a.guildId, { platformFeePercent: 12.5 });
    const price = world.stripeDouble.createPrice({
      unitAmount: 999,
      currency: "jpy",
      recurring: false,
    });
    const [pass] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind)
      values (${world.a.guildId}, ${price.id}, ${world.a.roleId},
        ${world.db.sql.json({ en: { name: "Pass", description: "A lifetime pass" } })}, 999,
        'jpy', null, 'lifetime')
      returning id`;
    assert.ok(pass);
    const token = await world.issueLink(world.a);
    const opened = await world.ask("checkout-session", { token, planId: pass.id });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    const sessionId = String(opened.body.url).split("/").at(-1) ?? "";
    const paid = world.stripeDouble.completePayment(sessionId);

    // 999 yen x 12.5% = 124.875: the fee is 125 yen, the whole 999 goes to guild A's account.
    assert.equal(paid.charge.transfer_data?.destination, world.a.accountId);
    assert.equal(paid.charge.on_behalf_of, world.a.accountId);
    assert.equal(paid.charge.application_fee_amount, 125);
    const transfers = [...world.stripeDouble.connect.transfers.values()];
    assert.deepEqual(transfers.map((t) => [t.destination, t.amount]), [[world.a.accountId, 999]]);
    const fees = [...world.stripeDouble.connect.applicationFees.values()];
    assert.deepEqual(fees.map((f) => [f.account, f.amount]), [[world.a.accountId, 125]]);

    const thanks = await world.ask("checkout-complete", { sessionId });
    assert.deepEqual(thanks.body, { status: "granting" });
    const [row] = await world.db.sql<{ entitled: boolean; guild_id: string }[]>`
      select m.entitled, m.guild_id from rolepass.memberships m
      join rolepass.member_passes p on p.membership_id = m.id
      where m.discord_user_id = ${MEMBER_ID}`;
    assert.deepEqual({ ...row }, { entitled: true, guild_id: world.a.guildId });

    const refund = await refundLastPayment(
      { sql: world.db.sql, stripe: world.gateway, now: () => new Date(), mode: "platform" },
      world.a.guildId,
      MEMBER_ID,
    );
    assert.ok(refund.ok, JSON.stringify(refund));
    const transfer = [...world.stripeDouble.connect.transfers.values()][0];
    assert.equal(transfer?.amount_reversed, 999, "guild A returns the whole pass");
    const fee = [...world.stripeDouble.connect.applicationFees.values()][0];
    assert.equal(fee?.amount_refunded, 125, "the platform gives its fee back, as A's policy says");
  });
});

Deno.test("a pass of a guild whose account cannot take charges opens no Checkout", async () => {
  await withSellingWorld(async (world) => {
    const price = world.stripeDouble.createPrice({
      unitAmount: 3000,
      currency: "jpy",
      recurring: false,
    });
    const [pass] = await world.db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind)
      values (${world.a.guildId}, ${price.id}, ${world.a.roleId},
        ${world.db.sql.json({ en: { name: "Pass", description: "A lifetime pass" } })}, 3000,
        'jpy', null, 'lifetime')
      returning id`;
    assert.ok(pass);
    await onboard(world, world.b);
    const token = await world.issueLink(world.a);
    const opened = await world.ask("checkout-session", { token, planId: pass.id });
    assert.equal(opened.status, 409);
    assert.equal((opened.body.error as { code: string }).code, "not_selling_yet");
    assert.equal(world.stripeDouble.requests({ path: "/v1/checkout/sessions" }).length, 0);
  });
});

/** The plan page, whose checkout client reaches the world's checkout app in process. */
function planPage(world: SellingWorld) {
  const unused = () => Promise.reject(new Error("not used by the return page"));
  const client: CheckoutClient = {
    planView: unused,
    checkoutSession: unused,
    portalSession: unused,
    completeCheckout: unused,
    async sellerStanding(guildId, token) {
      const answer = await world.ask("seller-standing", { guildId, token });
      if (answer.status === 200) {
        return { ok: true, value: sellerStandingSchema.parse(answer.body) };
      }
      return { ok: false, problem: (answer.body.error as { code: CheckoutProblem }).code };
    },
  };
  return createPlanPage({ checkoutClient: client, publicSiteUrl: "https://plans.rolepass.test" });
}

/** `deno task connect -- onboard` for `guild`; the community submits Stripe's form at once. */
async function onboardingReturnPath(world: SellingWorld, guild: WorldGuild): Promise<string> {
  const started = await startOnboarding(
    { sql: world.db.sql, stripe: world.gateway, publicSiteUrl: "https://plans.rolepass.test" },
    { guildId: guild.guildId, platformFeePercent: 10, country: "JP", email: null },
  );
  const submitted = await fetch(started.url, { method: "POST", redirect: "manual" });
  await submitted.body?.cancel();
  return new URL(submitted.headers.get("location") ?? "").pathname;
}

/** Stripe reads of `accountId` so far. */
function accountReads(world: SellingWorld, accountId: string): number {
  return world.stripeDouble.requests({ method: "GET", path: `/v1/accounts/${accountId}` }).length;
}

Deno.test("the onboarding return page answers from the database, asking Stripe only while the guild cannot sell", async () => {
  await withSellingWorld(async (world) => {
    const page = planPage(world);
    // Stripe has the details; account.updated has not arrived, and the recorded read is old.
    await world.db.sql`update rolepass.guild_stripe_accounts
      set read_at = now() - interval '1 minute' where guild_id = ${world.a.guildId}`;
    const path = await onboardingReturnPath(world, world.a);
    const first = await page.request(`${path}?lang=en`);
    assert.equal(first.status, 200);
    assert.match(await first.text(), /Ready to sell/);
    assert.equal(accountReads(world, world.a.accountId), 1, "read once: the record was stale");
    assert.equal(
      (await guildStripeAccount(world.db.sql, world.a.guildId))?.facts.chargesEnabled,
      true,
    );
    for (let i = 0; i < 20; i++) {
      assert.match(await (await page.request(`${path}?lang=ja`)).text(), /販売の準備ができました/);
    }
    assert.equal(accountReads(world, world.a.accountId), 1, "a guild that can sell costs no read");
    assert.equal(accountReads(world, world.b.accountId), 0, "guild B's account is never read");
    assert.equal(
      (await guildStripeAccount(world.db.sql, world.b.guildId))?.facts.chargesEnabled,
      false,
    );
  });
});

Deno.test("a fresh record that cannot sell yet is answered without Stripe until it is stale", async () => {
  await withSellingWorld(async (world) => {
    const page = planPage(world);
    await world.db.sql`update rolepass.guild_stripe_accounts
      set read_at = now() where guild_id = ${world.a.guildId}`;
    const token = (await onboardingReturnPath(world, world.a)).split("/").at(-1) ?? "";
    world.stripeDouble.connect.completeOnboarding(world.a.accountId);
    const reads = accountReads(world, world.a.accountId);
    for (let i = 0; i < 20; i++) {
      const answer = await world.ask("seller-standing", { guildId: world.a.guildId, token });
      assert.equal(answer.status, 200);
    }
    assert.ok(
      accountReads(world, world.a.accountId) - reads <= 1,
      "at most one read in the recheck window, however often the page is loaded",
    );
    await onboard(world, world.a);
    const after = await page.request(`/connect/return/${world.a.guildId}/${token}?lang=en`);
    assert.match(await after.text(), /Ready to sell/);
  });
});

Deno.test("forged, stale, replaced and other guilds' return tokens read nothing", async () => {
  await withSellingWorld(async (world) => {
    const page = planPage(world);
    const tokenA = (await onboardingReturnPath(world, world.a)).split("/").at(-1) ?? "";
    const standing = (guildId: string, token: string) =>
      world.ask("seller-standing", { guildId, token });
    assert.equal((await standing(world.a.guildId, tokenA)).status, 200);

    const refused = [
      await standing(world.b.guildId, tokenA),
      await standing(world.a.guildId, newLinkToken()),
      await standing(world.a.guildId, "not-a-token"),
      await standing("100000000000000099", tokenA),
    ];
    for (const answer of refused) {
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.equal((answer.body.error as { code: string }).code, "not_found");
    }
    assert.equal(accountReads(world, world.b.accountId), 0);
    const forgedPage = await page.request(`/connect/return/${world.a.guildId}/${newLinkToken()}`, {
      headers: { "accept-language": "ja" },
    });
    assert.match(await forgedPage.text(), /登録リンクの有効期限が切れました/);
    const bare = await page.request(`/connect/return/${world.a.guildId}?lang=en`);
    assert.match(await bare.text(), /The onboarding link has expired/);

    await world.db.sql`update rolepass.guild_stripe_accounts
      set return_token_expires_at = now() - interval '1 second'
      where guild_id = ${world.a.guildId}`;
    assert.equal((await standing(world.a.guildId, tokenA)).status, 404, "an expired token");

    const tokenA2 = (await onboardingReturnPath(world, world.a)).split("/").at(-1) ?? "";
    assert.equal((await standing(world.a.guildId, tokenA2)).status, 200);
    await world.db.sql`update rolepass.guild_stripe_accounts
      set return_token_expires_at = now() + interval '1 hour'
      where guild_id = ${world.a.guildId}`;
    assert.equal((await standing(world.a.guildId, tokenA)).status, 404, "a replaced token");
    const [stored] = await world.db.sql<{ hash: Uint8Array }[]>`
      select return_token_hash as hash from rolepass.guild_stripe_accounts
      where guild_id = ${world.a.guildId}`;
    assert.deepEqual(
      new Uint8Array(stored?.hash ?? []),
      await hashLinkToken(tokenA2),
      "only the token's hash is kept",
    );
  });
});

Deno.test("standalone mode answers no seller standing", async () => {
  await withSellingWorld(async (world) => {
    const tokenA = (await onboardingReturnPath(world, world.a)).split("/").at(-1) ?? "";
    const deps = checkoutDeps(
      loadCheckoutConfig({
        ...world.env,
        ROLEPASS_STRIPE_MODE: "standalone",
        PUBLIC_SITE_URL: "https://plans.rolepass.test",
      }),
    );
    try {
      const response = await createCheckoutApp(deps).request("/checkout/seller-standing", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ guildId: world.a.guildId, token: tokenA }),
      });
      assert.equal(response.status, 404);
    } finally {
      await deps.sql.end({ timeout: 5 });
    }
  });
});

Deno.test("the money ledger records both sides: transfers and fees, reversals and fee refunds, per guild", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await onboard(world, world.b);
    const memberA = "200000000000000011";
    await subscribe(world, world.a, memberA);
    await subscribe(world, world.b, "200000000000000012");
    await refundLastPayment(
      { sql: world.db.sql, stripe: world.gateway, now: () => new Date(), mode: "platform" },
      world.a.guildId,
      memberA,
    );
    const moneyTypes = [
      "transfer.created",
      "transfer.reversed",
      "application_fee.created",
      "application_fee.refunded",
    ];
    const events = world.stripeDouble.events().filter((e) => moneyTypes.includes(e.type));
    for (const event of [...events, ...events]) {
      const response = await world.post("/stripe-webhook", event);
      assert.equal(response.status, 200);
    }
    const rows = await world.db.sql<{ guild_id: string; kind: string; amount: string }[]>`
      select guild_id, kind, amount::text from rolepass.connect_money_movements
      order by guild_id, kind`;
    assert.deepEqual(rows.map((r) => [r.guild_id, r.kind, Number(r.amount)]), [
      [world.a.guildId, "application_fee", 100],
      [world.a.guildId, "application_fee_refund", 100],
      [world.a.guildId, "transfer", 1000],
      [world.a.guildId, "transfer_reversal", 1000],
      [world.b.guildId, "application_fee", 100],
      [world.b.guildId, "transfer", 1000],
    ]);
    const accounts = await world.db.sql<{ guild_id: string; stripe_account_id: string }[]>`
      select distinct guild_id, stripe_account_id from rolepass.connect_money_movements`;
    for (const row of accounts) {
      const owner = row.guild_id === world.a.guildId ? world.a : world.b;
      assert.equal(row.stripe_account_id, owner.accountId);
    }
  });
});

Deno.test("money of an account no guild owns is recorded as ignored and written nowhere", async () => {
  await withSellingWorld(async (world) => {
    await onboard(world, world.a);
    await subscribe(world, world.a);
    await world.db
      .sql`delete from rolepass.guild_stripe_accounts where guild_id = ${world.a.guildId}`;
    const [transferEvent] = world.stripeDouble.events({ type: "transfer.created" });
    assert.ok(transferEvent);
    const answer = await (await world.post("/stripe-webhook", transferEvent)).json();
    assert.equal(answer.status, "ignored");
    assert.match(answer.why, /belongs to no guild/);
    const rows = await world.db.sql`select 1 from rolepass.connect_money_movements`;
    assert.equal(rows.length, 0);
  });
});
