/**
 * role-sync against real PostgreSQL and the Discord double: every outcome of a role job.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { ROLE_SYNC_SECRET, type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000001";
const BOB = "400000000000000002";

Deno.test("a grant puts the role on the member with an audit-log reason naming the subscription, and tells them once by DM", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { locale: "ja" });
    await w.entitle(alice, "gold", "evt_test_grant");
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId), true);
    const audit = w.discord.auditLog().filter((entry) => entry.userId === ALICE);
    assertEquals(audit.length, 1);
    assert(
      first(audit, "an item of audit").reason?.includes(`sub_${ALICE}`),
      first(audit, "an item of audit").reason ?? "no reason",
    );
    assert(first(audit, "an item of audit").reason?.includes("evt_test_grant"));
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 1);
    assert(
      first(dms, "an item of dms").content.includes("ゴールド"),
      first(dms, "an item of dms").content,
    );
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.notice_status], ["done", "applied", "sent"]);
    assertEquals(w.discord.specViolations(), []);
  });
});

/** Gives ALICE a live interaction token (as /subscribe stores it) that expires in `minutes`. */
async function giveLiveToken(w: RoleSyncWorld, minutes = 14): Promise<string> {
  const token = "interaction-token-" + crypto.randomUUID();
  w.discord.registerInteraction(token, { guildId: w.guildId, userId: ALICE });
  await w.db.sql`insert into rolepass.interaction_tokens
    (guild_id, discord_user_id, application_id, token, expires_at)
    values (${w.guildId}, ${ALICE}, ${w.discord.applicationId}, ${token},
      now() + make_interval(mins => ${minutes}))`;
  return token;
}

Deno.test("a member with a live interaction token is still told by DM, which a retry cannot duplicate", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await giveLiveToken(w);
    await w.entitle(alice, "gold");
    await w.settle();
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 1);
    assert(first(dms, "the DM").content.includes("Gold"));
    assertEquals(w.discord.messages({ userId: ALICE, kind: "followup" }).length, 0);
    const posted = w.discord.requests().filter((r) => r.path.endsWith("/messages"));
    assertEquals(
      posted.map((r) => (r.body as { enforce_nonce?: boolean }).enforce_nonce),
      [true],
    );
  });
});

Deno.test("a member whose DMs are closed gets an ephemeral follow-up while the interaction token lives", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await giveLiveToken(w);
    await w.entitle(alice, "gold");
    await w.settle();
    const followups = w.discord.messages({ userId: ALICE, kind: "followup" });
    assertEquals(followups.length, 1);
    assertEquals(first(followups, "the follow-up").ephemeral, true);
    assert(first(followups, "the follow-up").content.includes("Gold"));
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 0);
    const [job] = await w.jobs();
    assertEquals(job?.notice_status, "sent");
  }, { operatorLogChannel: true });
});

Deno.test("closed DMs and an expired interaction token: the notice is recorded for the operator", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await giveLiveToken(w, 10);
    w.discord.advanceClock(16 * 60_000);
    await w.entitle(alice, "gold");
    await w.settle();
    assertEquals(w.discord.messages({ userId: ALICE }).length, 0);
    const [job] = await w.jobs();
    assertEquals(job?.notice_status, "dms_closed");
    const logged = w.discord.messages({ kind: "channel" });
    assertEquals(logged.length, 1);
    assert(first(logged, "the log line").content.includes(`<@${ALICE}>`));
    const [notice] = await w.db.sql<{ last_error: string }[]>`
      select last_error from rolepass.notices where audience = 'member'`;
    assert(notice?.last_error.includes("50027"), notice?.last_error);
  }, { operatorLogChannel: true });
});

Deno.test("a plan change swaps the roles and says the new plan", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    await w.entitle(alice, "silver");
    await w.settle();
    const roles = w.discord.memberRoles(w.guildId, ALICE) ?? [];
    assertEquals([roles.includes(w.goldRoleId), roles.includes(w.silverRoleId)], [false, true]);
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 2);
    const [, swapped] = dms;
    assert(swapped, "swapped is missing");
    assert(swapped.content.includes('Your plan is now "Silver"'), swapped.content);
  });
});

Deno.test("a cancellation removes the role and tells the member; a scheduled cancel names the date", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.db.sql`update rolepass.memberships set cancel_at = '2030-01-31T00:00:00Z'
      where id = ${alice}`;
    await w.entitle(alice, "gold");
    await w.settle();
    await w.entitle(alice, null, "evt_cancel");
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId), false);
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 2);
    assert(
      first(dms, "an item of dms").content.includes(
        `<t:${Date.parse("2030-01-31T00:00:00Z") / 1000}:D>`,
      ),
    );
    const [, removed] = dms;
    assert(removed, "removed is missing");
    assert(removed.content.includes("has been removed"), removed.content);
  });
});

Deno.test("a member who left the guild ends the job as member_not_in_guild, without retry or message", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { inDiscord: false });
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.attempts], ["done", "member_not_in_guild", 1]);
    assertEquals(w.discord.messages().length, 0);
  });
});

Deno.test("an unknown role fails without retry, tells the operator once, and can be re-queued by hand", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    const missingRole = "399999999999999999";
    await w.db.sql`update rolepass.plans set discord_role_id = ${missingRole}
      where id = ${w.goldPlanId}`;
    await w.db.sql`update rolepass.memberships set entitled = true,
      entitled_role_id = ${missingRole}, plan_id = ${w.goldPlanId} where id = ${alice}`;
    await w.settle();
    let [job] = await w.jobs();
    assert(job, "job is missing");
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.attempts], ["failed", "unknown_role", 1]);
    assert(job.alerted_at);
    const alerts = w.discord.messages({ kind: "channel" });
    assertEquals(alerts.length, 1);
    assert(first(alerts, "an item of alerts").content.includes("retry_failed_role_jobs"));
    const puts = w.discord.requests().filter((r) => r.method === "PUT");
    assertEquals(puts.length, 1);

    await w.db.sql`update rolepass.plans set discord_role_id = ${w.goldRoleId}
      where id = ${w.goldPlanId}`;
    await w.db.sql`update rolepass.memberships set entitled_role_id = ${w.goldRoleId}
      where id = ${alice}`;
    const { requeued } = first(
      await w.db.sql`select rolepass.retry_failed_role_jobs() as requeued`,
      "a row",
    );
    assertEquals(requeued, 1);
    await w.settle();
    [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals(job.status, "done");
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId), true);
  }, { operatorLogChannel: true });
});

Deno.test("missing permissions (the bot's role below the paid role) fail without retry and alert", async () => {
  await withRoleSync(async (w) => {
    w.discord.setBotRole(w.guildId, { position: 1 });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.attempts], ["failed", "missing_permissions", 1]);
    assertEquals(w.discord.messages({ kind: "channel" }).length, 1);
    assertEquals(w.discord.messages({ kind: "dm" }).length, 0);
  }, { operatorLogChannel: true });
});

Deno.test("a rejected bot token (401) fails without retry", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({
      method: "PUT",
      path: /\/roles\//,
      status: 401,
      body: { message: "401: Unauthorized", code: 0 },
    });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.attempts], ["failed", "unauthorized", 1]);
    assertEquals(w.discord.requests().filter((r) => r.method === "PUT").length, 1);
  });
});

Deno.test("a 429 is waited out for retry_after and the role is then granted", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({
      method: "PUT",
      path: /\/roles\//,
      status: 429,
      retryAfterSeconds: 0.3,
      times: 1,
    });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    const started = Date.now();
    await w.settle();
    const puts = w.discord.requests().filter((r) => r.method === "PUT");
    assertEquals(puts.map((r) => r.status), [429, 204]);
    const [limited, granted] = puts;
    assert(limited && granted, "two PUTs");
    assert(granted.at - limited.at >= 290, `waited ${granted.at - limited.at} ms`);
    assert(Date.now() - started < 5_000);
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.attempts], ["done", 1]);
  });
});

Deno.test("a member's message that has to wait is sent on the retry without a second role call", async () => {
  await withRoleSync(async (w) => {
    // The role call succeeds; opening the DM channel fails once, so the notice is retried alone.
    w.discord.inject({ method: "POST", path: "/users/@me/channels", status: 500, times: 1 });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const puts = w.discord.requests().filter((r) => r.method === "PUT");
    assertEquals(puts.map((r) => r.status), [204]);
    assertEquals(w.discord.auditLog().filter((entry) => entry.userId === ALICE).length, 1);
    const opened = w.discord.requests().filter((r) => r.path === "/users/@me/channels");
    assertEquals(opened.map((r) => r.status), [500, 200]);
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 1);
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.notice_status], ["done", "applied", "sent"]);
    assertEquals(job.attempts, 1);
    const [notice] = await w.db.sql<{ attempts: number; status: string }[]>`
      select attempts, status from rolepass.notices`;
    assert(notice, "notice is missing");
    assertEquals([notice.status, notice.attempts], ["sent", 2]);
  });
});

Deno.test("5xx answers and timeouts are retried with backoff until the role is granted", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({ method: "PUT", path: /\/roles\//, status: 502, times: 1 });
    w.discord.inject({ method: "PUT", path: /\/roles\//, delayMs: 3_000, times: 1 });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.attempts], ["done", 3]);
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId), true);
    assertEquals(w.discord.messages({ userId: ALICE }).length, 1);
  }, { tuning: { discordTimeoutMs: 300 } });
});

Deno.test("a job that keeps failing gives up after the maximum attempts and alerts the operator", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({ method: "PUT", path: /\/roles\//, status: 503 });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.outcome, job.attempts], ["failed", "gave_up", 3]);
    assertEquals(w.discord.requests().filter((r) => r.method === "PUT").length, 3);
    assertEquals(w.discord.messages({ kind: "channel" }).length, 1);
  }, { operatorLogChannel: true });
});

Deno.test("closed DMs (50007) are recorded and not retried", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.notice_status], ["done", "dms_closed"]);
    const posts = w.discord.requests().filter((r) => r.route.includes("/messages"));
    assertEquals(posts.length, 1);
  });
});

Deno.test("a DM whose answer was lost is sent again with its nonce and posted once", async () => {
  await withRoleSync(async (w) => {
    // Discord posts the message, then answers too late: the client times out and retries.
    w.discord.inject({
      method: "POST",
      path: /^\/channels\/\d+\/messages$/,
      delayMs: 1_000,
      times: 1,
    });
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals([job.status, job.notice_status], ["done", "sent"]);
    // The slow first post is logged when Discord finally handles it.
    const posts = () => w.discord.requests().filter((r) => r.path.endsWith("/messages"));
    while (posts().length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(posts().map((r) => r.status).sort(), [200, 200]);
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 1);
  }, { tuning: { discordTimeoutMs: 300 } });
});

Deno.test("a follow-up whose answer is lost after Discord posted it: the member sees exactly one message", async () => {
  await withRoleSync(async (w) => {
    // Discord posts the follow-up, then its edge answers 502: the sender cannot tell.
    w.discord.inject({ method: "POST", path: /^\/webhooks\//, status: 502, afterHandling: true });
    const alice = await w.addMember(ALICE);
    await giveLiveToken(w);
    await w.entitle(alice, "gold");
    await w.settle();
    assertEquals(w.discord.messages({ userId: ALICE }).length, 1, "told once, by one channel");
    const [job] = await w.jobs();
    assertEquals(job?.notice_status, "sent");
  });
});

Deno.test("closed DMs and a follow-up whose answer is lost: recorded, never followed by another channel", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({ method: "POST", path: /^\/webhooks\//, status: 502, afterHandling: true });
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await giveLiveToken(w);
    await w.entitle(alice, "gold");
    await w.settle();
    assertEquals(
      w.discord.messages({ userId: ALICE }).map((m) => m.kind),
      ["followup"],
      "the follow-up Discord posted, and nothing after it",
    );
    assertEquals(w.discord.requests().filter((r) => r.path.startsWith("/webhooks/")).length, 1);
    const [notice] = await w.db.sql<{ status: string; last_error: string }[]>`
      select status, last_error from rolepass.notices where audience = 'member'`;
    assertEquals(notice?.status, "failed");
    assert(notice?.last_error.includes("outcome is unknown"), notice?.last_error);
  });
});

Deno.test("a follow-up refused with a 429 is tried again: Discord did not post it", async () => {
  await withRoleSync(async (w) => {
    w.discord.inject({
      method: "POST",
      path: /^\/webhooks\//,
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
    });
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await giveLiveToken(w);
    await w.entitle(alice, "gold");
    await w.settle();
    const followups = w.discord.requests().filter((r) => r.path.startsWith("/webhooks/"));
    assertEquals(followups.map((r) => r.status), [429, 200]);
    assertEquals(w.discord.messages({ userId: ALICE, kind: "followup" }).length, 1);
    const [job] = await w.jobs();
    assertEquals(job?.notice_status, "sent");
  });
});

Deno.test("a DM whose first post is older than the nonce's window is not posted again", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    const [job] = await w.jobs();
    assert(job, "job is missing");
    // The first post is sent and its answer never comes back in time.
    w.discord.inject({
      method: "POST",
      path: /^\/channels\/\d+\/messages$/,
      delayMs: 1_500,
      afterHandling: true,
      times: 1,
    });
    await w.drain();
    const [waiting] = await w.db.sql<{ status: string; first_post_at: Date | null }[]>`
      select status, first_post_at from rolepass.notices where role_job_id = ${job.id}`;
    assertEquals(waiting?.status, "pending");
    assert(waiting?.first_post_at, "the first post is stamped");
    await w.db.sql`update rolepass.notices
      set first_post_at = first_post_at - interval '3 minutes', next_attempt_at = now()
      where role_job_id = ${job.id}`;
    await w.settle();
    const [notice] = await w.db.sql<{ status: string; last_error: string }[]>`
      select status, last_error from rolepass.notices where role_job_id = ${job.id}`;
    assertEquals(notice?.status, "failed");
    assert(notice?.last_error.includes("nonce"), notice?.last_error);
    const posts = () => w.discord.requests().filter((r) => r.path.endsWith("/messages"));
    while (posts().length < 1) await new Promise((resolve) => setTimeout(resolve, 50));
    assertEquals(posts().length, 1, "one post, the one whose answer was late");
    assertEquals(w.discord.messages({ userId: ALICE }).length, 1);
  }, {
    // The retry waits 15 s or more, past the first drain's budget: with a shorter wait, a loaded
    // machine's first drain sent the notice again inside the window, before the clock moved.
    tuning: {
      discordTimeoutMs: 300,
      retryPolicy: { maxAttempts: 3, baseDelayMs: 30_000, maxDelayMs: 30_000 },
    },
  });
});

Deno.test("a DM Discord certainly did not post (a 429) does not start the nonce's window", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    // Longer than one call waits for a 429 (1.5 s): the notice is put back, nothing posted.
    w.discord.inject({
      method: "POST",
      path: /^\/channels\/\d+\/messages$/,
      status: 429,
      retryAfterSeconds: 2,
      times: 1,
    });
    await w.drain();
    const [waiting] = await w.db.sql<{ status: string; first_post_at: Date | null }[]>`
      select status, first_post_at from rolepass.notices where audience = 'member'`;
    assertEquals([waiting?.status, waiting?.first_post_at], ["pending", null]);
    await w.settle();
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 1);
  });
});

Deno.test("a member's messages keep their order when the first one has to be retried", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    // The grant's DM fails once; its retry is due after the revoke's message is queued.
    w.discord.inject({
      method: "POST",
      path: /^\/channels\/\d+\/messages$/,
      status: 502,
      times: 1,
    });
    await w.entitle(alice, "gold");
    await w.drain();
    await w.entitle(alice, null, "evt_cancel");
    await w.settle();
    const told = w.discord.messages({ userId: ALICE, kind: "dm" }).map((m) => m.content);
    assertEquals(told.length, 2);
    assert(told[0]?.includes("Gold") && !told[0].includes("removed"), told[0]);
    assert(told[1]?.includes("has been removed"), told[1]);
  }, { tuning: { retryPolicy: { maxAttempts: 3, baseDelayMs: 600, maxDelayMs: 600 } } });
});

Deno.test("a caller without the shared secret gets 401 and nothing is done", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    const body = JSON.stringify({ type: "SWEEP", table: "role_jobs", schema: "rolepass" });
    for (const secret of [undefined, "wrong-secret-wrong-secret", ROLE_SYNC_SECRET + "x"]) {
      const response = await w.app.request("/role-sync", {
        method: "POST",
        headers: secret ? { "x-rolepass-secret": secret } : {},
        body,
      });
      assertEquals(response.status, 401);
    }
    const health = await w.app.request("/role-sync/health");
    assertEquals(health.status, 401);
    assertEquals(w.discord.requests().length, 0);
    assertEquals(first(await w.jobs(), "an item of (await w.jobs())").status, "pending");
  });
});

Deno.test("a malformed wake is a 400; a webhook INSERT drains the queue; health reports it", async () => {
  await withRoleSync(async (w) => {
    const headers = { "x-rolepass-secret": ROLE_SYNC_SECRET };
    const bad = await w.app.request("/role-sync", { method: "POST", headers, body: '{"type":1}' });
    assertEquals(bad.status, 400);
    const alice = await w.addMember(ALICE);
    const bob = await w.addMember(BOB, { inDiscord: false });
    await w.entitle(alice, "gold");
    await w.entitle(bob, "gold");
    let health = await (await w.app.request("/role-sync/health", { headers })).json();
    assertEquals([health.pending, health.failed], [2, 0]);
    const [job] = await w.jobs();
    assert(job, "job is missing");
    const woken = await w.app.request("/role-sync", {
      method: "POST",
      headers,
      body: JSON.stringify({
        type: "INSERT",
        table: "role_jobs",
        schema: "rolepass",
        record: { id: job.id },
        old_record: null,
      }),
    });
    assertEquals(woken.status, 200);
    assertEquals((await woken.json()).done, 2);
    health = await (await w.app.request("/role-sync/health", { headers })).json();
    assertEquals(
      [health.pending, health.failing, health.failed, health.oldestDueAgeSeconds],
      [0, 0, 0, 0],
    );
  });
});

Deno.test("with a background runner the webhook is answered 202 at once and the work finishes after", async () => {
  const background: Promise<unknown>[] = [];
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    const response = await w.app.request("/role-sync", {
      method: "POST",
      headers: { "x-rolepass-secret": ROLE_SYNC_SECRET },
      body: JSON.stringify({ type: "SWEEP" }),
    });
    assertEquals(response.status, 202);
    await Promise.all(background);
    assertEquals(w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId), true);
  }, { tuning: { runInBackground: (work) => background.push(work) } });
});

Deno.test("closed DMs are shown to the operator once, in the log channel, naming the member", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { dmsClosed: true });
    await w.entitle(alice, "gold");
    await w.settle();
    const [job] = await w.jobs();
    assert(job, "job is missing");
    assertEquals(job.notice_status, "dms_closed");
    const logged = w.discord.messages({ kind: "channel" });
    assertEquals(logged.length, 1);
    assertEquals(first(logged, "a log channel message").content.includes(`<@${ALICE}>`), true);
  }, { operatorLogChannel: true });
});
