/**
 * `/rolepass health` through the signed interactions endpoint, and the periodic health check
 * (pg_cron every 30 minutes -> role-sync `/health-checks`): the doctor's checks that can run from
 * a function, judged by `_core/health.ts`; each problem told to the operator log channel once
 * when it appears and once when it is fixed, also while Discord fails 30% of calls.
 */
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import {
  adminRequests,
  type ConsoleWorld,
  EVERYONE_OVERRIDE,
  withConsoleWorld,
} from "./admin_console_fixtures.ts";

const MANAGE_ROLES = 1n << 28n;
const WEBHOOK_URL = "https://project.supabase.co/functions/v1/stripe-webhook";

/**
 * A setup with nothing wrong: Manage Roles, a webhook endpoint sending everything, and a portal
 * that lets members cancel and change their card (the double's own default lets them cancel only).
 */
async function healthy(world: ConsoleWorld) {
  world.discord.setBotRole(world.guildId, { permissions: MANAGE_ROLES });
  const double = world.stripe.stripeDouble;
  double.createWebhookEndpoint({ url: WEBHOOK_URL, enabled_events: ["*"] });
  double.configurePortal(true);
  const list = await world.stripe.stripe.billingPortal.configurations.list();
  for (const configuration of list.data) {
    configuration.features.payment_method_update.enabled = true;
  }
  double.inject({
    method: "GET",
    path: "/v1/billing_portal/configurations",
    status: 200,
    body: list,
  });
}

function logLines(world: ConsoleWorld): string[] {
  return world.discord.messages({ channelId: world.logChannelId }).map((m) => m.content);
}

async function openProblems(world: ConsoleWorld): Promise<string[]> {
  const rows = await world.stripe.db.sql<{ problem_key: string }[]>`
    select problem_key from rolepass.health_problems where fixed_at is null order by id`;
  return rows.map((row) => row.problem_key);
}

Deno.test("health answers deferred, then role-sync edits the answer with each problem and its fix", async () => {
  await withConsoleWorld(async (world) => {
    world.discord.setBotRole(world.guildId, { permissions: 0 });
    world.stripe.stripeDouble.configurePortal(true);
    const { reply } = await world.run("health");
    assertEquals(reply, { type: 5, data: { flags: 64 } });
    const woke = await world.wakeAdminRequests();
    assertEquals(woke.answered, 1);
    const [original] = world.discord.messages({ kind: "original" });
    assert(original, "the answer was edited");
    assert(original.content.startsWith("**Health**"), original.content);
    assert(original.content.includes("The bot lacks Manage Roles"), original.content);
    assert(
      original.content.includes("No Stripe webhook endpoint reaches rolepass"),
      original.content,
    );
    assertEquals((await adminRequests(world)).map((r) => [r.status, r.interaction_token]), [
      ["answered", null],
    ]);

    await healthy(world);
    await world.run("health", { locale: "ja" });
    await world.wakeAdminRequests();
    const fixed = world.discord.messages({ kind: "original" }).at(-1);
    assert(fixed?.content.includes("問題は見つかりませんでした"), fixed?.content);
    assertEquals(world.discord.specViolations(), []);
  });
});

Deno.test("health names a plan role that no longer exists, one the bot ranks below, and a log channel that is gone", async () => {
  await withConsoleWorld(async (world) => {
    await healthy(world);
    const high = world.discord.addRole(world.guildId, { name: "Whale", position: 20 });
    await world.stripe.db.sql`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, sort_order)
      values (${world.guildId}, 'price_whale', ${high.id}, ${
      world.stripe.db.sql.json({ en: { name: "Whale" } })
    }, 9800, 'jpy', 'month', 2),
        (${world.guildId}, 'price_ghost', '399999999999999999', ${
      world.stripe.db.sql.json({ en: { name: "Ghost" } })
    }, 100, 'jpy', 'month', 3)`;
    await world.stripe.db.sql`update rolepass.guilds
      set operator_log_channel_id = '398888888888888888' where id = ${world.guildId}`;
    await world.run("health");
    await world.wakeAdminRequests();
    const [original] = world.discord.messages({ kind: "original" });
    assert(original, "the answer was edited");
    assert(
      original.content.includes(`The bot's role is below <@&${high.id}>`),
      original.content,
    );
    assert(
      original.content.includes('The role 399999999999999999 of plan "Ghost" no longer exists'),
      original.content,
    );
    assert(
      original.content.includes("The operator log channel 398888888888888888 no longer exists"),
      original.content,
    );
  });
});

Deno.test("health is refused without Manage Server, even through a command permission override, and in DMs", async () => {
  await withConsoleWorld(async (world) => {
    for (const permissions of ["0", EVERYONE_OVERRIDE]) {
      const { reply } = await world.run("health", { permissions });
      assertEquals(reply.data?.content, "`/rolepass` needs the Manage Server permission.");
    }
    const dm = await world.run("health", { guildId: null });
    assertEquals(dm.reply.data?.content, "`/rolepass` works only inside a server.");
    const unknown = await world.run("health", { guildId: "390000000000000001" });
    assertEquals(unknown.reply.data?.content, "This server is not set up in rolepass yet.");
    assertEquals(await adminRequests(world), []);
  });
});

Deno.test("the periodic check is scheduled every 30 minutes and wakes role-sync's /health-checks", async () => {
  await withConsoleWorld(async (world) => {
    const { sql } = world.stripe.db;
    const [job] = await sql<{ schedule: string; command: string }[]>`
      select schedule, command from cron.job where jobname = 'rolepass-health-check'`;
    assertEquals(job?.schedule, "*/30 * * * *");
    await sql.unsafe(job.command);
    const [wake] = await sql<{ url: string }[]>`
      select url from net.http_request_queue order by id desc limit 1`;
    assertEquals(wake?.url, "http://localhost/functions/v1/role-sync/health-checks");
  });
});

Deno.test("the periodic check tells the log channel once when a problem appears and once when it is fixed", async () => {
  await withConsoleWorld(async (world) => {
    await healthy(world);
    assertEquals((await world.wakeHealthChecks()).found, 0);
    world.discord.setBotRole(world.guildId, { permissions: 0 });
    assertEquals((await world.wakeHealthChecks()).found, 1);
    assertEquals((await world.wakeHealthChecks()).found, 0);
    await world.settle();
    assertEquals(await openProblems(world), ["discord.permissions:no_manage_roles"]);
    // The bot cannot manage roles, but it may still post: the log channel is told.
    assertEquals(logLines(world).length, 1);
    assert(
      logLines(world)[0]?.startsWith(
        "🩺 問題が見つかりました: ボットに「ロールの管理」権限がありません",
      ),
    );

    world.discord.setBotRole(world.guildId, { permissions: MANAGE_ROLES });
    assertEquals((await world.wakeHealthChecks()).fixed, 1);
    assertEquals((await world.wakeHealthChecks()).fixed, 0);
    await world.settle();
    assertEquals(await openProblems(world), []);
    assertEquals(logLines(world).length, 2);
    assert(
      logLines(world)[1]?.startsWith(
        "✅ 問題が解決しました: ボットに「ロールの管理」権限がありません",
      ),
    );
    assertEquals(world.discord.specViolations(), []);
  });
});

Deno.test("with 30% of Discord calls failing, a problem and its fix are each told exactly once", async () => {
  await withConsoleWorld(async (world) => {
    await healthy(world);
    await world.wakeHealthChecks();
    world.discord.randomFaults({ rate: 0.3, seed: 20261202, timeoutMs: 300 });
    world.discord.setBotRole(world.guildId, { permissions: 0 });
    for (let run = 0; run < 10; run++) {
      await world.wakeHealthChecks();
      await drainOnce(world);
    }
    world.discord.setBotRole(world.guildId, { permissions: MANAGE_ROLES });
    for (let run = 0; run < 10; run++) {
      await world.wakeHealthChecks();
      await drainOnce(world);
    }
    const faults = world.discord.stats().faultsInjected;
    world.discord.clearFaults();
    // The 429s left rate-limit windows open: a run that cannot wait them out answers nothing,
    // as a real run would, and a later run finds the fix.
    // Waited by time, not by a count of runs: on a loaded machine a 250 ms Discord timeout can
    // leave several runs without an answer.
    const giveUpAt = Date.now() + 90_000;
    while (Date.now() < giveUpAt && (await openProblems(world)).length > 0) {
      await world.wakeHealthChecks();
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await world.stripe.db.sql`update rolepass.notices set next_attempt_at = now()
      where status in ('pending', 'running') and lease_expires_at is null`;
    await world.settle();
    assert(faults > 0, "faults were injected");
    const lines = logLines(world);
    assertEquals(lines.filter((line) => line.startsWith("🩺")).length, 1, lines.join("\n"));
    assertEquals(lines.filter((line) => line.startsWith("✅")).length, 1, lines.join("\n"));
    assertEquals(await openProblems(world), []);
    const lost = await world.stripe.db.sql`
      select id from rolepass.notices where status <> 'sent'`;
    assertEquals(lost.length, 0, "no log line lost");
  }, {
    // As the role-sync chaos test: enough attempts that a 30% fault rate cannot exhaust them.
    tuning: {
      discordTimeoutMs: 250,
      retryPolicy: { maxAttempts: 14, baseDelayMs: 20, maxDelayMs: 200 },
    },
  });
});

async function drainOnce(world: ConsoleWorld) {
  await drainRoleJobs(world.roleSyncDeps, Date.now() + 2_000);
}
