/**
 * `/subscribe` through the signed interactions endpoint says the right thing for each state of
 * the member's subscription: refunded, disputed, past due in grace, unpaid, paused, scheduled to
 * cancel, trialing; each reply links to the portal, never to a second checkout.
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
  /** What the English reply must say. */
  says: string[];
}

const STATES: State[] = [
  {
    name: "refunded",
    status: "active",
    entitled: false,
    revokedReason: "refund",
    says: ["refunded"],
  },
  {
    name: "disputed",
    status: "active",
    entitled: false,
    revokedReason: "dispute",
    says: ["disputed", "card issuer"],
  },
  {
    name: "past due in grace",
    status: "past_due",
    entitled: true,
    entitledUntil: LATER,
    says: ["failed", `until ${LATER_MARK}`, "payment method"],
  },
  { name: "past due after grace", status: "past_due", entitled: false, says: ["unpaid"] },
  { name: "unpaid", status: "unpaid", entitled: false, says: ["unpaid", "payment method"] },
  { name: "paused", status: "paused", entitled: false, says: ["paused", "resume"] },
  {
    name: "scheduled to cancel",
    status: "active",
    entitled: true,
    cancelAt: LATER,
    entitledUntil: LATER,
    says: [`ends on ${LATER_MARK}`, "resume"],
  },
  {
    name: "trialing",
    status: "trialing",
    entitled: true,
    currentPeriodEnd: LATER,
    says: ["free trial", `Billing starts ${LATER_MARK}`],
  },
];

for (const state of STATES) {
  Deno.test(`/subscribe for a member whose subscription is ${state.name} says so and links to the portal`, async () => {
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
        const response = await postSigned(app, signer, await subscribeInteraction());
        const reply = await response.json();
        const content: string = reply.data.content;
        for (const words of state.says) assert(content.includes(words), content);
        assert(!content.includes("needs attention"), content);
        assert(reply.data.components[0].components[0].url.includes("/manage/"), content);
      } finally {
        await sql.end();
      }
    });
  });
}
