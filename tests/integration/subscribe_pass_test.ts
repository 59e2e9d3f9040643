/**
 * `/subscribe` through the real interactions function for a member holding a one-time pass: the
 * join link comes back (a pass is no subscription to manage), with what they hold and until when.
 */
import { assert } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
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

const UNTIL = new Date(Date.now() + 20 * 86_400_000);

async function subscribeAs(
  access: { kind: "duration"; until: Date } | { kind: "lifetime" },
): Promise<{ content: string; url: string }> {
  let answer = { content: "", url: "" };
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const [plan] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind, access_duration)
      values (${GUILD_ID}, 'price_Pass1', ${ROLE_ID},
        ${db.sql.json({ en: { name: "Event pass", description: "" } })}, 3000, 'jpy', null,
        ${access.kind}, ${access.kind === "duration" ? "30 days" : null}::interval)
      returning id`;
    assert(plan, "plan is missing");
    const [membership] = await db.sql<{ id: string }[]>`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, plan_id,
        entitled, entitled_role_id, entitled_until, change_cause)
      values (${GUILD_ID}, ${MEMBER_ID}, 'cus_Pass1', ${plan.id}, true, ${ROLE_ID},
        ${access.kind === "duration" ? access.until : null}, 'test')
      returning id`;
    assert(membership, "membership is missing");
    await db.sql`
      insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
        stripe_checkout_session_id, stripe_payment_intent_id, stripe_charge_id, amount, currency,
        paid_at, access_until)
      values (${membership.id}, ${plan.id}, 'cus_Pass1', 'cs_test_pass1', 'pi_pass1', 'ch_pass1',
        3000, 'jpy', now() - interval '10 days',
        ${access.kind === "duration" ? access.until : null})`;
    const signer = await createDiscordSigner();
    const { app, sql } = buildApp(db.url, signer.publicKeyHex);
    try {
      const response = await postSigned(app, signer, await subscribeInteraction());
      const reply = await response.json();
      answer = { content: reply.data.content, url: reply.data.components[0].components[0].url };
    } finally {
      await sql.end();
    }
  });
  return answer;
}

Deno.test("/subscribe tells a pass holder until when and links to the plan page to renew", async () => {
  const { content, url } = await subscribeAs({ kind: "duration", until: UNTIL });
  const mark = `<t:${Math.floor(UNTIL.getTime() / 1000)}:D>`;
  assert(content.includes("**Event pass**") && content.includes(mark), content);
  assert(url.includes("/join/"), url);
  assert(content.includes("30"), content);
});

Deno.test("/subscribe tells a lifetime holder the role is theirs for good", async () => {
  const { content, url } = await subscribeAs({ kind: "lifetime" });
  assert(
    content.includes("for good") || content.includes("期限はなく、ずっとご利用いただけます"),
    content,
  );
  assert(url.includes("/join/"), url);
});
