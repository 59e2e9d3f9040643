import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { walkMemberStory } from "./member_story.ts";

Deno.test({
  name:
    "a member subscribes from Discord, pays on Checkout, gets the role, cancels in the portal and loses the role when the period ends",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTestDatabase(async (db) => {
      const story = await walkMemberStory(db);
      assert(story.joinReply.content.includes("サポーター（月額）"), story.joinReply.content);
      assert(story.manageReply.linkUrl?.includes("/manage/"));
      assert(story.messagesAfterGrant.length >= 1);
      assert(story.messagesAfterRevoke.length > story.messagesAfterGrant.length);
      assert(
        story.webhookStatuses.every((status) => status === 200),
        `every webhook delivery was accepted: ${story.webhookStatuses.join(", ")}`,
      );
      assertEquals(story.specViolations, []);
      assertEquals(story.queueStatus, { pending: 0, failing: 0, failed: 0 });
      const [history] = await db.sql<{ grants: number; revokes: number }[]>`
        select count(*) filter (where new_entitled and not coalesce(old_entitled, false))::int as grants,
          count(*) filter (where old_entitled and not new_entitled)::int as revokes
        from rolepass.membership_history where discord_user_id = ${story.community.memberId}`;
      assertEquals(history, { grants: 1, revokes: 1 });
    });
  },
});
