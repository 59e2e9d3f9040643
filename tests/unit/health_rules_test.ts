/**
 * The health rules of `_core/health.ts`, which the doctor, `/rolepass health` and the periodic
 * check share: what counts as a problem, that a question without an answer is never a problem
 * nor a fix, and that a problem keeps its identity from run to run.
 */
import { LOCALES } from "../../functions/_core/locale.ts";
import {
  type GuildHealthFacts,
  judgeGuildHealth,
  judgeWebhookEndpoints,
  MANAGE_ROLES,
  type StripeHealthFacts,
} from "../../functions/_core/health.ts";
import { healthProblemText } from "../../functions/_core/messages/health.ts";
import { assert, assertEquals } from "../harness/assert.ts";

const GUILD = "100000000000000001";
const BOT_ROLE = "100000000000000002";
const PLAN_ROLE = "100000000000000003";

function guild(overrides: Partial<GuildHealthFacts> = {}): GuildHealthFacts {
  return {
    guildId: GUILD,
    plans: [{ roleId: PLAN_ROLE, planName: "Gold" }],
    botMember: { ok: true, value: { roleIds: [BOT_ROLE] } },
    roles: {
      ok: true,
      value: [
        { id: GUILD, name: "@everyone", position: 0, permissions: "0" },
        { id: BOT_ROLE, name: "rolepass", position: 10, permissions: String(MANAGE_ROLES) },
        { id: PLAN_ROLE, name: "Gold", position: 5, permissions: "0" },
      ],
    },
    logChannel: { channelId: "100000000000000004", found: { ok: true, value: "reachable" } },
    reconciliationMode: "list",
    ...overrides,
  };
}

const stripe: StripeHealthFacts = {
  webhookEndpoints: {
    ok: true,
    value: [{
      id: "we_1",
      url: "https://p.supabase.co/functions/v1/stripe-webhook",
      status: "enabled",
      enabled_events: ["*"],
    }],
  },
  portalConfigurations: {
    ok: true,
    value: [{
      id: "bpc_1",
      is_default: true,
      active: true,
      features: {
        subscription_cancel: { enabled: true },
        payment_method_update: { enabled: true },
      },
    }],
  },
  expectedWebhookUrl: "https://p.supabase.co/functions/v1/stripe-webhook",
};

Deno.test("a working setup has no problem, and every check answered", () => {
  const report = judgeGuildHealth(guild(), stripe);
  assertEquals(report.problems, []);
  assertEquals(report.unanswered, []);
  assertEquals(report.checked.length, 7);
});

Deno.test("a question Discord did not answer is neither a problem nor a fix", () => {
  const report = judgeGuildHealth(
    guild({
      botMember: { ok: false, detail: "Discord answered 503" },
      logChannel: { channelId: "100000000000000004", found: { ok: false, detail: "timeout" } },
    }),
    { ...stripe, webhookEndpoints: { ok: false, detail: "HTTP 500" } },
  );
  assertEquals(report.problems, []);
  for (const check of ["discord.permissions", "discord.roles", "discord.log_channel"] as const) {
    assert(!report.checked.includes(check), check);
  }
  assert(!report.checked.includes("stripe.webhook"));
  assertEquals(report.unanswered.map((u) => u.check), [
    "discord.guild",
    "discord.permissions",
    "discord.roles",
    "discord.log_channel",
    "stripe.webhook",
  ]);
});

Deno.test("lost Manage Roles, an outranked plan role and a deleted one each have a stable key", () => {
  const roles = guild().roles;
  assert(roles.ok);
  const outranked = judgeGuildHealth(
    guild({
      plans: [{ roleId: PLAN_ROLE, planName: "Gold" }, {
        roleId: "100000000000000009",
        planName: "Ghost",
      }],
      roles: {
        ok: true,
        value: roles.value.map((role) => role.id === PLAN_ROLE ? { ...role, position: 11 } : role),
      },
    }),
    null,
  );
  assertEquals(outranked.problems.map((p) => p.key), [
    `discord.permissions:role_outranks_bot:${PLAN_ROLE}`,
    "discord.roles:role_missing:100000000000000009",
  ]);
  const noManageRoles = judgeGuildHealth(
    guild({
      roles: {
        ok: true,
        value: roles.value.map((role) =>
          role.id === BOT_ROLE ? { ...role, permissions: "0" } : role
        ),
      },
    }),
    null,
  );
  assertEquals(noManageRoles.problems.map((p) => p.key), ["discord.permissions:no_manage_roles"]);
});

Deno.test("the Server Members intent is judged from the last reconciliation pass, once there is one", () => {
  assertEquals(
    judgeGuildHealth(guild({ reconciliationMode: "known_members" }), null).problems.map((p) =>
      p.key
    ),
    ["discord.members_intent:members_intent_off"],
  );
  assert(
    !judgeGuildHealth(guild({ reconciliationMode: null }), null).checked.includes(
      "discord.members_intent",
    ),
  );
});

Deno.test("without SUPABASE_URL any endpoint at /stripe-webhook counts; a disabled one does not", () => {
  const endpoint = {
    id: "we_2",
    url: "https://elsewhere.example/functions/v1/stripe-webhook",
    status: "enabled",
    enabled_events: ["customer.subscription.updated"],
  };
  const verdict = judgeWebhookEndpoints([endpoint], null);
  assertEquals(verdict.kind, "missing_events");
  assertEquals(judgeWebhookEndpoints([{ ...endpoint, status: "disabled" }], null).kind, "disabled");
  assertEquals(
    judgeWebhookEndpoints([endpoint], "https://p.supabase.co/functions/v1/stripe-webhook"),
    { kind: "none", elsewhere: endpoint.url },
  );
});

Deno.test("every problem is worded in both languages within a log line's 300 characters", () => {
  const report = judgeGuildHealth(
    guild({ botMember: { ok: true, value: "not_in_guild" }, reconciliationMode: "known_members" }),
    {
      ...stripe,
      webhookEndpoints: { ok: true, value: [] },
      portalConfigurations: { ok: true, value: [] },
    },
  );
  assertEquals(report.problems.map((p) => p.problem.code), [
    "bot_not_in_guild",
    "members_intent_off",
    "webhook_missing",
    "portal_not_configured",
  ]);
  for (const { problem } of report.problems) {
    for (const locale of LOCALES) {
      const text = healthProblemText(problem, locale);
      assert(text.length > 0 && text.length <= 300, text);
    }
  }
});
