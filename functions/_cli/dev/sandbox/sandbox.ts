/**
 * The local sandbox: what `deno task dev` starts with no credentials at all. The Stripe and
 * Discord doubles run in-process with a generated Discord key pair, a demo community is seeded,
 * the Stripe double delivers its webhooks to the runner's stripe-webhook, and `/sandbox` lets a
 * newcomer walk the member's story in a browser.
 */
import { Hono } from "hono";
import { startDiscordDouble } from "../../../_doubles/discord/index.ts";
import { startStripeDouble } from "../../../_doubles/stripe/index.ts";
import { createSql } from "../../../_shared/db.ts";
import type { SandboxParts } from "../runner.ts";
import { generateInteractionKeys } from "../signed_interaction.ts";
import { seedDemoCommunity } from "./demo_community.ts";
import {
  type MemberLocale,
  parseMemberLocale,
  type RoleState,
  sandboxPage,
  withSandboxLabel,
} from "./sandbox_page.ts";
import { subscribeAsMember } from "./subscribe_as_member.ts";

function randomAlphanumeric(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join("");
}

/** Starts the doubles, seeds the demo community and returns the runner's sandbox parts. */
export async function startSandbox(runnerUrl: string, databaseUrl: string): Promise<SandboxParts> {
  const keys = await generateInteractionKeys();
  const stripeSecretKey = `sk_test_sandbox${randomAlphanumeric(24)}`;
  const webhookSecret = `whsec_sandbox${randomAlphanumeric(32)}`;
  const discord = startDiscordDouble({
    botToken: `sandbox-bot-token.${randomAlphanumeric(40)}`,
  });
  const stripe = await startStripeDouble({
    secretKey: stripeSecretKey,
    webhook: { url: `${runnerUrl}/functions/v1/stripe-webhook`, secret: webhookSecret },
    autoDeliver: true,
  });
  const stopDoubles = async () => {
    await stripe.close();
    await discord.close();
  };

  try {
    const sql = createSql(databaseUrl, { max: 1 });
    let community;
    try {
      community = await seedDemoCommunity({ discord, stripe, sql });
    } finally {
      await sql.end();
    }

    // The demo member's Discord client language, as the newcomer last chose it on the page.
    let memberLocale: MemberLocale = "ja";
    const roleState = (): RoleState => {
      const roles = discord.memberRoles(community.guildId, community.memberId) ?? [];
      if (roles.includes(community.roleId)) return "granted";
      const removed = discord.auditLog().some((entry) =>
        entry.action === "member_role_remove" && entry.userId === community.memberId &&
        entry.roleId === community.roleId
      );
      return removed ? "removed" : "never";
    };
    const view = (reply?: Awaited<ReturnType<typeof subscribeAsMember>>) =>
      sandboxPage({
        community,
        memberLocale,
        roleState: roleState(),
        messages: discord.messages({ userId: community.memberId }),
        stripeDashboardUrl: `${stripe.url}/__double`,
        now: new Date(),
        reply,
      });
    const app = new Hono().basePath("/sandbox");
    app.get("/", async (c) => c.html(await view()));
    app.post("/subscribe", async (c) => {
      const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
      memberLocale = parseMemberLocale(form.locale) ?? memberLocale;
      const reply = await subscribeAsMember({
        discord,
        keys,
        interactionsUrl: `${runnerUrl}/functions/v1/discord-interactions`,
        guildId: community.guildId,
        memberId: community.memberId,
        locale: memberLocale,
      });
      return c.html(await view(reply));
    });

    return {
      credentials: {
        discordPublicKey: keys.publicKeyHex,
        discordApplicationId: discord.applicationId,
        discordBotToken: discord.botToken,
        discordApiBaseUrl: discord.apiBaseUrl,
        stripeSecretKey,
        stripeWebhookSecret: webhookSecret,
        stripeApiBaseUrl: stripe.url,
      },
      extras: { "/sandbox": (request) => app.fetch(request) },
      labelPage: withSandboxLabel,
      stop: stopDoubles,
    };
  } catch (error) {
    await stopDoubles();
    throw error;
  }
}
