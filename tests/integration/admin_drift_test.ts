/**
 * `/rolepass drift` through the signed interactions endpoint: a deferred ephemeral answer, then
 * the follow-up that edits it on the Discord double, listing what reconciliation would change in
 * this server only and changing nothing. Without DISCORD_BOT_TOKEN it says so at once.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import {
  buildApp,
  createDiscordSigner,
  postSigned,
  subscribeInteraction,
} from "./interactions_fixtures.ts";
import { BOT_TOKEN, type RoleSyncWorld, withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "110000000000000001";
const BOB = "110000000000000002";

async function drift(
  w: RoleSyncWorld,
  env: Record<string, string>,
  locale = "en-US",
): Promise<{ reply: { type: number; data: { flags: number; content?: string } }; token: string }> {
  const token = `drift-token-${crypto.randomUUID()}`;
  w.discord.registerInteraction(token, { guildId: w.guildId, responded: true });
  const body = await subscribeInteraction({
    commandName: "rolepass",
    guildId: w.guildId,
    applicationId: w.discord.applicationId,
    token,
    locale,
  });
  (body.data as Record<string, unknown>).options = [{ type: 1, name: "drift" }];
  (body.member as Record<string, unknown>).permissions = "32";
  const signer = await createDiscordSigner();
  const { app, sql } = buildApp(w.db.url, signer.publicKeyHex, {
    DISCORD_APPLICATION_ID: w.discord.applicationId,
    ...env,
  });
  try {
    const response = await postSigned(app, signer, body);
    assertEquals(response.status, 200);
    return { reply: await response.json(), token };
  } finally {
    await sql.end();
  }
}

Deno.test("drift answers deferred, then edits the answer with the paid roles held without paying, changing nothing", async () => {
  await withRoleSync(async (w) => {
    w.discord.addMember(w.guildId, ALICE);
    w.discord.setMemberRoles(w.guildId, ALICE, [w.goldRoleId]);
    w.discord.addMember(w.guildId, BOB);
    const { reply } = await drift(w, {
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_API_BASE_URL: w.discord.apiBaseUrl,
    });
    assertEquals(reply, { type: 5, data: { flags: 64 } });
    const [original] = w.discord.messages({ kind: "original" });
    assert(original, "the follow-up edited the deferred answer");
    assert(
      original.content.includes(`<@${ALICE}> holds <@&${w.goldRoleId}> without paying`),
      original.content,
    );
    assert(original.content.includes("nothing was changed"), original.content);
    assert(!original.content.includes(BOB), original.content);
    assertEquals(w.discord.specViolations(), []);
    assertEquals([...await w.jobs()], []);
    assertEquals(w.discord.memberRoles(w.guildId, ALICE), [w.goldRoleId]);
  });
});

Deno.test("drift without DISCORD_BOT_TOKEN says so at once, in the operator's language", async () => {
  await withRoleSync(async (w) => {
    const { reply } = await drift(w, {}, "ja");
    assertEquals(reply.type, 4);
    assertEquals(reply.data.flags, 64);
    assertEquals(
      reply.data.content,
      "このデプロイにはDISCORD_BOT_TOKENがないため、サーバーのメンバーを読めません。",
    );
    assertEquals(w.discord.messages({ kind: "original" }), []);
  });
});
