/**
 * `/subscribe` in Japanese, through the signed interactions endpoint, says the right thing for each
 * state of the member's subscription (refunded, disputed, past due in grace and after it, unpaid,
 * paused, scheduled to cancel, trialing), in words of its own for each, never the generic "needs
 * attention" reply, and links to the portal. subscribe_states_test.ts holds the English replies.
 */
import { assert } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { holdsLiveSubscription } from "../../functions/_core/subscription_state.ts";
import {
  buildApp,
  createDiscordSigner,
  GUILD_ID,
  insertGuild,
  MEMBER_ID,
  postSigned,
  ROLE_ID,
  subscribeInteraction,
} from "./interactions_fixtures.ts";

const LATER = new Date("2027-01-31T00:00:00Z");
const LATER_MARK = `<t:${LATER.getTime() / 1000}:D>`;

interface State {
  name: string;
  status: string;
  entitled: boolean;
  revokedReason?: "refund" | "dispute";
  entitledUntil?: Date;
  cancelAt?: Date;
  currentPeriodEnd?: Date;
  /** What the Japanese reply must say. */
  says: string[];
}

const STATES: State[] = [
  { name: "refunded", status: "active", entitled: false, revokedReason: "refund", says: ["返金"] },
  {
    name: "disputed",
    status: "active",
    entitled: false,
    revokedReason: "dispute",
    says: ["異議申し立て", "カード会社"],
  },
  {
    name: "past due in grace",
    status: "past_due",
    entitled: true,
    entitledUntil: LATER,
    says: ["お支払いいただけていません", `${LATER_MARK} まで有効`, "お支払い方法を更新"],
  },
  { name: "past due after grace", status: "past_due", entitled: false, says: ["未払い"] },
  { name: "unpaid", status: "unpaid", entitled: false, says: ["未払い", "お支払い方法を更新"] },
  { name: "paused", status: "paused", entitled: false, says: ["一時停止中", "再開"] },
  {
    name: "scheduled to cancel",
    status: "active",
    entitled: true,
    cancelAt: LATER,
    entitledUntil: LATER,
    says: [`${LATER_MARK} に終了`, "継続に戻す"],
  },
  {
    name: "trialing",
    status: "trialing",
    entitled: true,
    currentPeriodEnd: LATER,
    says: ["無料でお試し中", `${LATER_MARK} から課金`],
  },
];

for (const state of STATES) {
  Deno.test(`/subscribe in Japanese for a subscription ${state.name} says so`, async () => {
    await withTestDatabase(async (db) => {
      const [planId] = await insertGuild(db.sql, { plans: [{}] });
      assert(planId, "planId is missing");
      const live = holdsLiveSubscription({
        status: state.status,
        entitled: state.entitled,
        stripeSubscriptionId: "sub_Test1",
      });
      await db.sql`
        insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
          stripe_subscription_id, plan_id, status, entitled, entitled_role_id, cancel_at,
          entitled_until, current_period_end, revoked_reason, subscription_live, change_cause)
        values (${GUILD_ID}, ${MEMBER_ID}, 'cus_Test1', 'sub_Test1', ${planId}, ${state.status},
          ${state.entitled}, ${state.entitled ? ROLE_ID : null}, ${state.cancelAt ?? null},
          ${state.entitledUntil ?? null}, ${state.currentPeriodEnd ?? null},
          ${state.revokedReason ?? null}, ${live || state.revokedReason !== undefined}, 'test')`;
      const signer = await createDiscordSigner();
      const { app, sql } = buildApp(db.url, signer.publicKeyHex);
      try {
        const response = await postSigned(
          app,
          signer,
          await subscribeInteraction({ locale: "ja" }),
        );
        const reply = await response.json();
        const content: string = reply.data.content;
        for (const words of state.says) assert(content.includes(words), content);
        assert(!content.includes("対応が必要"), content);
        assert(!/\b(the|your|portal)\b/i.test(content), `English in a Japanese reply: ${content}`);
        assert(reply.data.components[0].components[0].url.includes("/manage/"), content);
      } finally {
        await sql.end();
      }
    });
  });
}
