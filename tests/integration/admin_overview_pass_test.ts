/**
 * The operator's overview counts a member entitled by a one-time pass without failing: a pass is
 * no recurring revenue, so the monthly figure reads recurring plans only.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { runAdmin } from "../../functions/_cli/admin.ts";
import { GUILD_ID, insertGuild, MEMBER_ID, ROLE_ID } from "./interactions_fixtures.ts";

Deno.test("the overview of a guild with a pass holder answers, counting no recurring revenue for the pass", async () => {
  await withTestDatabase(async (db) => {
    await insertGuild(db.sql, { plans: [{}] });
    const [plan] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display, unit_amount,
        currency, billing_interval, access_kind)
      values (${GUILD_ID}, 'price_Lifetime1', ${ROLE_ID},
        ${db.sql.json({ en: { name: "Lifetime", description: "" } })}, 20000, 'jpy', null,
        'lifetime')
      returning id`;
    assert(plan, "plan is missing");
    await db.sql`
      insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id, plan_id,
        entitled, entitled_role_id, change_cause)
      values (${GUILD_ID}, ${MEMBER_ID}, 'cus_Lifetime1', ${plan.id}, true, ${ROLE_ID}, 'test')`;
    const out: string[] = [];
    const error: string[] = [];
    const code = await runAdmin(["overview"], { guild: GUILD_ID }, { DATABASE_URL: db.url }, {
      out: (text: string) => out.push(text),
      error: (text: string) => error.push(text),
    });
    assertEquals([code, error], [0, []]);
    const text = out.join("\n");
    assert(text.includes("**Monthly recurring revenue (per currency)**\nnone"), text);
  });
});
