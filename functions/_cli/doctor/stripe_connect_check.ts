/**
 * Checks of platform mode (Stripe Connect Express, `ROLEPASS_STRIPE_MODE=platform`): the Connect
 * endpoint's secret and webhook endpoint, the money events the platform endpoint needs, and for
 * each guild that sells, its connected account as Stripe has it now: details submitted, charges
 * and payouts enabled, what is due and by when, and the platform fee. A guild that sells through an
 * account that cannot take charges is a failure: its members would meet a plan page that cannot
 * take their money. Standalone deployments get no finding from here.
 */
import {
  type ConnectedAccountFacts,
  PLATFORM_MONEY_EVENT_TYPES,
  type SellerStanding,
  sellerStanding,
  type StripeMode,
  subscriptionsOfGuild,
} from "../../_core/connect.ts";
import { stripeWebhookUrl } from "../../_core/health.ts";
import { createSql, type Sql } from "../../_shared/db.ts";
import {
  type GuildStripeAccount,
  guildStripeAccount,
} from "../../_shared/guild_stripe_accounts.ts";
import type { StripeGateway, WebhookEndpointFacts } from "../../_shared/stripe_gateway.ts";
import { webhookPlatformConfigFrom } from "../../_shared/platform_env.ts";
import type { ConfiguredGuild } from "./configured_plans.ts";
import { fail, type Finding, pass, skip, warn } from "./finding.ts";
import { ask, describeFailure, type Probe } from "./probe.ts";

/** The Connect endpoint's events: a connected account's state. */
export const CONNECT_ENDPOINT_EVENTS: readonly string[] = ["account.updated"];

/** What the platform endpoint also needs in platform mode: the communities' side of the money. */
export const PLATFORM_MONEY_EVENTS: readonly string[] = PLATFORM_MONEY_EVENT_TYPES;

/** Where Stripe sends connected accounts' events: the Connect route of stripe-webhook. */
export function connectWebhookUrl(supabaseUrl: string): string {
  return `${stripeWebhookUrl(supabaseUrl)}/connect`;
}

/** A selling guild's connected account: what rolepass recorded and what Stripe says now. */
export interface GuildConnectFacts {
  guild: ConfiguredGuild;
  /** Null: the guild has no connected account. */
  recorded: GuildStripeAccount | null;
  /** Stripe's account now; null when there is none to read. */
  live: Probe<ConnectedAccountFacts> | null;
  /**
   * Of the guild's members with a live subscription (up to {@link LIVE_MEMBERS_READ}), how many
   * Stripe says pay elsewhere than the guild's account: absent when not read.
   */
  liveMembers?: Probe<{ checked: number; payingElsewhere: number }>;
}

/** How many live members' subscriptions the doctor reads per guild. */
export const LIVE_MEMBERS_READ = 100;

/** Everything the platform checks judge. */
export interface ConnectFacts {
  mode: StripeMode;
  /** Why the platform settings are unusable (a missing Connect secret), or null. */
  settingsProblem: string | null;
  webhookEndpoints: Probe<WebhookEndpointFacts[]>;
  supabaseUrl: string | null;
  guilds: GuildConnectFacts[] | null;
}

/** Reads the mode, each selling guild's account (recorded and from Stripe). Never throws. */
export async function fetchConnectFacts(
  rawEnv: Record<string, string | undefined>,
  sources: {
    databaseUrl: string | undefined;
    stripe: StripeGateway;
    guilds: ConfiguredGuild[] | null;
    webhookEndpoints: Probe<WebhookEndpointFacts[]>;
    supabaseUrl: string | undefined;
  },
): Promise<ConnectFacts> {
  let mode: StripeMode = "standalone";
  let settingsProblem: string | null = null;
  try {
    mode = webhookPlatformConfigFrom(rawEnv).mode;
  } catch (error) {
    mode = rawEnv.ROLEPASS_STRIPE_MODE === "platform" ? "platform" : "standalone";
    settingsProblem = error instanceof Error ? error.message : String(error);
  }
  const facts: ConnectFacts = {
    mode,
    settingsProblem,
    webhookEndpoints: sources.webhookEndpoints,
    supabaseUrl: sources.supabaseUrl ?? null,
    guilds: null,
  };
  if (mode !== "platform" || !sources.databaseUrl || !sources.guilds) return facts;
  const sql = createSql(sources.databaseUrl, { max: 1 });
  try {
    facts.guilds = [];
    for (const guild of sources.guilds) {
      const recorded = await guildStripeAccount(sql, guild.id);
      const live = recorded
        ? await ask(() => sources.stripe.retrieveConnectedAccount(recorded.accountId))
        : null;
      const liveMembers = await ask(() =>
        liveMembersPayingElsewhere(sql, sources.stripe, guild.id, recorded?.accountId ?? null)
      );
      facts.guilds.push({ guild, recorded, live, liveMembers });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return facts;
}

/**
 * Reads the subscriptions of the guild's live members from Stripe and counts those that do not pay
 * the guild's account (by the sync's own rule): subscriptions made while the deployment was
 * standalone pay the platform alone, and in platform mode they no longer count toward roles.
 */
async function liveMembersPayingElsewhere(
  sql: Sql,
  stripe: StripeGateway,
  guildId: string,
  accountId: string | null,
): Promise<{ checked: number; payingElsewhere: number }> {
  const rows = await sql<{ stripe_subscription_id: string }[]>`
    select stripe_subscription_id from rolepass.memberships
    where guild_id = ${guildId} and subscription_live and stripe_subscription_id is not null
    order by created_at, id limit ${LIVE_MEMBERS_READ}`;
  const subscriptions = [];
  for (const row of rows) {
    subscriptions.push(await stripe.retrieveSubscription(row.stripe_subscription_id));
  }
  const own = subscriptionsOfGuild("platform", { guildId, accountId }, subscriptions);
  return { checked: subscriptions.length, payingElsewhere: subscriptions.length - own.length };
}

/** Judges platform mode; nothing for a standalone deployment. */
export function checkPlatformMode(facts: ConnectFacts): Finding[] {
  if (facts.mode !== "platform") return [];
  const findings: Finding[] = [];
  findings.push(
    facts.settingsProblem
      ? fail(
        "stripe.connect",
        `Platform mode is on but its settings are unusable: ${facts.settingsProblem}`,
        "set STRIPE_CONNECT_WEBHOOK_SECRET to the signing secret of the webhook endpoint that " +
          "listens to connected accounts",
      )
      : pass("stripe.connect", "Platform mode is on and the Connect endpoint's secret is set"),
  );
  findings.push(...checkConnectEndpoints(facts));
  if (facts.guilds === null) {
    findings.push(
      skip(
        "stripe.connect_accounts",
        "Each guild's connected account",
        "configured plans and DATABASE_URL",
      ),
    );
  } else {
    for (const guild of facts.guilds) {
      findings.push(...checkGuildAccount(guild), ...checkLiveMembers(guild));
    }
  }
  return findings;
}

function checkConnectEndpoints(facts: ConnectFacts): Finding[] {
  if (!facts.supabaseUrl) {
    return [skip("stripe.connect", "The Connect webhook endpoint", "SUPABASE_URL")];
  }
  const probe = facts.webhookEndpoints;
  if (!probe.ok) {
    return [
      skip(
        "stripe.connect",
        `The Connect webhook endpoint (${describeFailure(probe)})`,
        "a Stripe key that may list webhook endpoints",
      ),
    ];
  }
  const findings: Finding[] = [];
  const connectUrl = connectWebhookUrl(facts.supabaseUrl);
  const connect = enabledAt(probe.value, connectUrl);
  if (!connect) {
    findings.push(fail(
      "stripe.connect",
      `No enabled Stripe webhook endpoint listening to connected accounts points at ${connectUrl}`,
      `Stripe Dashboard → Developers → Webhooks → Add endpoint → "Events on connected accounts": ` +
        `URL ${connectUrl}, events ${CONNECT_ENDPOINT_EVENTS.join(", ")}; then set ` +
        "STRIPE_CONNECT_WEBHOOK_SECRET to its signing secret",
    ));
  } else {
    const missing = missingOf(connect, CONNECT_ENDPOINT_EVENTS);
    findings.push(
      missing.length
        ? fail(
          "stripe.connect",
          `The Connect webhook endpoint ${connect.id} does not send ${missing.join(", ")}`,
          "Stripe Dashboard → Developers → Webhooks → the endpoint → Select events: add them",
        )
        : pass(
          "stripe.connect",
          `The Connect webhook endpoint ${connect.id} sends account.updated to ${connectUrl}`,
        ),
    );
  }
  const platform = enabledAt(probe.value, stripeWebhookUrl(facts.supabaseUrl));
  if (platform) {
    const missing = missingOf(platform, PLATFORM_MONEY_EVENTS);
    findings.push(
      missing.length
        ? fail(
          "stripe.connect",
          `The platform's webhook endpoint ${platform.id} does not send ${missing.join(", ")}: ` +
            "transfers and platform fees would be missing from the communities' ledger",
          "Stripe Dashboard → Developers → Webhooks → the endpoint → Select events: add them",
        )
        : pass(
          "stripe.connect",
          `The platform's webhook endpoint ${platform.id} sends transfers and platform fees`,
        ),
    );
  }
  return findings;
}

function enabledAt(
  endpoints: readonly WebhookEndpointFacts[],
  url: string,
): WebhookEndpointFacts | null {
  const same = (candidate: string) => candidate.replace(/\/+$/, "") === url.replace(/\/+$/, "");
  return endpoints.find((endpoint) => same(endpoint.url) && endpoint.status === "enabled") ?? null;
}

function missingOf(endpoint: WebhookEndpointFacts, needed: readonly string[]): string[] {
  if (endpoint.enabled_events.includes("*")) return [];
  return needed.filter((event) => !endpoint.enabled_events.includes(event));
}

/** One guild that sells: its account must take charges; payouts and what is due are warnings. */
export function checkGuildAccount(facts: GuildConnectFacts): Finding[] {
  const { guild, recorded, live } = facts;
  const who = `Guild ${guild.name} (${guild.id})`;
  if (!recorded || !live) {
    return [fail(
      "stripe.connect_accounts",
      `${who} sells ${guild.plans.length} plan(s) but has no connected account: its members ` +
        "cannot pay",
      `deno task connect -- onboard --guild ${guild.id}, and send the link to the community's owner`,
    )];
  }
  if (!live.ok) {
    return [fail(
      "stripe.connect_accounts",
      `${who}: cannot read its account ${recorded.accountId} (${describeFailure(live)})`,
      "check that the account is still connected to the platform (Dashboard → Connect → " +
        "Accounts), then run the doctor again",
    )];
  }
  const account = live.value;
  const standing: SellerStanding = sellerStanding(account);
  const due = account.requirementsDue.length
    ? `Stripe needs ${account.requirementsDue.join(", ")}` +
      (account.requirementsDeadline ? ` by ${account.requirementsDeadline.toISOString()}` : "")
    : "";
  const findings: Finding[] = [];
  if (standing !== "selling") {
    findings.push(fail(
      "stripe.connect_accounts",
      `${who} sells, but its account ${account.accountId} cannot take charges` +
        (standing === "onboarding" ? ": onboarding is not finished" : "") +
        (due ? ` (${due})` : account.disabledReason ? ` (${account.disabledReason})` : ""),
      standing === "onboarding"
        ? `deno task connect -- onboard --guild ${guild.id} for a new onboarding link`
        : "the community provides what is due in its Express Dashboard " +
          `(deno task connect -- dashboard --guild ${guild.id})`,
    ));
  } else {
    findings.push(pass(
      "stripe.connect_accounts",
      `${who} sells through ${account.accountId}, which takes charges ` +
        `(platform fee ${recorded.platformFeePercent}%)`,
    ));
    if (due) {
      findings.push(warn(
        "stripe.connect_accounts",
        `${who}: ${due}; charges stop if it is not provided`,
        `the community provides it in its Express Dashboard (deno task connect -- dashboard --guild ${guild.id})`,
      ));
    }
  }
  if (!account.payoutsEnabled) {
    findings.push(warn(
      "stripe.connect_accounts",
      `${who}: Stripe has paused payouts to the community's bank account`,
      "the community checks its bank account and what is due in its Express Dashboard",
    ));
  }
  if (recorded.platformFeePercent === 0) {
    findings.push(warn(
      "stripe.connect_accounts",
      `${who}: the platform fee is 0%, so the platform keeps nothing of its sales`,
      `deno task connect -- policy --guild ${guild.id} --fee <percent>, if that is not intended`,
    ));
  }
  return findings;
}

/**
 * Members who kept paying the platform alone (subscribed before the switch to platform mode) lose
 * their roles at their next re-read in platform mode: a warning before it happens.
 */
export function checkLiveMembers(facts: GuildConnectFacts): Finding[] {
  const { guild, liveMembers } = facts;
  const who = `Guild ${guild.name} (${guild.id})`;
  if (!liveMembers) return [];
  if (!liveMembers.ok) {
    return [skip(
      "stripe.connect_accounts",
      `${who}: where its members' live subscriptions pay (${describeFailure(liveMembers)})`,
      "a Stripe key that may read subscriptions",
    )];
  }
  const { checked, payingElsewhere } = liveMembers.value;
  if (payingElsewhere === 0) return [];
  return [warn(
    "stripe.connect_accounts",
    `${who}: ${payingElsewhere} of ${checked} member(s) with a live subscription pay the ` +
      "platform alone or another account, not the guild's (subscriptions made before platform " +
      "mode?): platform mode does not count them, so they lose their roles at their next re-read",
    "keep ROLEPASS_STRIPE_MODE=standalone until those subscriptions end, or have those members " +
      "subscribe again through the plan page (their new subscription pays the guild's account) " +
      "and cancel the old one",
  )];
}
