/**
 * role-sync throughput and latency, against the Discord double with Discord's limits (per-route
 * buckets of 10 role changes per 10 s per guild, 50 requests/s global).
 *
 * 1. Drain: 2,000 grant jobs over 100 guilds, two invocations at once. Reports the rate of role
 *    calls as a ratio of the global limit (the binding one: 100 guilds' buckets allow 100/s) and
 *    the 429s received, in total and after each bucket's first answer.
 *    The most calls the double saw in any 1 s shows the global limit held.
 * 2. End to end: 200 revocations committed one by one, through the trigger, the recorded webhook,
 *    the dispatcher and role-sync on a loopback port, to the Discord call: p50 and p99.
 *
 * A load script (run once, not repeated by `deno bench`): `deno task bench role_sync`.
 */
import { startDispatcher } from "../../functions/_cli/dispatcher.ts";
import { createApp } from "../../functions/role-sync/app.ts";
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { startDiscordDouble } from "../doubles/discord.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert, first } from "../harness/assert.ts";
import { peakMemoryLine } from "./process_memory.ts";

const GUILDS = 100;
const MEMBERS_PER_GUILD = 20;
const GLOBAL_LIMIT = 50;
const SECRET = "bench-role-sync-secret-0123456789";
const BOT_TOKEN = "bench-bot-token-0123456789abcdef";

function percentile(sorted: number[], p: number): number {
  const value = sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  if (value === undefined) throw new Error("Cannot take a percentile of no samples");
  return value;
}

setLogSink(() => {});
const db = await createTestDatabase();
const discord = await startDiscordDouble({ botToken: BOT_TOKEN, requestLogLimit: 50_000 });
const appSql = createSql(db.url, { max: 20 });
const background: Promise<unknown>[] = [];
const deps = depsFromConfig(
  {
    secret: SECRET,
    botToken: BOT_TOKEN,
    applicationId: discord.applicationId,
    discordApiBaseUrl: discord.apiBaseUrl,
    databaseUrl: db.url,
  },
  { concurrency: 16, runInBackground: (work) => background.push(work) },
  appSql,
);
const app = createApp(deps);
try {
  const { sql } = db;
  const members: { guildId: string; userId: string; membershipId: string; role: string }[] = [];
  for (let g = 0; g < GUILDS; g++) {
    const guild = discord.addGuild({ botRolePosition: 10 });
    const role = discord.addRole(guild.id, { position: 5 }).id;
    await sql`insert into rolepass.guilds (id, name) values (${guild.id}, ${"Guild " + g})`;
    await sql`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval)
      values (${guild.id}, ${"price_bench_" + g}, ${role},
        ${sql.json({ en: { name: "Gold" } })}, 500, 'jpy', 'month')`;
    const rows = [];
    for (let m = 0; m < MEMBERS_PER_GUILD; m++) {
      const userId = `8${String(g).padStart(3, "0")}${String(m).padStart(14, "0")}`;
      discord.addMember(guild.id, userId);
      const token = `bench-${g}-${m}-${crypto.randomUUID()}`;
      discord.registerInteraction(token, { guildId: guild.id, userId });
      rows.push({ guild_id: guild.id, discord_user_id: userId, token });
    }
    const inserted = await sql<{ id: string; discord_user_id: string }[]>`
      insert into rolepass.memberships ${
      sql(rows.map((r) => ({ guild_id: r.guild_id, discord_user_id: r.discord_user_id })))
    } returning id, discord_user_id`;
    await sql`insert into rolepass.interaction_tokens ${
      sql(rows.map((r) => ({
        guild_id: r.guild_id,
        discord_user_id: r.discord_user_id,
        application_id: discord.applicationId,
        token: r.token,
        expires_at: new Date(Date.now() + 14 * 60_000),
      })))
    }`;
    for (const row of inserted) {
      members.push({
        guildId: guild.id,
        userId: row.discord_user_id,
        membershipId: row.id,
        role,
      });
    }
  }
  await sql`update rolepass.memberships m set entitled = true,
      entitled_role_id = p.discord_role_id, plan_id = p.id, status = 'active',
      change_cause = 'bench'
    from rolepass.plans p where p.guild_id = m.guild_id`;

  // 1. Drain.
  discord.clearLog();
  const started = performance.now();
  await Promise.all([
    drainRoleJobs(deps, Date.now() + 300_000),
    drainRoleJobs(deps, Date.now() + 300_000),
  ]);
  let { open } = first(
    await sql<{ open: number }[]>`select count(*)::int as open
    from rolepass.role_jobs where status in ('pending', 'running')`,
    "a row",
  );
  while (open > 0) {
    await drainRoleJobs(deps, Date.now() + 300_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    ({ open } = first(
      await sql<{ open: number }[]>`select count(*)::int as open
        from rolepass.role_jobs where status in ('pending', 'running')`,
      "a row",
    ));
  }
  const drainSeconds = (performance.now() - started) / 1000;
  const puts = discord.requests().filter((r) => r.method === "PUT");
  const granted = puts.filter((r) => r.status === 204);
  const span = (granted.at(-1)!.at - first(granted, "an item of granted").at) / 1000;
  const seenBucket = new Set<string>();
  let after = 0;
  for (const request of discord.requests()) {
    const key = `${request.route}:${request.path.split("/").slice(0, 3).join("/")}`;
    if (request.status === 429 && seenBucket.has(key)) after++;
    seenBucket.add(key);
  }
  // Discord counts the global limit per second; the most calls the double saw in any 1 s window.
  const globalTimes = discord.requests().filter((r) => !r.path.startsWith("/webhooks/"))
    .map((r) => r.at).sort((a, b) => a - b);
  let busiestSecond = 0;
  let windowStart = 0;
  for (const [j, time] of globalTimes.entries()) {
    while (time - (globalTimes[windowStart] ?? time) >= 1_000) windowStart++;
    busiestSecond = Math.max(busiestSecond, j - windowStart + 1);
  }
  const stats = discord.stats();
  const correct = members.filter((m) =>
    discord.memberRoles(m.guildId, m.userId)?.includes(m.role)
  ).length;
  console.log(
    `drain: ${granted.length} role grants (${correct}/${members.length} members correct) in ` +
      `${span.toFixed(1)} s of Discord calls (${drainSeconds.toFixed(1)} s wall) = ` +
      `${(granted.length / span).toFixed(1)} req/s = ` +
      `${(granted.length / span / GLOBAL_LIMIT).toFixed(3)} of the ${GLOBAL_LIMIT}/s limit; ` +
      `${stats.rateLimited} 429s (${stats.rateLimitedGlobal} global, ${after} after a bucket's ` +
      `first answer); at most ${busiestSecond} calls in any 1 s; ` +
      `${discord.messages({ kind: "followup" }).length} follow-ups`,
  );

  // 2. End to end through the dispatcher.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  await sql`select vault.create_secret(${`http://127.0.0.1:${server.addr.port}/role-sync`},
    'role_sync_url')`;
  await sql`select vault.create_secret(${SECRET}, 'role_sync_secret')`;
  const dispatcher = await startDispatcher({ databaseUrl: db.url, cronIntervalMs: 3_600_000 });
  // Both sides forget the drain's windows: the double's, and what role-sync learnt of them.
  discord.resetRateLimits();
  await sql`delete from rolepass.discord_rate_limits`;
  await sql`update rolepass.discord_global_rate_limit
    set sent_at = '{}', in_flight = '{}', blocked_until = null`;
  discord.clearLog();
  const committedAt = new Map<string, number>();
  const sample = members.filter((_, i) => i % MEMBERS_PER_GUILD < 2);
  for (const member of sample) {
    await sql`update rolepass.memberships set entitled = false, entitled_role_id = null,
      status = 'canceled', change_cause = 'bench' where id = ${member.membershipId}`;
    committedAt.set(member.userId, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 40));
  }
  const until = Date.now() + 30_000;
  const deletes = () => discord.requests().filter((r) => r.method === "DELETE");
  while (deletes().length < sample.length && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const latencies = deletes().map((request) => {
    const userId = request.path.split("/")[4];
    assert(userId, "userId is missing");
    return request.at - committedAt.get(userId)!;
  }).sort((a, b) => a - b);
  console.log(
    `end to end (commit -> trigger -> net queue -> dispatcher -> role-sync -> Discord): ` +
      `${latencies.length}/${sample.length} calls, p50 ${percentile(latencies, 50)} ms, ` +
      `p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms`,
  );
  await dispatcher.stop();
  await Promise.all(background);
  await server.shutdown();
  console.log(await peakMemoryLine("role-sync app, with the Discord double and the load"));
} finally {
  await appSql.end({ timeout: 5 });
  await discord.close();
  await db.drop();
  setLogSink(null);
}
