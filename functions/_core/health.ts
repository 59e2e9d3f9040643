/**
 * Whether a guild's setup still works, decided without I/O: facts about Discord and Stripe in,
 * findings out. `deno task doctor` (before going live), `/rolepass health` (on demand) and the
 * periodic health check (every 30 minutes) all judge with these functions, so the three never
 * disagree about what is wrong.
 *
 * @module
 */
import { HANDLED_EVENT_TYPES } from "./stripe_shapes.ts";

/** Administrator: every permission, whatever the rest of the bit set says. */
export const ADMINISTRATOR = 1n << 3n;
/** Manage Roles: what granting a role needs. */
export const MANAGE_ROLES = 1n << 28n;

/** A guild role as Discord lists it (the fields the checks read). */
export interface RoleFact {
  id: string;
  name: string;
  position: number;
  /** Discord's decimal permission bit set. */
  permissions: string;
  /** Roles of integrations and bots, which Discord alone assigns. */
  managed?: boolean;
}

/**
 * Whether `a` ranks above `b`. Equal positions happen (Discord does not renumber at once); then
 * the older role, with the smaller id, ranks higher, as discord.js's `Role.comparePositions` does.
 */
export function ranksAbove(a: Pick<RoleFact, "id" | "position">, b: typeof a): boolean {
  if (a.position !== b.position) return a.position > b.position;
  return BigInt(a.id) < BigInt(b.id);
}

/** The bot's guild permissions: @everyone (its id is the guild's) plus each of its roles. */
export function botPermissions(
  guildId: string,
  roles: readonly Pick<RoleFact, "id" | "permissions">[],
  botRoleIds: readonly string[],
): bigint {
  const held = new Set([guildId, ...botRoleIds]);
  return roles.filter((role) => held.has(role.id))
    .reduce((bits, role) => bits | BigInt(role.permissions), 0n);
}

/** What the bot may do with a guild's plan roles. */
export interface RoleManagement {
  /** Manage Roles or Administrator. */
  canManageRoles: boolean;
  /** The bot's highest role; undefined when it holds none. */
  highest: RoleFact | undefined;
  /**
   * Plan roles the bot's highest role does not rank above: Discord refuses to grant them
   * (https://discord.com/developers/docs/topics/permissions#permission-hierarchy).
   */
  outranked: RoleFact[];
}

/** Judges Manage Roles and the role hierarchy for the roles of `planRoleIds` that exist. */
export function judgeRoleManagement(
  guildId: string,
  roles: readonly RoleFact[],
  botRoleIds: readonly string[],
  planRoleIds: readonly string[],
): RoleManagement {
  const permissions = botPermissions(guildId, roles, botRoleIds);
  const highest = roles.filter((role) => botRoleIds.includes(role.id)).reduce<
    RoleFact | undefined
  >((top, role) => !top || ranksAbove(role, top) ? role : top, undefined);
  const outranked = [...new Set(planRoleIds)].flatMap((roleId) => {
    const role = roles.find((candidate) => candidate.id === roleId);
    return role && (!highest || !ranksAbove(highest, role)) ? [role] : [];
  });
  return {
    canManageRoles: (permissions & (MANAGE_ROLES | ADMINISTRATOR)) !== 0n,
    highest,
    outranked,
  };
}

/** A plan's role as the checks know it. */
export interface PlanRole {
  roleId: string;
  /** The plan's name, for the operator. */
  planName: string;
}

/** One plan role as Discord has it: missing, managed by an integration, or assignable. */
export type PlanRoleVerdict =
  | { plan: PlanRole; kind: "missing" }
  | { plan: PlanRole; kind: "managed" | "assignable"; role: RoleFact };

/** Judges each plan's role against the guild's roles. */
export function judgePlanRoles(
  roles: readonly RoleFact[],
  plans: readonly PlanRole[],
): PlanRoleVerdict[] {
  return plans.map((plan) => {
    const role = roles.find((candidate) => candidate.id === plan.roleId);
    if (!role) return { plan, kind: "missing" };
    return { plan, kind: role.managed ? "managed" : "assignable", role };
  });
}

/** The events stripe-webhook acts on; the endpoint must send each of them (or `*`). */
export const REQUIRED_WEBHOOK_EVENTS: readonly string[] = HANDLED_EVENT_TYPES;

/** A Stripe webhook endpoint (the fields the check reads). */
export interface WebhookEndpointFact {
  id: string;
  url: string;
  status: string;
  enabled_events: readonly string[];
  api_version?: string | null;
}

/** The required events an endpoint does not send. */
export function missingEvents(endpoint: Pick<WebhookEndpointFact, "enabled_events">): string[] {
  const enabled = new Set(endpoint.enabled_events);
  if (enabled.has("*")) return [];
  return REQUIRED_WEBHOOK_EVENTS.filter((event) => !enabled.has(event));
}

/** Where Stripe must send events: the stripe-webhook function under SUPABASE_URL. */
export function stripeWebhookUrl(supabaseUrl: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/functions/v1/stripe-webhook`;
}

function sameUrl(a: string, b: string): boolean {
  try {
    const left = new URL(a);
    const right = new URL(b);
    return left.origin === right.origin &&
      left.pathname.replace(/\/+$/, "") === right.pathname.replace(/\/+$/, "");
  } catch {
    return false;
  }
}

function pointsAtStripeWebhook(url: string): boolean {
  try {
    return new URL(url).pathname.replace(/\/+$/, "").endsWith("/stripe-webhook");
  } catch {
    return false;
  }
}

/** Whether a webhook endpoint sends rolepass what it needs. */
export type WebhookVerdict =
  | { kind: "none"; elsewhere: string | null }
  | { kind: "disabled" }
  | { kind: "missing_events"; endpointId: string; missing: string[] }
  | { kind: "sends_all"; endpointId: string; apiVersion: string | null };

/**
 * Judges the account's webhook endpoints. With `expectedUrl` (from SUPABASE_URL) only an endpoint
 * at that URL counts; without it, any endpoint whose path ends in `/stripe-webhook`.
 */
export function judgeWebhookEndpoints(
  endpoints: readonly WebhookEndpointFact[],
  expectedUrl: string | null,
): WebhookVerdict {
  const candidates = endpoints.filter((endpoint) =>
    expectedUrl ? sameUrl(endpoint.url, expectedUrl) : pointsAtStripeWebhook(endpoint.url)
  );
  if (candidates.length === 0) {
    const elsewhere = endpoints.find((endpoint) => endpoint.url.includes("/stripe-webhook"));
    return { kind: "none", elsewhere: elsewhere?.url ?? null };
  }
  const enabled = candidates.filter((endpoint) => endpoint.status === "enabled");
  const [first, ...rest] = enabled;
  if (!first) return { kind: "disabled" };
  const best = rest.reduce(
    (a, b) => missingEvents(a).length <= missingEvents(b).length ? a : b,
    first,
  );
  const missing = missingEvents(best);
  if (missing.length) return { kind: "missing_events", endpointId: best.id, missing };
  return { kind: "sends_all", endpointId: best.id, apiVersion: best.api_version ?? null };
}

/** A Customer Portal configuration (the fields the check reads). */
export interface PortalConfigurationFact {
  id: string;
  is_default: boolean;
  active: boolean;
  features: {
    subscription_cancel: { enabled: boolean };
    payment_method_update: { enabled: boolean };
  };
}

/** Whether members can manage their subscription in the Customer Portal. */
export type PortalVerdict =
  | { kind: "not_configured" }
  | { kind: "configured"; id: string; allowsCancel: boolean; allowsCardUpdate: boolean };

/** Judges the portal configurations: the default one must be active. */
export function judgePortal(configurations: readonly PortalConfigurationFact[]): PortalVerdict {
  const current = configurations.find((configuration) =>
    configuration.is_default && configuration.active
  );
  if (!current) return { kind: "not_configured" };
  return {
    kind: "configured",
    id: current.id,
    allowsCancel: current.features.subscription_cancel.enabled,
    allowsCardUpdate: current.features.payment_method_update.enabled,
  };
}

/** The answer to one question asked of Discord or Stripe, or why there is none. */
export type Answer<T> = { ok: true; value: T } | { ok: false; detail: string };

/** What the operator log channel's lookup found. */
export type LogChannelFact = "reachable" | "unknown" | "no_access";

/** Everything the health of one guild is judged on. */
export interface GuildHealthFacts {
  guildId: string;
  plans: readonly PlanRole[];
  /** The bot's own membership: its roles; a refusal means the bot is not in the guild. */
  botMember: Answer<{ roleIds: readonly string[] } | "not_in_guild">;
  roles: Answer<readonly RoleFact[]>;
  /** Null when the guild has no operator log channel. */
  logChannel: { channelId: string; found: Answer<LogChannelFact> } | null;
  /**
   * How the last reconciliation pass read the members: `known_members` when Discord refused to
   * list them (the Server Members intent is off); null before the first pass.
   */
  reconciliationMode: "list" | "known_members" | null;
}

/** Stripe account facts; the same for every guild of one deployment. */
export interface StripeHealthFacts {
  webhookEndpoints: Answer<readonly WebhookEndpointFact[]>;
  portalConfigurations: Answer<readonly PortalConfigurationFact[]>;
  /** The stripe-webhook URL under SUPABASE_URL, when known. */
  expectedWebhookUrl: string | null;
}

/** The checks the health report runs; a problem belongs to one. */
export type HealthCheckId =
  | "discord.guild"
  | "discord.permissions"
  | "discord.roles"
  | "discord.log_channel"
  | "discord.members_intent"
  | "stripe.webhook"
  | "stripe.portal";

/** Something wrong, in the core's terms; the messages word it for the operator. */
export type HealthProblem =
  | { code: "bot_not_in_guild" }
  | { code: "no_manage_roles" }
  | { code: "role_outranks_bot"; roleId: string; roleName: string }
  | { code: "role_missing"; roleId: string; planName: string }
  | { code: "role_managed"; roleId: string; planName: string }
  | { code: "log_channel_unknown" | "log_channel_no_access"; channelId: string }
  | { code: "members_intent_off" }
  | { code: "webhook_missing"; url: string | null }
  | { code: "webhook_disabled" }
  | { code: "webhook_events_missing"; events: string[] }
  | { code: "portal_not_configured" }
  | { code: "portal_no_cancel" }
  | { code: "portal_no_card_update" };

/** A problem with the check that found it and its identity across runs. */
export interface HealthFinding {
  check: HealthCheckId;
  /** The same problem found on two runs has the same key. */
  key: string;
  problem: HealthProblem;
}

/** What one health run found for a guild. */
export interface HealthReport {
  /** Checks that got their answers: their problems are the truth until the next run. */
  checked: HealthCheckId[];
  /** Checks that could not run this time, and why; their earlier findings stand. */
  unanswered: { check: HealthCheckId; detail: string }[];
  problems: HealthFinding[];
}

function finding(check: HealthCheckId, problem: HealthProblem): HealthFinding {
  const subject = "roleId" in problem
    ? `:${problem.roleId}`
    : "channelId" in problem
    ? `:${problem.channelId}`
    : "";
  return { check, key: `${check}:${problem.code}${subject}`, problem };
}

/**
 * Judges a guild's health. A check whose facts Discord or Stripe did not give is `unanswered`,
 * never a problem and never a fix: a flaky API must not raise or clear an alert.
 * @param stripe null when the deployment has no Stripe key to read with
 */
export function judgeGuildHealth(
  guild: GuildHealthFacts,
  stripe: StripeHealthFacts | null,
): HealthReport {
  const report: HealthReport = { checked: [], unanswered: [], problems: [] };
  const judged = (check: HealthCheckId, problems: HealthProblem[]) => {
    report.checked.push(check);
    report.problems.push(...problems.map((problem) => finding(check, problem)));
  };
  const unanswered = (check: HealthCheckId, detail: string) =>
    report.unanswered.push({ check, detail });

  const member = guild.botMember;
  if (!member.ok) {
    for (const check of ["discord.guild", "discord.permissions", "discord.roles"] as const) {
      unanswered(check, member.detail);
    }
  } else if (member.value === "not_in_guild") {
    judged("discord.guild", [{ code: "bot_not_in_guild" }]);
  } else if (!guild.roles.ok) {
    judged("discord.guild", []);
    unanswered("discord.permissions", guild.roles.detail);
    unanswered("discord.roles", guild.roles.detail);
  } else {
    judged("discord.guild", []);
    const roles = guild.roles.value;
    const management = judgeRoleManagement(
      guild.guildId,
      roles,
      member.value.roleIds,
      guild.plans.map((plan) => plan.roleId),
    );
    judged(
      "discord.permissions",
      management.canManageRoles
        ? management.outranked.map((role) => ({
          code: "role_outranks_bot" as const,
          roleId: role.id,
          roleName: role.name,
        }))
        : [{ code: "no_manage_roles" }],
    );
    judged(
      "discord.roles",
      judgePlanRoles(roles, guild.plans).flatMap((verdict): HealthProblem[] =>
        verdict.kind === "assignable" ? [] : [{
          code: `role_${verdict.kind}`,
          roleId: verdict.plan.roleId,
          planName: verdict.plan.planName,
        }]
      ),
    );
  }

  if (guild.logChannel) {
    const { channelId, found } = guild.logChannel;
    if (!found.ok) unanswered("discord.log_channel", found.detail);
    else {
      judged(
        "discord.log_channel",
        found.value === "reachable" ? [] : [{ code: `log_channel_${found.value}`, channelId }],
      );
    }
  }

  if (guild.reconciliationMode !== null) {
    judged(
      "discord.members_intent",
      guild.reconciliationMode === "known_members" ? [{ code: "members_intent_off" }] : [],
    );
  }

  if (stripe) {
    if (!stripe.webhookEndpoints.ok) {
      unanswered("stripe.webhook", stripe.webhookEndpoints.detail);
    } else {
      const verdict = judgeWebhookEndpoints(
        stripe.webhookEndpoints.value,
        stripe.expectedWebhookUrl,
      );
      judged(
        "stripe.webhook",
        verdict.kind === "none"
          ? [{ code: "webhook_missing", url: stripe.expectedWebhookUrl }]
          : verdict.kind === "disabled"
          ? [{ code: "webhook_disabled" }]
          : verdict.kind === "missing_events"
          ? [{ code: "webhook_events_missing", events: verdict.missing }]
          : [],
      );
    }
    if (!stripe.portalConfigurations.ok) {
      unanswered("stripe.portal", stripe.portalConfigurations.detail);
    } else {
      const verdict = judgePortal(stripe.portalConfigurations.value);
      judged(
        "stripe.portal",
        verdict.kind === "not_configured" ? [{ code: "portal_not_configured" }] : [
          ...(verdict.allowsCancel ? [] : [{ code: "portal_no_cancel" } as const]),
          ...(verdict.allowsCardUpdate ? [] : [{ code: "portal_no_card_update" } as const]),
        ],
      );
    }
  }
  return report;
}
