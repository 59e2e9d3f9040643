/**
 * The demo community of the sandbox and the end-to-end test: a Discord guild with a paid role and
 * a member in the Discord double, a monthly price and a one-time 30-day pass in the Stripe double,
 * and the same guild and plans in the database, validated by the plans file schema first.
 */
import type { DiscordDouble } from "../../../_doubles/discord/index.ts";
import type { StripeDouble } from "../../../_doubles/stripe/index.ts";
import { parsePlansFile } from "../../../_core/plans_file.ts";
import type { Sql } from "../../../_shared/db.ts";

/** Ids of what was seeded. */
export interface DemoCommunity {
  guildId: string;
  guildName: string;
  roleId: string;
  /** The paid role's name, as members see it in Discord. */
  roleName: string;
  memberId: string;
  /** The monthly subscription's price (the first plan). */
  priceId: string;
  /** The 30-day pass's one-time price. */
  passPriceId: string;
}

/** Where to seed. */
export interface DemoSeedTargets {
  discord: DiscordDouble;
  stripe: StripeDouble;
  sql: Sql;
  /** The member who will run /subscribe. */
  memberId?: string;
}

const MANAGE_ROLES = 1n << 28n;

const sandboxNotice = (ja: string, en: string) => ({
  ja: `（サンドボックス）${ja}`,
  en: `(sandbox) ${en}`,
});

/** Seeds the demo community everywhere it must exist and returns its ids. */
export async function seedDemoCommunity(targets: DemoSeedTargets): Promise<DemoCommunity> {
  const { discord, stripe } = targets;
  const guildName = "Rolepass Sandbox Lounge";
  const guild = discord.addGuild({
    name: guildName,
    botPermissions: MANAGE_ROLES,
    botRolePosition: 10,
  });
  const role = discord.addRole(guild.id, { name: "Supporter", position: 5 });
  const memberId = targets.memberId ?? "200000000000000777";
  discord.addMember(guild.id, memberId);
  const price = stripe.createPrice({
    unitAmount: 500,
    currency: "jpy",
    interval: "month",
    productName: "Supporter (monthly)",
  });
  const passPrice = stripe.createPrice({
    unitAmount: 3000,
    currency: "jpy",
    recurring: false,
    productName: "Supporter (30-day pass)",
  });

  const parsed = parsePlansFile(JSON.stringify({
    guilds: [{
      id: guild.id,
      name: guildName,
      default_locale: "ja",
      seller_notice: {
        seller: sandboxNotice("ロールパス サンドボックス", "Rolepass Sandbox"),
        representative: sandboxNotice("サンプル 太郎", "Taro Sample"),
        address: sandboxNotice("東京都千代田区千代田1-1-1", "1-1-1 Chiyoda, Chiyoda-ku, Tokyo"),
        phone: sandboxNotice(
          "ご請求があれば遅滞なく開示いたします",
          "Disclosed without delay on request",
        ),
        email: "sandbox@rolepass.example",
        additionalFees: sandboxNotice("なし", "None"),
        paymentMethods: sandboxNotice(
          "クレジットカード（Stripe テストダブル）",
          "Credit card (Stripe test double)",
        ),
        paymentTiming: sandboxNotice(
          "お申し込み時、以降は毎月自動更新",
          "On subscribing, then renewed automatically every month",
        ),
        deliveryTiming: sandboxNotice(
          "決済完了後すぐにロールを付与",
          "The role is granted as soon as the payment completes",
        ),
        cancellationPolicy: sandboxNotice(
          "/subscribe からいつでも解約できます",
          "Cancel at any time from /subscribe",
        ),
      },
      plans: [{
        stripe_price_id: price.id,
        discord_role_id: role.id,
        display: {
          ja: {
            name: "サポーター（月額）",
            description: "サポーター限定チャンネルに参加できます",
            role_name: role.name,
          },
          en: {
            name: "Supporter (monthly)",
            description: "Access to supporter-only channels",
            role_name: role.name,
          },
        },
        sort_order: 10,
      }, {
        stripe_price_id: passPrice.id,
        discord_role_id: role.id,
        access: "P30D",
        display: {
          ja: {
            name: "サポーター（30日パス）",
            description: "1回のお支払いで30日間、自動更新はありません",
            role_name: role.name,
          },
          en: {
            name: "Supporter (30-day pass)",
            description: "One payment for 30 days, no renewal",
            role_name: role.name,
          },
        },
        sort_order: 20,
      }],
    }],
  }));
  if (!parsed.ok) {
    throw new Error(`The sandbox plans file is invalid:\n${parsed.problems.join("\n")}`);
  }
  // Written directly: the prices were just created here, so plans:apply's Stripe look-up of their
  // amounts and intervals would only repeat what is already known.
  const [entry] = parsed.file.guilds;
  const [plan, pass] = entry?.plans ?? [];
  if (!entry || !plan || !pass) throw new Error("The sandbox plans file lacks its two plans");
  await targets.sql.begin(async (tx) => {
    await tx`insert into rolepass.guilds (id, name, default_locale, seller_notice)
      values (${entry.id}, ${entry.name}, ${entry.default_locale},
        ${tx.json(entry.seller_notice as never)})`;
    await tx`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval, interval_count, sort_order)
      values (${entry.id}, ${plan.stripe_price_id}, ${plan.discord_role_id},
        ${tx.json(plan.display as never)}, ${price.unit_amount ?? 0}, ${price.currency},
        ${price.recurring?.interval ?? "month"}, ${price.recurring?.interval_count ?? 1},
        ${plan.sort_order})`;
    await tx`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval, access_kind, access_duration, sort_order)
      values (${entry.id}, ${pass.stripe_price_id}, ${pass.discord_role_id},
        ${tx.json(pass.display as never)}, ${passPrice.unit_amount ?? 0}, ${passPrice.currency},
        null, 'duration', '30 days'::interval, ${pass.sort_order})`;
  });
  return {
    guildId: guild.id,
    guildName,
    roleId: role.id,
    roleName: role.name,
    memberId,
    priceId: price.id,
    passPriceId: passPrice.id,
  };
}
