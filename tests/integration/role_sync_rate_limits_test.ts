/**
 * Discord's rate limits, shared through the database by every role-sync instance.
 */
import { depsFromConfig } from "../../functions/role-sync/config.ts";
import { drainRoleJobs } from "../../functions/role-sync/role_sync.ts";
import { createSql } from "../../functions/_shared/db.ts";
import { createDiscordApi, discordRoutes } from "../../functions/_shared/discord_api.ts";
import { createRateLimitedDiscord } from "../../functions/_shared/discord_rate_limits.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { BOT_TOKEN, ROLE_SYNC_SECRET, withRoleSync } from "./role_sync_fixtures.ts";

const member = (n: number) => `9100000000000${String(n).padStart(5, "0")}`;

Deno.test("two instances draining a burst in one guild learn the bucket from headers and get no 429", async () => {
  await withRoleSync(async (w) => {
    const count = 25;
    for (let i = 0; i < count; i++) await w.entitle(await w.addMember(member(i)), "gold");
    // A second instance: its own pool and clients, the same database.
    const otherSql = createSql(w.db.url, { max: 5 });
    try {
      const other = depsFromConfig(
        {
          secret: ROLE_SYNC_SECRET,
          botToken: BOT_TOKEN,
          applicationId: w.discord.applicationId,
          discordApiBaseUrl: w.discord.apiBaseUrl,
          databaseUrl: w.db.url,
        },
        { runInBackground: undefined, concurrency: 4 },
        otherSql,
      );
      const deadline = Date.now() + 30_000;
      await Promise.all([drainRoleJobs(w.deps, deadline), drainRoleJobs(other, deadline)]);
      await w.settle();
    } finally {
      await otherSql.end({ timeout: 5 });
    }
    const puts = w.discord.requests().filter((r) => r.method === "PUT");
    assertEquals(puts.filter((r) => r.status === 204).length, count);
    assertEquals(w.discord.stats().rateLimited, 0);
    const [bucket] = await w.db.sql`select request_limit, bucket from rolepass.discord_rate_limits
      where route_key = ${"roles:" + w.guildId}`;
    assert(bucket, "bucket is missing");
    assertEquals(bucket.request_limit, 10);
    assert(bucket.bucket);
    // 25 role changes in windows of 10 per second: at least two full windows.
    assert(
      puts.at(-1)!.at - first(puts, "an item of puts").at >= 1_900,
      `${puts.at(-1)!.at - first(puts, "an item of puts").at} ms`,
    );
  }, {
    double: {
      rateLimits: {
        buckets: {
          roles: { limit: 10, resetAfterSeconds: 1 },
          dm_channels: { limit: 50, resetAfterSeconds: 1 },
          messages: { limit: 50, resetAfterSeconds: 1 },
        },
      },
    },
  });
});

Deno.test("a global 429 holds every call until its retry_after has passed", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({
      method: "PUT",
      path: /\/roles\//,
      status: 429,
      scope: "global",
      retryAfterSeconds: 0.5,
      times: 1,
    });
    await w.entitle(await w.addMember(member(1)), "gold");
    await w.settle();
    const [limited, next] = w.discord.requests();
    assert(next, "next is missing");
    assert(limited, "limited is missing");
    assertEquals(limited.status, 429);
    assert(next.at - limited.at >= 490, `next call after ${next.at - limited.at} ms`);
    const { blocked } = first(
      await w.db.sql`select blocked_until is not null as blocked
      from rolepass.discord_global_rate_limit`,
      "a row",
    );
    assertEquals(blocked, true);
  });
});

Deno.test("calls sent late by a busy isolate still stay within the global limit in every second", async () => {
  await withRoleSync(async (w) => {
    const api = createDiscordApi(w.discord.apiBaseUrl, BOT_TOKEN);
    // Every other call leaves 400 ms after its slot was taken, as from an event loop that lags.
    let sent = 0;
    const discord = createRateLimitedDiscord({
      api: {
        async send(route, options) {
          if (sent++ % 2 === 0) await new Promise((resolve) => setTimeout(resolve, 400));
          return await api.send(route, options);
        },
      },
      sql: w.db.sql,
      globalLimit: 5,
      maxWaitMs: 10_000,
    });
    const deadline = Date.now() + 30_000;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        discord.send(
          discordRoutes.addMemberRole(w.guildId, member(i), w.goldRoleId, "rate limit test"),
          {},
          deadline,
        )),
    );
    assertEquals(results.filter((r) => r.kind === "response").length, 30);
    assertEquals(w.discord.stats().rateLimited, 0);
    const times = w.discord.requests().map((r) => r.at).sort((a, b) => a - b);
    for (const [i, time] of times.entries()) {
      const sixth = times[i + 5];
      if (sixth === undefined) break;
      assert(sixth - time >= 1_000, `6 calls within ${sixth - time} ms`);
    }
  }, {
    double: {
      rateLimits: {
        global: { limit: 5, resetAfterSeconds: 1 },
        buckets: { roles: { limit: 100, resetAfterSeconds: 1 } },
      },
    },
  });
});

Deno.test("a live call takes the next free global slot before bulk calls already waiting for it", async () => {
  await withRoleSync(async (w) => {
    const api = createDiscordApi(w.discord.apiBaseUrl, BOT_TOKEN);
    const discord = createRateLimitedDiscord({
      api,
      sql: w.db.sql,
      globalLimit: 1,
      globalWindowMs: 600,
    });
    const deadline = Date.now() + 30_000;
    const grant = (n: number, priority: "live" | "bulk") =>
      discord.send(
        discordRoutes.addMemberRole(w.guildId, member(n), w.goldRoleId, "priority test"),
        { priority },
        deadline,
      );
    // The first call fills the window; two bulk calls then wait for it...
    assertEquals((await grant(0, "bulk")).kind, "response");
    const waiting = [grant(1, "bulk"), grant(2, "bulk")];
    await new Promise((resolve) => setTimeout(resolve, 100));
    // ...and a live call comes after them.
    const live = grant(3, "live");
    const results = await Promise.all([...waiting, live]);
    assertEquals(results.map((r) => r.kind), ["response", "response", "response"]);
    const order = w.discord.requests().map((r) => r.path.split("/")[4]);
    assertEquals(order, [member(0), member(3), member(1), member(2)]);
    assertEquals(w.discord.stats().rateLimited, 0);
  }, { double: { rateLimits: { buckets: { roles: { limit: 100, resetAfterSeconds: 1 } } } } });
});
