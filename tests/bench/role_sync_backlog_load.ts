/**
 * role-sync draining a large backlog at the production settings, with Discord's latency.
 *
 * BACKLOG_JOBS (100,000) due role grants over BACKLOG_GUILDS (200) guilds, queued in one statement
 * as a plan's role change or a reconciliation queues them, against the Discord double with
 * Discord's limits (10 role changes per 10 s per guild, 50 requests/s global) and every answer
 * held DISCORD_LATENCY_MS (100). The double runs in a process of its own
 * (discord_double_server.ts), so its CPU is not role-sync's. role-sync runs as production builds
 * it (depsFromConfig: its concurrency, a pool of 10): one invocation at a time drains for
 * DRAIN_SECONDS (60), as a wake-up would, while:
 *
 * - every 2 s a live change (a Stripe event's revocation committed through the membership
 *   trigger, so a live job) is made, alternately in a guild of its own and in a guild of the
 *   backlog; its latency is the time from the commit to Discord receiving the role call;
 *
 * and the double's log gives the rate of role calls (as a ratio of the global limit, the binding
 * one: 200 guilds' buckets allow 200/s), the 429s, the busiest 1 s, and whether any member got
 * the same role call twice. The floor is Discord's limit itself (50/s).
 *
 * `deno task bench role_sync_backlog`; sizes from the environment variables above.
 */
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { startDiscordDoubleProcess } from "./discord_double_process.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";
import { processMemory, SUPABASE_FUNCTION_MEMORY_MB } from "./process_memory.ts";
import { startStatementProfile } from "./statement_profile.ts";

const JOBS = Number(Deno.env.get("BACKLOG_JOBS") ?? "100000");
const GUILDS = Number(Deno.env.get("BACKLOG_GUILDS") ?? "200");
const LATENCY_MS = Number(Deno.env.get("DISCORD_LATENCY_MS") ?? "100");
const DRAIN_MS = Number(Deno.env.get("DRAIN_SECONDS") ?? "60") * 1000;
const LIVE_EVERY_MS = 2_000;
const LIVE_MEMBERS = 40;
const GLOBAL_LIMIT = 50;
const USER_PREFIX = "7";
const SECRET = "bench-role-sync-secret-0123456789";
const BOT_TOKEN = "bench-bot-token-0123456789abcdef";

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

setLogSink(() => {});
const db = await createTestDatabase();
const discord = await startDiscordDoubleProcess({
  botToken: BOT_TOKEN,
  requestLogLimit: 100_000,
});
const deps = depsFromConfig({
  secret: SECRET,
  botToken: BOT_TOKEN,
  applicationId: discord.applicationId,
  discordApiBaseUrl: discord.apiBaseUrl,
  databaseUrl: db.url,
});
try {
  const { sql } = db;
  const perGuild = Math.ceil(JOBS / GUILDS);
  const setupStarted = performance.now();
  // The backlog's guilds, and one quiet guild for live changes outside the backlog.
  const backlogGuilds = (await discord.addGuilds(
    Array.from({ length: GUILDS + 1 }, (_, g) => ({
      members: Array.from(
        { length: g < GUILDS ? perGuild : LIVE_MEMBERS },
        (_, m) => userIdOf(g, m),
      ),
    })),
  )).map(({ guildId, roleId }) => ({ id: guildId, role: roleId }));
  const quiet = first(backlogGuilds.splice(GUILDS, 1), "the quiet guild");
  const all = [...backlogGuilds, quiet];
  await sql`insert into rolepass.guilds (id, name)
    select id, 'Guild ' || id from unnest(${all.map((g) => g.id)}::text[]) id`;
  await sql`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id,
      discord_role_ids, display, unit_amount, currency, billing_interval)
    select g.id, 'price_' || g.id, g.role, array[g.role], '{"en": {"name": "Gold"}}'::jsonb, 500,
      'jpy', 'month'
    from unnest(${all.map((g) => g.id)}::text[], ${all.map((g) => g.role)}::text[])
      as g(id, role)`;
  // Members who pay, as a bulk load leaves them (no jobs yet)...
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.memberships (guild_id, discord_user_id, plan_id, status,
        entitled, entitled_role_id, entitled_role_ids, stripe_customer_id,
        stripe_subscription_id, subscription_live, change_cause)
      select p.guild_id, u.user_id, p.id, 'active', true, p.discord_role_id, p.discord_role_ids,
        'cus_' || u.user_id, 'sub_' || u.user_id, true, 'bench'
      from unnest(${all.map((g) => g.id)}::text[], ${
      all.map((_, g) => g < GUILDS ? perGuild : LIVE_MEMBERS)
    }::int[], ${all.map((_, g) => g)}::int[]) as g(id, members, position)
      join rolepass.plans p on p.guild_id = g.id
      cross join lateral (
        select ${USER_PREFIX}::text || lpad(g.position::text, 4, '0') || lpad(m::text, 12, '0')
          as user_id
        from generate_series(0, g.members - 1) m
      ) u`;
  });
  // ...then one job each for the backlog's members, queued in one statement with the triggers.
  await sql`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
      role_id, role_ids, cause)
    select m.id, m.guild_id, m.discord_user_id, true, m.entitled_role_id, m.entitled_role_ids,
      'reconcile'
    from rolepass.memberships m
    where m.guild_id <> ${quiet.id}
    order by m.discord_user_id
    limit ${JOBS}`;
  await sql`vacuum analyze rolepass.role_jobs`;
  const { queued } = first(
    await sql<{ queued: number }[]>`select count(*)::int as queued from rolepass.role_jobs
      where status = 'pending'`,
    "the queue's size",
  );
  console.log(
    `${queued.toLocaleString("en")} jobs queued over ${GUILDS} guilds in ` +
      `${((performance.now() - setupStarted) / 1000).toFixed(1)} s; Discord answers held ` +
      `${LATENCY_MS} ms; concurrency ${deps.concurrency}; draining for ${DRAIN_MS / 1000} s`,
  );

  const statementProfile = await startStatementProfile(sql);
  await discord.delayAnswers(LATENCY_MS);
  await discord.clearLog();

  // Live changes: revocations, alternately in the quiet guild and in a backlog guild.
  const liveTargets = await sql<{ id: string; discord_user_id: string; quiet: boolean }[]>`
    (select id, discord_user_id, true as quiet from rolepass.memberships
      where guild_id = ${quiet.id} order by discord_user_id limit ${LIVE_MEMBERS / 2})
    union all
    (select distinct on (guild_id) id, discord_user_id, false as quiet
      from rolepass.memberships
      where guild_id = any(${backlogGuilds.map((g) => g.id)}::text[])
      order by guild_id, discord_user_id desc limit ${LIVE_MEMBERS / 2})`;
  const quietTargets = liveTargets.filter((t) => t.quiet);
  const backlogTargets = liveTargets.filter((t) => !t.quiet);
  const committedAt = new Map<string, { at: number; quiet: boolean }>();

  const started = Date.now();
  const drainUntil = started + DRAIN_MS;
  let liveCount = 0;
  const live = (async () => {
    while (Date.now() + LIVE_EVERY_MS < drainUntil) {
      await new Promise((resolve) => setTimeout(resolve, LIVE_EVERY_MS));
      const pool = liveCount % 2 === 0 ? quietTargets : backlogTargets;
      const target = pool[liveCount >> 1];
      liveCount++;
      if (!target) continue;
      // A Stripe event's change: its job is live.
      await sql`update rolepass.memberships set entitled = false, entitled_role_id = null,
        entitled_role_ids = '{}', status = 'canceled', subscription_live = false,
        change_cause = 'customer.subscription.deleted',
        change_event_id = ${`evt_bench_live_${liveCount}`} where id = ${target.id}`;
      committedAt.set(target.discord_user_id, { at: Date.now(), quiet: target.quiet });
    }
  })();
  // One invocation at a time, as wake-ups start them; one that finds nothing due ends, and the
  // next starts 100 ms later (a wake-up's round trip), not a minute later as the sweep's would.
  const totals = { invocations: 0, empty: 0, claimed: 0, done: 0, retried: 0, failed: 0 };
  while (Date.now() < drainUntil) {
    const summary = await drainRoleJobs(deps, drainUntil);
    totals.invocations++;
    totals.claimed += summary.claimed;
    totals.done += summary.done;
    totals.retried += summary.retried;
    totals.failed += summary.failed;
    if (summary.claimed === 0) {
      totals.empty++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await live;
  const elapsed = (Date.now() - started) / 1000;

  const requests = await discord.requests();
  const roleCalls = requests.filter((r) => r.path.includes("/roles/"));
  const granted = roleCalls.filter((r) => r.method === "PUT" && r.status === 204);
  const span = granted.length > 1
    ? ((granted.at(-1)?.at ?? 0) - first(granted, "a grant").at) / 1000
    : elapsed;
  const seen = new Map<string, number>();
  for (const call of roleCalls.filter((r) => r.status === 204)) {
    const key = `${call.method} ${call.path}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const repeated = [...seen.values()].filter((n) => n > 1).length;
  const globalTimes = requests.filter((r) => !r.path.startsWith("/webhooks/"))
    .map((r) => r.at).sort((a, b) => a - b);
  let busiestSecond = 0;
  let windowStart = 0;
  for (const [j, time] of globalTimes.entries()) {
    while (time - (globalTimes[windowStart] ?? time) >= 1_000) windowStart++;
    busiestSecond = Math.max(busiestSecond, j - windowStart + 1);
  }
  const stats = await discord.stats();
  const { remaining } = first(
    await sql<{ remaining: number }[]>`select count(*)::int as remaining
      from rolepass.role_jobs where status in ('pending', 'running')`,
    "the open jobs",
  );

  const liveLatencies = (quietOnly: boolean) =>
    requests.filter((r) => r.method === "DELETE" && r.path.includes("/roles/"))
      .flatMap((request) => {
        const userId = request.path.split("/")[4];
        assert(userId, "a DELETE names its member");
        const committed = committedAt.get(userId);
        return committed && committed.quiet === quietOnly ? [request.at - committed.at] : [];
      }).sort((a, b) => a - b);
  const describe = (latencies: number[], sent: number) =>
    latencies.length === 0
      ? `0/${sent} reached Discord`
      : `${latencies.length}/${sent} reached Discord, p50 ${percentile(latencies, 50)} ms, ` +
        `max ${latencies.at(-1)} ms`;
  const sentQuiet = [...committedAt.values()].filter((c) => c.quiet).length;
  const sentBacklog = committedAt.size - sentQuiet;

  const rate = granted.length / span;
  console.log(
    `drain: ${granted.length} role grants in ${span.toFixed(1)} s of Discord calls = ` +
      `${rate.toFixed(1)} req/s = ${(rate / GLOBAL_LIMIT).toFixed(3)} of the ${GLOBAL_LIMIT}/s ` +
      `limit (target >= 0.95: ${rate / GLOBAL_LIMIT >= 0.95 ? "met" : "NOT met"}); ` +
      `${stats.rateLimited} 429s (${stats.rateLimitedGlobal} global); at most ${busiestSecond} ` +
      `calls in any 1 s; ${remaining.toLocaleString("en")} jobs still open`,
  );
  console.log(
    `invocations: ${totals.invocations} (${totals.empty} found nothing due); jobs claimed ` +
      `${totals.claimed}, done ${totals.done}, put back ${totals.retried} (waiting for a rate-limit ` +
      `slot or after a 429), failed ${totals.failed}`,
  );
  console.log(
    `live changes while the backlog drains (commit -> Discord's role call): in a guild without ` +
      `a backlog ${describe(liveLatencies(true), sentQuiet)}; in a guild of the backlog ` +
      `${describe(liveLatencies(false), sentBacklog)}`,
  );
  console.log(`role calls made twice for the same member and role: ${repeated}`);
  await statementProfile?.report(Math.max(1, totals.claimed), "job");
  const ownPeakMb = (await processMemory()).peakMb;
  console.log(
    `peak RSS (VmHWM): role-sync and the load ${ownPeakMb.toFixed(0)} MiB = ` +
      `${(ownPeakMb / SUPABASE_FUNCTION_MEMORY_MB).toFixed(2)} of Supabase's ` +
      `${SUPABASE_FUNCTION_MEMORY_MB} MB per function; the Discord double's process ` +
      `${(await discord.peakMemoryMb()).toFixed(0)} MiB`,
  );
} finally {
  await deps.sql.end({ timeout: 5 });
  await discord.close();
  await db.drop();
  setLogSink(null);
}

function userIdOf(guild: number, member: number): string {
  return `${USER_PREFIX}${String(guild).padStart(4, "0")}${String(member).padStart(12, "0")}`;
}
