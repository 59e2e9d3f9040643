/**
 * The Discord-side reconciliation pass through role-sync's real /reconcile route, PostgreSQL and
 * the Discord double: roles edited by hand, members who rejoin, comps, the missing Server Members
 * intent, and a bot that loses its access in the middle of a pass.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { runDrift } from "../../functions/_cli/drift.ts";
import {
  BOT_TOKEN,
  ROLE_SYNC_SECRET,
  type RoleSyncWorld,
  withRoleSync,
} from "./role_sync_fixtures.ts";

const ALICE = "400000000000000001";
const BOB = "400000000000000002";
const CAROL = "400000000000000003";

const tuning = { reconcile: { repairSpacingMs: 5 } };

interface PassAnswer {
  status: string;
  mode: string | null;
  counts: {
    membersChecked: number;
    missingRoles: number;
    unpaidRoles: number;
    comped: number;
    repairsQueued: number;
  };
  findings: { kind: string; userId: string; roleId: string }[];
}

async function reconcile(w: RoleSyncWorld): Promise<PassAnswer> {
  const response = await w.app.request("/role-sync/reconcile", {
    method: "POST",
    headers: { "x-rolepass-secret": ROLE_SYNC_SECRET, "Content-Type": "application/json" },
    body: JSON.stringify({ guild_id: w.guildId }),
  });
  assertEquals(response.status, 200);
  return await response.json();
}

async function payingMember(w: RoleSyncWorld, userId: string): Promise<string> {
  const id = await w.addMember(userId);
  await w.entitle(id, "gold");
  await w.settle();
  return id;
}

Deno.test("a paid role a moderator removed is granted back by the pass", async () => {
  await withRoleSync(async (w) => {
    await payingMember(w, ALICE);
    w.discord.setMemberRoles(w.guildId, ALICE, []);
    const pass = await reconcile(w);
    assertEquals([pass.status, pass.mode, pass.counts.missingRoles, pass.counts.repairsQueued], [
      "completed",
      "list",
      1,
      1,
    ]);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
    const [state] = await w.db.sql`
      select status, mode, members_checked from rolepass.guild_reconciliations`;
    assert(state, "state is missing");
    assertEquals(state.status, "completed");
    assertEquals(state.mode, "list");
    assert(state.members_checked >= 1);
    assertEquals((await reconcile(w)).counts.missingRoles, 0, "a second pass finds nothing");
    assertEquals(w.discord.specViolations(), []);
  }, { tuning });
});

Deno.test("a paid role given by hand to a non-payer is reported by default, removed under 'remove', and a comp is never touched", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, BOB, { roles: [w.goldRoleId] });
    w.discord.addMember(w.guildId, CAROL, { roles: [w.silverRoleId] });
    await w.db
      .sql`insert into rolepass.role_comps (guild_id, discord_user_id, discord_role_id, reason)
      values (${w.guildId}, ${CAROL}, ${w.silverRoleId}, 'moderator')`;

    const reported = await reconcile(w);
    assertEquals([
      reported.counts.unpaidRoles,
      reported.counts.comped,
      reported.counts.repairsQueued,
    ], [1, 1, 0]);
    assertEquals(reported.findings.map((f) => [f.kind, f.userId, f.roleId]), [
      ["unpaid_role", BOB, w.goldRoleId],
    ]);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, BOB), [w.goldRoleId], "report changes nothing");

    await w.db.sql`update rolepass.guilds set role_drift_policy = 'remove'`;
    const removed = await reconcile(w);
    assertEquals(removed.counts.repairsQueued, 1);
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, BOB), []);
    assertEquals(w.discord.memberRoles(w.guildId, CAROL), [w.silverRoleId], "the comp stays");
    assertEquals(w.discord.messages({ userId: BOB }).length, 0, "nobody is told of a removal");
  }, { tuning });
});

Deno.test("without the Server Members intent the pass reads the members rolepass knows one by one and says so", async () => {
  await withRoleSync(async (w) => {
    await payingMember(w, ALICE);
    w.discord.rejoinMember(w.guildId, ALICE);
    w.discord.addMember(w.guildId, BOB, { roles: [w.goldRoleId] });
    w.discord.setMembersIntent(false);
    const pass = await reconcile(w);
    assertEquals([pass.status, pass.mode, pass.counts.missingRoles], [
      "completed",
      "known_members",
      1,
    ]);
    assertEquals(pass.counts.unpaidRoles, 0, "a stranger's hand-given role cannot be seen");
    await w.settle();
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
    const [state] = await w.db.sql`select mode from rolepass.guild_reconciliations`;
    assert(state, "state is missing");
    assertEquals(state.mode, "known_members");
  }, { tuning });
});

Deno.test("a bot that loses its permissions mid-pass stops that guild's pass, alerts once, and resumes where it stopped once fixed", async () => {
  await withRoleSync(async (w) => {
    for (const id of [ALICE, BOB, CAROL]) await payingMember(w, id);
    for (const id of [ALICE, BOB, CAROL]) w.discord.setMemberRoles(w.guildId, id, []);
    w.discord.inject({
      path: `/guilds/${w.guildId}/members`,
      status: 403,
      body: { message: "Missing Permissions", code: 50013 },
      skip: 1,
      times: 2,
    });
    const first = await reconcile(w);
    assertEquals([first.status, first.counts.membersChecked], ["stopped", 2]);
    await w.settle();
    const second = await reconcile(w);
    assertEquals(second.status, "stopped");
    const alerts = w.discord.messages({ kind: "channel" });
    assertEquals(alerts.length, 1, "the operator is told once");
    const [alert] = alerts;
    assert(alert, "alert is missing");
    assert(alert.content.includes("50013"), alert.content);

    const third = await reconcile(w);
    assertEquals(third.status, "completed");
    // The bot's own member sorts after the fixed ids: 2 + 2 members read over the resumed pass.
    assertEquals(third.counts.membersChecked, 4);
    assertEquals(third.counts.missingRoles, 3);
    await w.settle();
    for (const id of [ALICE, BOB, CAROL]) {
      assertEquals(w.discord.memberRoles(w.guildId, id), [w.goldRoleId]);
    }
    const [state] = await w.db.sql`select status, alerted_at from rolepass.guild_reconciliations`;
    assert(state, "state is missing");
    assertEquals([state.status, state.alerted_at], ["completed", null]);
  }, { tuning: { reconcile: { repairSpacingMs: 5, pageSize: 2 } }, operatorLogChannel: true });
});

Deno.test("the pass waits while the guild's live role jobs are due, and caps the repairs one run queues", async () => {
  await withRoleSync(async (w) => {
    for (const id of [ALICE, BOB, CAROL]) await payingMember(w, id);
    for (const id of [ALICE, BOB, CAROL]) w.discord.setMemberRoles(w.guildId, id, []);
    const dave = await w.addMember("400000000000000004");
    await w.entitle(dave, "gold");
    assertEquals((await reconcile(w)).status, "deferred");
    assertEquals(
      await w.db.sql`select 1 from rolepass.role_jobs where cause like 'reconciliation%'`.then((
        r,
      ) => r.length),
      0,
    );
    await w.settle();
    const capped = await reconcile(w);
    assertEquals([capped.counts.missingRoles, capped.counts.repairsQueued], [3, 2]);
  }, { tuning: { reconcile: { repairSpacingMs: 5, maxRepairsPerRun: 2 } } });
});

Deno.test("a plan whose role changes swaps the role of every member on it, and a deactivated plan keeps its members", async () => {
  await withRoleSync(async (w) => {
    for (const id of [ALICE, BOB]) await payingMember(w, id);
    const platinum = w.discord.addRole(w.guildId, { name: "Platinum", position: 6 });
    await w.db.sql`update rolepass.plans set discord_role_id = ${platinum.id}
      where id = ${w.goldPlanId}`;
    await w.settle();
    for (const id of [ALICE, BOB]) {
      assertEquals(w.discord.memberRoles(w.guildId, id), [platinum.id]);
    }
    await w.db.sql`update rolepass.plans set active = false where id = ${w.goldPlanId}`;
    const { entitled } = first(
      await w.db.sql`
      select count(*)::int as entitled from rolepass.memberships where entitled`,
      "a row",
    );
    assertEquals(entitled, 2);
  }, { tuning });
});

Deno.test("deno task drift prints what the pass would change and changes nothing", async () => {
  await withRoleSync(async (w) => {
    await payingMember(w, ALICE);
    w.discord.setMemberRoles(w.guildId, ALICE, []);
    w.discord.addMember(w.guildId, BOB, { roles: [w.goldRoleId] });
    const lines: string[] = [];
    const code = await runDrift({ guild: w.guildId }, {
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_API_BASE_URL: w.discord.apiBaseUrl,
      DATABASE_URL: w.db.url,
    }, { out: (text) => lines.push(text), error: (text) => lines.push(text) });
    assertEquals(code, 0);
    assert(
      first(lines, "an item of lines").includes("1 missing role(s), 1 unpaid role(s)"),
      lines.join("\n"),
    );
    assert(lines.some((l) => l.includes(`grant   ${w.goldRoleId} to ${ALICE}`)), lines.join("\n"));
    const { n } = first(
      await w.db.sql`select count(*)::int as n from rolepass.role_jobs
      where cause like 'reconciliation%'`,
      "a row",
    );
    assertEquals(n, 0);
    assertEquals((await w.db.sql`select 1 from rolepass.guild_reconciliations`).length, 0);
  }, { tuning });
});
