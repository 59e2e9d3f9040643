/**
 * role-sync under concurrency and reordering: leases, two invocations at once, late jobs.
 */
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { withRoleSync } from "./role_sync_fixtures.ts";

const member = (n: number) => `5000000000000${String(n).padStart(5, "0")}`;

Deno.test("a job whose worker died is picked up again once its lease expires, not before", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(member(1));
    await w.entitle(alice, "gold");
    const [claimed] = await w.appSql`select * from rolepass.claim_role_jobs(1, 60)`;
    assert(claimed, "claimed is missing");
    assertEquals(claimed.status, "running");
    let summary = await w.drain(2_000);
    assertEquals(summary.claimed, 0);
    await w.db.sql`update rolepass.role_jobs set lease_expires_at = now() - interval '1 second'`;
    summary = await w.drain(2_000);
    assertEquals(summary.done, 1);
    assertEquals(w.discord.memberRoles(w.guildId, member(1))?.includes(w.goldRoleId), true);
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.attempts], ["done", 2]);
    const stale = await w.appSql`select rolepass.finish_role_job(${job.id}, ${claimed.claim_id},
      'failed', 'gave_up') as ok`;
    assertEquals(
      first(stale, "an item of stale").ok,
      false,
      "the dead worker's claim can no longer write",
    );
  });
});

Deno.test("two invocations draining the same jobs at once never call Discord twice for a job", async () => {
  await withRoleSync(async (w) => {
    const count = 40;
    for (let i = 0; i < count; i++) {
      await w.entitle(await w.addMember(member(i)), "gold");
    }
    const deadline = Date.now() + 30_000;
    const [first, second] = await Promise.all([
      drainRoleJobs(w.deps, deadline),
      drainRoleJobs(w.deps, deadline),
    ]);
    assertEquals(first.done + second.done, count);
    assert(first.done > 0 && second.done > 0, `${first.done} / ${second.done}`);
    const puts = w.discord.requests().filter((r) => r.method === "PUT" && r.status === 204);
    assertEquals(puts.length, count);
    assertEquals(new Set(puts.map((r) => r.path)).size, count);
    assertEquals(w.discord.messages({ kind: "dm" }).length, count);
    assertEquals(w.discord.stats().rateLimited, 0);
  }, {
    tuning: { concurrency: 4 },
    double: {
      rateLimits: {
        buckets: {
          roles: { limit: 100, resetAfterSeconds: 1 },
          dm_channels: { limit: 100, resetAfterSeconds: 1 },
          messages: { limit: 100, resetAfterSeconds: 1 },
        },
      },
    },
  });
});

Deno.test("a revoke that arrives before its grant leaves the role revoked", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(member(1));
    await w.entitle(alice, "gold");
    await w.entitle(alice, null);
    // The grant's job is late: the revoke's job is done first, then the grant's job runs.
    const [grant, revoke] = await w.jobs();
    assert(grant, "grant is missing");
    assert(revoke, "revoke is missing");
    await w.db.sql`update rolepass.role_jobs set next_attempt_at = now() + interval '1 hour'
      where id = ${grant.id}`;
    await w.drain();
    await w.db.sql`update rolepass.role_jobs set next_attempt_at = now() where id = ${grant.id}`;
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, member(1))?.includes(w.goldRoleId), false);
    const jobs = await w.jobs();
    assertEquals(jobs.map((j) => j.id), [grant.id, revoke.id]);
    assertEquals(jobs.every((j) => j.status === "done"), true);
  });
});

Deno.test("a job for a membership that changed again before it ran applies the newest state once", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(member(1));
    await w.entitle(alice, "gold");
    await w.entitle(alice, "silver");
    await w.entitle(alice, null);
    await w.entitle(alice, "gold");
    await w.settle();
    const roles = w.discord.memberRoles(w.guildId, member(1)) ?? [];
    assertEquals([roles.includes(w.goldRoleId), roles.includes(w.silverRoleId)], [true, false]);
    const jobs = await w.jobs();
    assertEquals(jobs.map((j) => j.outcome), ["superseded", "superseded", "superseded", "applied"]);
    assertEquals(w.discord.messages({ kind: "dm" }).length, 1);
  });
});

Deno.test("a job that read the membership just before it changed is followed by the newer job", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(member(1));
    await w.entitle(alice, "gold");
    // Hold the grant's PUT until the membership has been revoked in the database.
    w.discord.inject({ method: "PUT", path: /\/roles\//, delayMs: 400, times: 1 });
    const draining = w.drain();
    await new Promise((resolve) => setTimeout(resolve, 150));
    await w.entitle(alice, null);
    await draining;
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, member(1))?.includes(w.goldRoleId), false);
  });
});

Deno.test("a claim takes one job per guild before a second of any, and a guild with a spent role bucket last", async () => {
  await withRoleSync(async (w) => {
    for (let i = 0; i < 3; i++) await w.entitle(await w.addMember(member(10 + i)), "gold");
    // A second guild whose one job is younger than the first guild's three.
    const other = w.discord.addGuild({ botRolePosition: 10 });
    const otherRole = w.discord.addRole(other.id, { position: 5 }).id;
    const sql = w.db.sql;
    await sql`insert into rolepass.guilds (id, name) values (${other.id}, 'Other guild')`;
    const [plan] = await sql`insert into rolepass.plans (guild_id, stripe_price_id,
        discord_role_id, display, unit_amount, currency, billing_interval)
      values (${other.id}, 'price_other', ${otherRole}, ${sql.json({ en: { name: "Other" } })},
        500, 'jpy', 'month') returning id`;
    assert(plan, "plan is missing");
    await sql`insert into rolepass.memberships (guild_id, discord_user_id)
      values (${other.id}, ${member(20)})`;
    await sql`update rolepass.memberships set entitled = true, entitled_role_id = ${otherRole},
        plan_id = ${plan.id}, status = 'active', change_cause = 'test'
      where guild_id = ${other.id}`;

    const both = await w.appSql`select guild_id from rolepass.claim_role_jobs(2, 60)`;
    assertEquals(both.map((j) => j.guild_id).sort(), [w.guildId, other.id].sort());
    await sql`update rolepass.role_jobs set status = 'pending', lease_expires_at = null,
      claim_id = null where status = 'running'`;

    // The first guild's bucket is spent for 10 s: the other guild's job goes first.
    await sql`insert into rolepass.discord_rate_limits (route_key, request_limit, remaining,
        reset_at)
      values (${"roles:" + w.guildId}, 10, 0, now() + interval '10 seconds')`;
    const [first] = await w.appSql`select guild_id from rolepass.claim_role_jobs(1, 60)`;
    assert(first, "first is missing");
    assertEquals(first.guild_id, other.id);
  });
});

Deno.test("with more guilds waiting than one claim reads, every guild gets its turn before any gets a second", async () => {
  await withRoleSync(async (w) => {
    const guilds = 45;
    const sql = w.db.sql;
    await sql`insert into rolepass.guilds (id, name)
      select (110000000000000000 + g)::text, 'Guild ' || g from generate_series(1, ${guilds}) g`;
    // Three waiting members per guild, the oldest jobs in the guilds with the lowest ids.
    await sql`insert into rolepass.memberships (guild_id, discord_user_id)
      select (110000000000000000 + g)::text, (510000000000000000 + g * 10 + n)::text
      from generate_series(1, ${guilds}) g, generate_series(1, 3) n`;
    await sql`update rolepass.memberships set entitled = true, entitled_role_id = ${w.goldRoleId},
        status = 'active', change_cause = 'test'
      where guild_id like '11%'`;
    await sql`update rolepass.role_jobs set next_attempt_at = now() - make_interval(secs =>
      1000 - (guild_id::numeric - 110000000000000000))`;
    const claimed: string[] = [];
    for (let i = 0; i < guilds; i++) {
      const [job] = await w.appSql`select guild_id from rolepass.claim_role_jobs(1, 60)`;
      assert(job, "job is missing");
      claimed.push(job.guild_id);
    }
    assertEquals(new Set(claimed).size, guilds);
  });
});
