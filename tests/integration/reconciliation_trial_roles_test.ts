/**
 * Reconciliation counts a trial's own roles among the roles the guild sells, so one held without a
 * trial is drift like any unpaid role.
 */
import { assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { createReconciliationStore } from "../../functions/role-sync/reconciliation_store.ts";

const GUILD = "1500000000000000001";
const PAID = ["1500000000000000002", "1500000000000000003"];
const TRIAL = "1500000000000000004";

Deno.test("a guild's sold roles are its plans' paid roles and their trials' own roles", async () => {
  await withTestDatabase(async ({ sql }) => {
    await sql`insert into rolepass.guilds (id, name) values (${GUILD}, 'Lounge')`;
    await sql`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, discord_role_ids,
        trial_days, trial_role_ids, display, unit_amount, currency, billing_interval)
      values (${GUILD}, 'price_trialroles', ${PAID[0] ?? null}, ${PAID}::text[], 7,
        ${[TRIAL]}::text[], ${sql.json({ en: { name: "Gold" } })}, 500, 'jpy', 'month')`;
    const guild = await createReconciliationStore(sql).loadGuild(GUILD);
    assertEquals([...(guild?.paidRoleIds ?? [])].sort(), [...PAID, TRIAL].sort());
  });
});
