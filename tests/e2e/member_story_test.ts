import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { PLATFORM_FEE_PERCENT, walkMemberStory } from "./member_story.ts";

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

Deno.test({
  name:
    "in platform mode a community onboards its own account; its member pays it, renews and is refunded under its policy, and the platform keeps only its fee",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTestDatabase(async (db) => {
      const story = await walkMemberStory(db, "platform");
      const connect = story.connect;
      assert(connect, "the walk onboarded a connected account");
      assert(
        /Ready to sell|販売の準備ができました/.test(connect.returnPageText),
        connect.returnPageText,
      );
      assert(story.joinReply.content.includes("サポーター（月額）"), story.joinReply.content);
      assert(story.manageReply.linkUrl?.includes("/manage/"));
      assert(story.messagesAfterRevoke.length > story.messagesAfterGrant.length);
      assert(
        story.webhookStatuses.every((status) => status === 200),
        `every webhook delivery was accepted: ${story.webhookStatuses.join(", ")}`,
      );
      assertEquals(story.specViolations, []);
      assertEquals(story.queueStatus, { pending: 0, failing: 0, failed: 0 });

      // ¥500 a month: each payment goes whole to the community's account, the platform takes 10%
      // back; the refunded renewal is taken back from the community and the fee given back.
      const fee = 500 * PLATFORM_FEE_PERCENT / 100;
      assertEquals(connect.transfers, [
        { destination: connect.accountId, amount: 500, amountReversed: 0 },
        { destination: connect.accountId, amount: 500, amountReversed: 500 },
      ]);
      assertEquals(connect.applicationFees, [
        { account: connect.accountId, amount: fee, amountRefunded: 0 },
        { account: connect.accountId, amount: fee, amountRefunded: fee },
      ]);
      const [membership] = await db.sql<{ status: string; entitled: boolean }[]>`
        select status, entitled from rolepass.memberships
        where discord_user_id = ${story.community.memberId}`;
      assertEquals({ ...membership }, { status: "canceled", entitled: false });
      const movements = await db.sql<{ kind: string; stripe_account_id: string }[]>`
        select distinct kind, stripe_account_id from rolepass.connect_money_movements
        order by kind`;
      assert(
        movements.every((row) => row.stripe_account_id === connect.accountId),
        "every recorded movement is the community's account's",
      );
    });
  },
});
