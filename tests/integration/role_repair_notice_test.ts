/**
 * A repaired role is told as a restore: a paying member who rejoined the server, or whose role a
 * moderator took away, is not thanked for subscribing a second time when reconciliation or their
 * own `/subscribe` gives the role back. Through role-sync's real drain and /reconcile route,
 * the real discord-interactions app, PostgreSQL and the Discord double.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  buildApp,
  createDiscordSigner,
  postSigned,
  subscribeInteraction,
} from "./interactions_fixtures.ts";
import { ROLE_SYNC_SECRET, type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000011";

function contents(w: RoleSyncWorld): string[] {
  return w.discord.messages({ userId: ALICE }).map((message) => message.content);
}

async function reconcile(w: RoleSyncWorld): Promise<void> {
  const response = await w.app.request("/role-sync/reconcile", {
    method: "POST",
    headers: { "x-rolepass-secret": ROLE_SYNC_SECRET, "Content-Type": "application/json" },
    body: JSON.stringify({ guild_id: w.guildId }),
  });
  assertEquals(response.status, 200);
  await response.body?.cancel();
}

Deno.test("reconciliation giving a rejoined paying member their role back tells them it was restored, not thanks for subscribing", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    assertEquals(contents(w).length, 1);
    assert(contents(w)[0]?.startsWith("Thank you for subscribing"), contents(w)[0]);

    w.discord.removeMember(w.guildId, ALICE);
    w.discord.rejoinMember(w.guildId, ALICE);
    await reconcile(w);
    await w.settle();

    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
    const told = contents(w);
    assertEquals(told.length, 2, told.join("\n"));
    assertEquals(
      told[1],
      `Your "Gold" subscription is still active, so the <@&${w.goldRoleId}> role in Test guild has been given back to you.`,
    );
  }, { tuning: { reconcile: { repairSpacingMs: 0 } } });
});

Deno.test("/subscribe giving a paying member the role a moderator removed tells them of the restore, in Japanese", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE, { locale: "ja" });
    await w.entitle(alice, "gold");
    await w.settle();
    w.discord.setMemberRoles(w.guildId, ALICE, []);

    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(w.db.url, signer.publicKeyHex, {
      DISCORD_APPLICATION_ID: w.discord.applicationId,
    });
    try {
      const token = `interaction-token-${crypto.randomUUID()}`;
      w.discord.registerInteraction(token, { guildId: w.guildId, userId: ALICE });
      const interaction = await subscribeInteraction({
        guildId: w.guildId,
        memberId: ALICE,
        applicationId: w.discord.applicationId,
        token,
        locale: "ja",
      });
      (interaction.member as Record<string, unknown>).roles = [];
      assertEquals((await postSigned(app, signer, interaction)).status, 200);
    } finally {
      await sql.end();
    }
    await w.settle();

    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
    // By DM, whose nonce makes a retry safe; the /subscribe token would serve only closed DMs.
    const dms = w.discord.messages({ userId: ALICE, kind: "dm" });
    assertEquals(dms.length, 2, "the grant, then the restore");
    assertEquals(w.discord.messages({ userId: ALICE, kind: "followup" }).length, 0);
    assertEquals(
      dms.at(-1)?.content,
      `「ゴールド」のご購読が続いているため、Test guild のロール <@&${w.goldRoleId}> を付け直しました。`,
    );
  });
});
