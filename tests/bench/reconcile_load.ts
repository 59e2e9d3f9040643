/**
 * The Discord-side reconciliation pass over one guild of 1,000, 10,000 and 100,000 members, against
 * the Discord double with Discord's limits (50 requests/s global, 10 role changes per 10 s per
 * guild) and a durable PostgreSQL. Every member has a membership, half of them entitled; 5 of the
 * entitled miss their role and 5 others hold it by hand (the `remove` policy). The pass runs
 * through role-sync's real `/reconcile` route in the background (waitUntil, 100 s budget, as on
 * Supabase), called again 50 ms after a run that did not complete
 * (production waits a minute: a run defers while role jobs of the guild are due, and the repairs it
 * queued are such jobs), while role-sync drains role jobs every 10 ms, as its invocations would.
 *
 * Reports, per size: Discord requests the pass used (List Guild Members pages), the time those
 * requests need at the rate budget (the floor: the route's bucket of 10 per 10 s, 50/s global) next to the pass's wall time, database time
 * per member (the reconciliation store's queries, timed around the real store), and the latency of
 * a live role job queued in the middle of the pass, from its commit to the double holding the role
 * (measured, not asserted). The double's own cost (it sorts the guild's members for every page) is
 * part of the wall time: the ratio to the floor says how far the pass is from the rate budget.
 *
 * `deno task bench reconcile`. `RECONCILE_SIZES=1000,10000` to run fewer sizes.
 */
import { createApp } from "../../functions/role-sync/app.ts";
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { createReconciliationStore } from "../../functions/role-sync/reconciliation_store.ts";
import type { ReconciliationStore } from "../../functions/role-sync/reconciliation_store.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { setLogSink } from "../../functions/_shared/log.ts";
import { startDiscordDouble } from "../doubles/discord.ts";
import { createTestDatabase } from "../harness/database.ts";
import { assert } from "../harness/assert.ts";

const SIZES = (Deno.env.get("RECONCILE_SIZES") ?? "1000,10000,100000").split(",").map(Number);
const GLOBAL_LIMIT = 50;
const SECRET = "bench-reconcile-secret-0123456789";
const BOT_TOKEN = "bench-bot-token-0123456789abcdef";

setLogSink(() => {});
const db = await createTestDatabase();
const discord = await startDiscordDouble({ botToken: BOT_TOKEN, requestLogLimit: 500_000 });
const appSql = createSql(db.url, { max: 10 });

/** The real store, with the time spent in each of its queries summed. */
function timedStore(store: ReconciliationStore, spent: { ms: number }): ReconciliationStore {
  const timed = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(store)) {
    timed[name] = async (...args: unknown[]) => {
      const start = performance.now();
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        spent.ms += performance.now() - start;
      }
    };
  }
  return timed as unknown as ReconciliationStore;
}

interface Row {
  members: number;
  pages: number;
  floorS: number;
  wallS: number;
  dbUsPerMember: number;
  repairs: number;
  liveMs: number | null;
}

let nextUser = 700_000_000_000_000_000n;

async function runSize(size: number): Promise<Row> {
  const { sql } = db;
  const guild = discord.addGuild({ botRolePosition: 10 });
  const role = discord.addRole(guild.id, { name: "Gold", position: 5 }).id;
  await sql`insert into rolepass.guilds (id, name, role_drift_policy)
    values (${guild.id}, 'Bench guild', 'remove')`;
  const [plan] = await sql<{ id: string }[]>`
    insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
      currency, billing_interval)
    values (${guild.id}, ${"price_" + guild.id}, ${role}, ${sql.json({ en: { name: "Gold" } })},
      500, 'jpy', 'month')
    returning id`;
  assert(plan, "plan is missing");

  const ids: string[] = [];
  for (let i = 0; i < size; i++) {
    const userId = (nextUser++).toString();
    ids.push(userId);
    const entitled = i % 2 === 0;
    // 5 entitled members miss their role and 5 others hold it by hand, whatever the size: one
    // burst of role changes (Discord allows 10 per 10 s per guild), so the figures are the read's.
    const drifted = i % Math.floor(size / 5) === 0 ? i + 1 < size : false;
    const holds = entitled ? !drifted : i % Math.floor(size / 5) === 1;
    discord.addMember(guild.id, userId, { roles: holds ? [role] : [] });
  }
  for (let start = 0; start < size; start += 10_000) {
    const chunk = ids.slice(start, start + 10_000);
    await sql`
      insert into rolepass.memberships (guild_id, discord_user_id, locale, stripe_customer_id,
        stripe_subscription_id, entitled, entitled_role_id, plan_id, status, subscription_live)
      select ${guild.id}, u, 'en', 'cus_' || u, 'sub_' || u, (n + ${start}) % 2 = 0,
        case when (n + ${start}) % 2 = 0 then ${role} end, ${plan.id}::uuid,
        case when (n + ${start}) % 2 = 0 then 'active' else 'canceled' end,
        (n + ${start}) % 2 = 0
      from unnest(${chunk}::text[]) with ordinality as t(u, n0), lateral (select n0 - 1 as n) k`;
  }
  // The rows were written as they already are in Discord: no role job is due for them.
  await sql`delete from rolepass.role_jobs where guild_id = ${guild.id}`;
  await sql`delete from rolepass.notices`;
  await sql`vacuum analyze rolepass.memberships`;

  const spent = { ms: 0 };
  const background: Promise<unknown>[] = [];
  const deps = depsFromConfig(
    {
      secret: SECRET,
      botToken: BOT_TOKEN,
      applicationId: discord.applicationId,
      discordApiBaseUrl: discord.apiBaseUrl,
      databaseUrl: db.url,
    },
    // As on Supabase: the pass runs after the answer (waitUntil), with the background budget.
    { runInBackground: (work) => background.push(work) },
    appSql,
  );
  const app = createApp({
    ...deps,
    reconciliation: {
      ...deps.reconciliation,
      store: timedStore(createReconciliationStore(appSql), spent),
    },
  });

  const requestsBefore = discord.requests().length;
  const live = ids[3]!; // not entitled, holds nothing
  const [liveRow] = await sql<{ id: string }[]>`
    select id from rolepass.memberships where discord_user_id = ${live}`;
  assert(liveRow, "live member is missing");
  let liveMs: number | null = null;

  const started = performance.now();
  let done = false;
  let repairs = 0;
  let last = "";
  const pass = (async () => {
    const giveUp = performance.now() + 15 * 60_000;
    while (performance.now() < giveUp) {
      const response = await app.request("/role-sync/reconcile", {
        method: "POST",
        headers: { "x-rolepass-secret": SECRET, "Content-Type": "application/json" },
        body: JSON.stringify({ guild_id: guild.id }),
      });
      assert(response.status === 202, `reconcile answered ${response.status}`);
      await Promise.all(background.splice(0));
      const [result] = await sql<{ status: string; repairs_queued: number; last_error: string }[]>`
        select status, repairs_queued, last_error from rolepass.guild_reconciliations
        where guild_id = ${guild.id}`;
      assert(result, "the pass recorded nothing");
      last = JSON.stringify(result);
      if (result.status === "completed") {
        repairs = result.repairs_queued;
        return;
      }
      if (result.status === "stopped") throw new Error(last);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`the pass did not complete: ${last}`);
  })().finally(() => done = true);
  const drainer = (async () => {
    while (!done || liveMs === null) {
      await drainRoleJobs(deps, Date.now() + 5_000);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  // A live change in the middle of the pass: role-sync drains it while the pass reads pages.
  const liveJob = (async () => {
    while (!done && discord.requests().length - requestsBefore < Math.max(1, size / 2000)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const queuedAt = performance.now();
    await sql`update rolepass.memberships set entitled = true, entitled_role_id = ${role},
        status = 'active', subscription_live = true, change_cause = 'bench_live'
      where id = ${liveRow.id}`;
    while (!(discord.memberRoles(guild.id, live) ?? []).includes(role)) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (performance.now() - queuedAt > 60_000) {
        liveMs = -1;
        return;
      }
    }
    liveMs = performance.now() - queuedAt;
  })();
  await pass;
  const wallS = (performance.now() - started) / 1000;
  await liveJob;
  await drainer;

  const pages = discord.requests().slice(requestsBefore)
    .filter((r) => r.method === "GET" && r.path.startsWith(`/guilds/${guild.id}/members?`)).length;
  return {
    members: size,
    pages,
    // The binding limit: List Guild Members' bucket (the double's default, 10 per 10 s per guild),
    // the first 10 pages free; the global 50/s for small guilds.
    floorS: Math.max(pages / GLOBAL_LIMIT, pages - 10),
    wallS,
    dbUsPerMember: (spent.ms * 1000) / size,
    repairs,
    liveMs,
  };
}

try {
  const rows: Row[] = [];
  for (const size of SIZES) rows.push(await runSize(size));
  console.log(
    "members | List pages | floor (rate budget) | pass wall | ratio | DB µs/member | repairs | live job",
  );
  for (const r of rows) {
    console.log(
      `${r.members} | ${r.pages} | ${r.floorS.toFixed(2)} s | ${r.wallS.toFixed(2)} s | ${
        (r.wallS / r.floorS).toFixed(1)
      }× | ${r.dbUsPerMember.toFixed(1)} | ${r.repairs} | ${
        r.liveMs === null || r.liveMs < 0 ? "not within 60 s" : `${r.liveMs.toFixed(0)} ms`
      }`,
    );
  }
  const [small, large] = [rows[0], rows.at(-1)];
  if (small && large && small !== large) {
    console.log(
      `growth ${small.members} -> ${large.members}: pages ×${
        (large.pages / small.pages).toFixed(1)
      }, ` +
        `wall ×${(large.wallS / small.wallS).toFixed(1)}, DB per member ×${
          (large.dbUsPerMember / small.dbUsPerMember).toFixed(2)
        }`,
    );
  }
} catch (error) {
  console.error(error);
  throw error;
} finally {
  await appSql.end({ timeout: 5 });
  await discord.close();
  await db.drop();
}
