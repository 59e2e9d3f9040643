/**
 * A member's DM channel is opened once and reused (opening one costs Discord's global
 * `dm_channels` capacity); a cached channel Discord no longer knows is replaced.
 */
import { assertEquals } from "../harness/assert.ts";
import { withRoleSync } from "./role_sync_fixtures.ts";

const ALICE = "400000000000000001";
/** A snowflake the Discord double never gave to any channel. */
const GONE_CHANNEL = "900000000000000009";

Deno.test("two notices to the same member open the DM channel once", async () => {
  await withRoleSync(async (w) => {
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    await w.entitle(alice, null, "evt_cancel");
    await w.settle();
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 2);
    const opened = w.discord.requests().filter((r) => r.path === "/users/@me/channels");
    assertEquals(opened.length, 1);
  });
});

Deno.test("a kept DM channel Discord no longer knows (10003) is opened again once", async () => {
  await withRoleSync(async (w) => {
    await w.db.sql`insert into rolepass.member_dm_channels (discord_user_id, channel_id)
      values (${ALICE}, ${GONE_CHANNEL})`;
    const alice = await w.addMember(ALICE);
    await w.entitle(alice, "gold");
    await w.settle();
    assertEquals(w.discord.messages({ userId: ALICE, kind: "dm" }).length, 1);
    const posts = w.discord.requests().filter((r) => r.path.endsWith("/messages"));
    assertEquals(posts.map((r) => [r.path.includes(GONE_CHANNEL), r.status]), [
      [true, 404],
      [false, 200],
    ]);
    const opened = w.discord.requests().filter((r) => r.path === "/users/@me/channels");
    assertEquals(opened.length, 1);
    const cached = await w.db.sql<{ channel_id: string }[]>`
      select channel_id from rolepass.member_dm_channels where discord_user_id = ${ALICE}`;
    assertEquals(cached.length, 1);
    assertEquals(cached[0]?.channel_id === GONE_CHANNEL, false);
    const [job] = await w.jobs();
    assertEquals(job?.notice_status, "sent");
  });
});
