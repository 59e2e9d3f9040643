/**
 * The local dispatcher delivers what the database recorded, the way pg_net and pg_cron would:
 * membership change -> trigger -> role job -> webhook request -> dispatcher -> role-sync -> Discord.
 */
import { startDispatcher } from "../../functions/_cli/dispatcher.ts";
import { assert, assertEquals, first } from "../harness/assert.ts";
import { configureVault, type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "600000000000000001";
const BOB = "600000000000000002";

async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Serves the role-sync app on a loopback port, as the dev runner would. */
function serveRoleSync(w: RoleSyncWorld) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, w.app.fetch);
  return { url: `http://127.0.0.1:${server.addr.port}/role-sync`, close: () => server.shutdown() };
}

Deno.test("a committed membership change reaches Discord through the trigger, the recorded webhook and the dispatcher", async () => {
  const background: Promise<unknown>[] = [];
  await withRoleSync(async (w) => {
    const roleSync = serveRoleSync(w);
    await configureVault(w.db.sql, roleSync.url);
    const dispatcher = await startDispatcher({ databaseUrl: w.db.url, cronIntervalMs: 3_600_000 });
    try {
      const alice = await w.addMember(ALICE);
      await w.entitle(alice, "gold");
      await waitFor(
        () => w.discord.memberRoles(w.guildId, ALICE)?.includes(w.goldRoleId) ?? false,
        "the role to be granted",
      );
      await Promise.all(background);
      const { queued } = first(
        await w.db.sql`select count(*)::int as queued
        from net.http_request_queue`,
        "a row",
      );
      assertEquals(queued, 0, "a delivered request is gone from the queue");
      const [job] = await w.jobs();
      assert(job, "job is missing");
      assertEquals([job.status, job.notice_status], ["done", "sent"]);
    } finally {
      await dispatcher.stop();
      await roleSync.close();
    }
  }, { tuning: { runInBackground: (work) => background.push(work) } });
});

Deno.test("a change made in a transaction that rolls back is never delivered", async () => {
  await withRoleSync(async (w) => {
    const roleSync = serveRoleSync(w);
    await configureVault(w.db.sql, roleSync.url);
    const dispatcher = await startDispatcher({ databaseUrl: w.db.url, cronIntervalMs: 3_600_000 });
    try {
      const alice = await w.addMember(ALICE);
      await w.db.sql.begin(async (tx) => {
        await tx`update rolepass.memberships set entitled = true, entitled_role_id = ${w.goldRoleId}
          where id = ${alice}`;
        await tx`select 1/0`;
      }).catch(() => {});
      await dispatcher.deliverPending();
      assertEquals(w.discord.requests().length, 0);
      assertEquals((await w.jobs()).length, 0);
    } finally {
      await dispatcher.stop();
      await roleSync.close();
    }
  });
});

Deno.test("the cron sweep delivers a job whose webhook was lost", async () => {
  await withRoleSync(async (w) => {
    const roleSync = serveRoleSync(w);
    const dispatcher = await startDispatcher({ databaseUrl: w.db.url, cronIntervalMs: 3_600_000 });
    try {
      // Vault is still empty, so the insert trigger cannot call role-sync: the webhook is lost.
      const bob = await w.addMember(BOB);
      await w.entitle(bob, "silver");
      await dispatcher.deliverPending();
      assertEquals(w.discord.requests().length, 0);
      await configureVault(w.db.sql, roleSync.url);
      await dispatcher.runCronOnce();
      await dispatcher.deliverPending();
      await waitFor(
        () => w.discord.memberRoles(w.guildId, BOB)?.includes(w.silverRoleId) ?? false,
        "the sweep to grant the role",
      );
    } finally {
      await dispatcher.stop();
      await roleSync.close();
    }
  });
});

Deno.test("a request is sent once even when the endpoint fails (pg_net does not retry)", async () => {
  await withRoleSync(async (w) => {
    let calls = 0;
    const failing = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      calls++;
      return new Response("down", { status: 503 });
    });
    await configureVault(w.db.sql, `http://127.0.0.1:${failing.addr.port}/role-sync`);
    const dispatcher = await startDispatcher({ databaseUrl: w.db.url, cronIntervalMs: 3_600_000 });
    try {
      await w.entitle(await w.addMember(ALICE), "gold");
      await waitFor(() => calls === 1, "the request");
      await dispatcher.deliverPending();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assertEquals(calls, 1);
      const [job] = await w.jobs();
      assert(job, "job is missing");
      assert(job.status === "pending", "the job waits for the sweep");
    } finally {
      await dispatcher.stop();
      await failing.shutdown();
    }
  });
});
