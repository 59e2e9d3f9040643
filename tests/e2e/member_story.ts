/**
 * The member's story of DESIGN.md, walked end to end: the dev runner (in-process) on a real
 * PostgreSQL with the real migrations, the Stripe and Discord doubles on 127.0.0.1, and headless
 * Chromium on the plan page, Checkout and the Customer Portal. Shared by the story test and the
 * log-scan test, which runs the same walk with every log line captured.
 *
 * In platform mode (Stripe Connect Express) the community first onboards its own account through
 * Stripe's hosted form, and the member's money goes to that account: after the grant, a renewal,
 * then a refund by the refund task under the guild's policy, which removes the role.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import type { TestDatabase } from "../harness/database.ts";
import { type DiscordDouble, startDiscordDouble } from "../doubles/discord.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { type DevRunner, startDevRunner } from "../../functions/_cli/dev/runner.ts";
import { generateInteractionKeys } from "../../functions/_cli/dev/signed_interaction.ts";
import {
  type DemoCommunity,
  seedDemoCommunity,
} from "../../functions/_cli/dev/sandbox/demo_community.ts";
import {
  subscribeAsMember,
  type SubscribeReply,
} from "../../functions/_cli/dev/sandbox/subscribe_as_member.ts";
import { startOnboarding } from "../../functions/_cli/connect.ts";
import { refundLastPayment } from "../../functions/_cli/refund.ts";
import type { StripeMode } from "../../functions/_core/connect.ts";
import { connectStripe } from "../../functions/_shared/stripe_gateway.ts";
import { launchHeadlessChromium } from "./browser.ts";

/** Every secret and token the walk used; none may appear in a log line. */
export interface StorySecrets {
  botToken: string;
  stripeSecretKey: string;
  webhookSecret: string;
  roleSyncSecret: string;
  /** The Connect endpoint's signing secret (platform mode). */
  connectWebhookSecret: string;
  linkTokens: string[];
  interactionTokens: string[];
}

/** What the walk saw, for the tests to assert on. */
export interface StoryRecord {
  secrets: StorySecrets;
  community: DemoCommunity;
  joinReply: SubscribeReply;
  manageReply: SubscribeReply;
  /** Messages the member received, in order, after the grant and after the revocation. */
  messagesAfterGrant: string[];
  messagesAfterRevoke: string[];
  /** HTTP statuses of every webhook delivery the Stripe double made. */
  webhookStatuses: (number | null)[];
  /** Requests the Discord double found outside Discord's OpenAPI description. */
  specViolations: unknown[];
  queueStatus: Record<string, unknown>;
  /** Platform mode: the guild's connected account and the money that moved to and from it. */
  connect: ConnectMoneyRecord | null;
}

/** Where the money of a platform-mode walk went, as the Stripe double holds it. */
export interface ConnectMoneyRecord {
  accountId: string;
  /** What the return page said when Stripe's onboarding sent the community back. */
  returnPageText: string;
  transfers: { destination: string; amount: number; amountReversed: number }[];
  applicationFees: { account: string; amount: number; amountRefunded: number }[];
}

function randomText(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(
    crypto.getRandomValues(new Uint8Array(length)),
    (byte) => alphabet[byte % alphabet.length],
  ).join("");
}

async function eventually<T>(
  what: string,
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function tokenOf(linkUrl: string | null): string {
  assert(linkUrl, "the reply has a link button");
  return new URL(linkUrl).pathname.split("/").pop()!;
}

/** The platform's fee on the community's sales in the platform-mode walk. */
export const PLATFORM_FEE_PERCENT = 10;

/**
 * Walks the whole story on `db` in `mode` (standalone by default); throws at the first step that
 * does not happen.
 */
export async function walkMemberStory(
  db: TestDatabase,
  mode: StripeMode = "standalone",
): Promise<StoryRecord> {
  const secrets: StorySecrets = {
    botToken: `e2e-bot.${randomText(60)}`,
    stripeSecretKey: `sk_test_e2e${randomText(40)}`,
    webhookSecret: `whsec_e2e${randomText(40)}`,
    roleSyncSecret: `rs_${randomText(48)}`,
    connectWebhookSecret: `whsec_e2econnect${randomText(32)}`,
    linkTokens: [],
    interactionTokens: [],
  };
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const discord: DiscordDouble = await startDiscordDouble({ botToken: secrets.botToken });
    cleanups.push(() => discord.close());
    const stripe: StripeDouble = await startStripeDouble({ secretKey: secrets.stripeSecretKey });
    cleanups.push(() => stripe.close());
    const keys = await generateInteractionKeys();

    const runner: DevRunner = await startDevRunner({
      env: {
        DATABASE_URL: db.url,
        PORT: "0",
        DISCORD_PUBLIC_KEY: keys.publicKeyHex,
        DISCORD_APPLICATION_ID: discord.applicationId,
        DISCORD_BOT_TOKEN: secrets.botToken,
        DISCORD_API_BASE_URL: discord.apiBaseUrl,
        STRIPE_SECRET_KEY: secrets.stripeSecretKey,
        STRIPE_WEBHOOK_SECRET: secrets.webhookSecret,
        STRIPE_API_BASE_URL: stripe.url,
        ROLE_SYNC_SECRET: secrets.roleSyncSecret,
        ROLEPASS_STRIPE_MODE: mode,
        ...(mode === "platform"
          ? { STRIPE_CONNECT_WEBHOOK_SECRET: secrets.connectWebhookSecret }
          : {}),
      },
      // A sweep every two seconds, so a lost database webhook would only slow the walk down.
      cronIntervalMs: 2_000,
    });
    cleanups.push(() => runner.stop());
    stripe.createWebhookEndpoint({
      url: `${runner.url}/functions/v1/stripe-webhook`,
      secret: secrets.webhookSecret,
    });
    const community = await seedDemoCommunity({ discord, stripe, sql: db.sql });
    const hasRole = () =>
      (discord.memberRoles(community.guildId, community.memberId) ?? []).includes(community.roleId);
    const memberMessages = () =>
      discord.messages({ userId: community.memberId }).map((message) => message.content);
    const subscribe = async () => {
      const reply = await subscribeAsMember({
        discord,
        keys,
        interactionsUrl: `${runner.url}/functions/v1/discord-interactions`,
        guildId: community.guildId,
        memberId: community.memberId,
      });
      secrets.interactionTokens.push(reply.interactionToken);
      secrets.linkTokens.push(tokenOf(reply.linkUrl));
      return reply;
    };

    const browser = await launchHeadlessChromium();
    cleanups.push(() => browser.close());
    const page = await browser.context.newPage();

    // Platform mode, 0: the operator onboards the community (`deno task connect -- onboard`); the
    // community fills in Stripe's form and comes back to the return page; account.updated lands.
    let onboarded: { accountId: string; returnPageText: string } | null = null;
    if (mode === "platform") {
      stripe.connect.createConnectEndpoint({
        url: `${runner.url}/functions/v1/stripe-webhook/connect`,
        secret: secrets.connectWebhookSecret,
      });
      const started = await startOnboarding({
        sql: db.sql,
        stripe: connectStripe(secrets.stripeSecretKey, stripe.url),
        publicSiteUrl: runner.url,
      }, {
        guildId: community.guildId,
        platformFeePercent: PLATFORM_FEE_PERCENT,
        country: "JP",
        email: null,
      });
      await page.goto(started.url);
      await Promise.all([
        page.waitForURL((url) => url.href.startsWith(`${runner.url}/connect/return/`)),
        page.getByRole("button", { name: "Submit details" }).click(),
      ]);
      const returnPageText = await page.locator("body").innerText();
      await stripe.connect.deliverEvents();
      await eventually(
        "account.updated to record that the guild can sell",
        () =>
          db.sql<{ charges_enabled: boolean }[]>`
          select charges_enabled from rolepass.guild_stripe_accounts
          where guild_id = ${community.guildId}`,
        (rows) => rows[0]?.charges_enabled === true,
      );
      onboarded = { accountId: started.account.accountId, returnPageText };
    }

    // 1-3: /subscribe, the link, the plan page, Checkout.
    const joinReply = await subscribe();
    assertEquals(joinReply.status, 200);
    assert(joinReply.linkUrl!.startsWith(`${runner.url}/join/`), joinReply.linkUrl!);
    await page.goto(joinReply.linkUrl!);
    const planText = await page.locator("body").innerText();
    assert(planText.includes("サポーター（月額）"), "the plan page names the plan");
    assert(planText.includes("特定商取引法"), "the plan page shows the seller notice");
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(`${stripe.url}/__double/checkout/`)),
      page.locator(`form[action^="/join/"] button[type="submit"]`).first().click(),
    ]);
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(`${runner.url}/join/thanks`)),
      page.getByRole("button", { name: "Pay", exact: true }).click(),
    ]);

    // 4: the webhook sequence of a real purchase, shuffled and duplicated; the role; the follow-up.
    await stripe.deliverEvents({ shuffle: true, duplicate: true });
    await eventually("the role to be granted", hasRole, Boolean);
    const messagesAfterGrant = await eventually(
      "the member to be told",
      memberMessages,
      (messages) => messages.length >= 1,
    );

    if (mode === "platform") {
      const manageReply = await subscribe();
      assert(manageReply.linkUrl!.startsWith(`${runner.url}/manage/`), manageReply.linkUrl!);
      await renew(db, stripe, community.memberId);
      assert(hasRole(), "a paid renewal keeps the role");
      const before = memberMessages().length;
      await refundRenewal(db, stripe, community, secrets);
      await eventually("the role to be revoked", hasRole, (has) => !has);
      const messagesAfterRevoke = await eventually(
        "the member to be told of the revocation",
        memberMessages,
        (messages) => messages.length > before,
      );
      return {
        secrets,
        community,
        joinReply,
        manageReply,
        messagesAfterGrant,
        messagesAfterRevoke,
        webhookStatuses: [...stripe.deliveries(), ...await stripe.connect.deliverEvents()]
          .map((delivery) => delivery.status),
        specViolations: discord.specViolations(),
        queueStatus: await drainedQueue(db),
        connect: onboarded && {
          ...onboarded,
          transfers: [...stripe.connect.transfers.values()].map((transfer) => ({
            destination: String(transfer.destination),
            amount: transfer.amount,
            amountReversed: transfer.amount_reversed,
          })),
          applicationFees: [...stripe.connect.applicationFees.values()].map((fee) => ({
            account: String(fee.account),
            amount: fee.amount,
            amountRefunded: fee.amount_refunded,
          })),
        },
      };
    }

    // 5: /subscribe again gives the portal; cancel at period end there.
    const manageReply = await subscribe();
    assert(manageReply.linkUrl!.startsWith(`${runner.url}/manage/`), manageReply.linkUrl!);
    await page.goto(manageReply.linkUrl!);
    await page.waitForURL((url) => url.href.startsWith(`${stripe.url}/__double/portal/`));
    await page.getByRole("button", { name: "Cancel at period end" }).click();
    await page.waitForLoadState();
    await stripe.deliverEvents({ shuffle: true, duplicate: true });
    const [membership] = await eventually(
      "the scheduled cancel to be recorded",
      () =>
        db.sql<{ stripe_subscription_id: string; scheduled: boolean }[]>`
        select stripe_subscription_id, (cancel_at is not null or cancel_at_period_end) as scheduled
        from rolepass.memberships where discord_user_id = ${community.memberId}`,
      (rows) => rows[0]?.scheduled === true,
    );
    assert(membership, "membership is missing");
    assert(hasRole(), "a cancel at period end keeps the role until the period ends");

    // 6: the period ends: the subscription is deleted, the role revoked, the member told.
    const before = memberMessages().length;
    stripe.advanceToPeriodEnd(membership.stripe_subscription_id);
    await stripe.deliverEvents({ shuffle: true, duplicate: true });
    await eventually("the role to be revoked", hasRole, (has) => !has);
    const messagesAfterRevoke = await eventually(
      "the member to be told of the revocation",
      memberMessages,
      (messages) => messages.length > before,
    );

    const queueStatus = await drainedQueue(db);
    return {
      secrets,
      community,
      joinReply,
      manageReply,
      messagesAfterGrant,
      messagesAfterRevoke,
      webhookStatuses: stripe.deliveries().map((delivery) => delivery.status),
      specViolations: discord.specViolations(),
      queueStatus,
      connect: null,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

/** The role-job queue once it has drained. */
async function drainedQueue(db: TestDatabase): Promise<Record<string, unknown>> {
  const [queueStatus] = await eventually(
    "the role-job queue to drain",
    () =>
      db.sql`select pending::int, failing::int, failed::int from rolepass.role_job_queue_status`,
    (rows) =>
      first(rows, "an item of rows").pending === 0 &&
      first(rows, "an item of rows").failing === 0,
  );
  return { ...queueStatus };
}

/** Platform mode, 5: the subscription renews and the payment is recorded. */
async function renew(db: TestDatabase, stripe: StripeDouble, memberId: string): Promise<void> {
  const [membership] = await db.sql<{ stripe_subscription_id: string }[]>`
    select stripe_subscription_id from rolepass.memberships where discord_user_id = ${memberId}`;
  assert(membership, "membership is missing");
  const renewed = stripe.advanceToPeriodEnd(membership.stripe_subscription_id);
  const renewedEnd = (renewed.items.data[0]?.current_period_end ?? 0) * 1000;
  await stripe.deliverEvents({ shuffle: true, duplicate: true });
  await eventually(
    "the renewal to be recorded",
    () =>
      db.sql<{ period_end: Date | null; entitled: boolean }[]>`
      select current_period_end as period_end, entitled from rolepass.memberships
      where discord_user_id = ${memberId}`,
    (rows) => rows[0]?.entitled === true && rows[0].period_end?.getTime() === renewedEnd,
  );
}

/**
 * Platform mode, 6: the operator refunds the renewal with `deno task refund`, under the guild's
 * policy (revoke and cancel by default); Stripe's events follow.
 */
async function refundRenewal(
  db: TestDatabase,
  stripe: StripeDouble,
  community: DemoCommunity,
  secrets: StorySecrets,
): Promise<void> {
  const refund = await refundLastPayment(
    {
      sql: db.sql,
      stripe: connectStripe(secrets.stripeSecretKey, stripe.url),
      now: () => new Date(),
      mode: "platform",
    },
    community.guildId,
    community.memberId,
  );
  assert(refund.ok, JSON.stringify(refund));
  await stripe.deliverEvents({ shuffle: true, duplicate: true });
}
