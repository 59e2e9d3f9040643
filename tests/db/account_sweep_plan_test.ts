/**
 * Platform mode: the hourly catch-up's choice of connected accounts to re-read
 * (functions/role-sync/account_sweep.ts) walks guild_stripe_accounts_state_age_idx (migration
 * 20261203000700) from the oldest recorded state and stops at its limit, so a pass costs the same
 * with 20,000 guilds as with 20: no sequential scan, no sort of every guild's account. The plan is
 * the one PostgreSQL ran for the sweep's own statement (auto_explain); node types and index names
 * are asserted, never times.
 */
import postgres from "postgres";
import { sweepConnectedAccounts } from "../../functions/role-sync/account_sweep.ts";
import { createLogger } from "../../functions/_shared/log.ts";
import type { StripeGateway } from "../../functions/_shared/stripe_gateway.ts";
import { assert, assertEquals } from "../harness/assert.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { explainedStatements, type PlanNode } from "../harness/query_plans.ts";

const ACCOUNTS = 20_000;
const INDEX = "guild_stripe_accounts_state_age_idx";

/**
 * `ACCOUNTS` guilds with their accounts as a steady state leaves them: read at some time in the
 * last 25 hours (the sweep re-reads daily), one in twenty unable to take charges. Triggers are off
 * while arranging.
 */
async function arrangeAccounts(sql: postgres.Sql) {
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.guilds (id, name, refund_policy, dispute_policy)
      select (100000000000000000 + g)::text, 'Guild ' || g, 'revoke_and_cancel', 'revoke_and_cancel'
      from generate_series(1, ${ACCOUNTS}) g`;
    await tx`insert into rolepass.guild_stripe_accounts (guild_id, stripe_account_id,
        details_submitted, charges_enabled, payouts_enabled, read_seq, read_at, created_at)
      select (100000000000000000 + g)::text, 'acct_' || g, true, g % 20 <> 0, g % 20 <> 0, g,
        now() - make_interval(mins => g % 1500), now() - interval '30 days'
      from generate_series(1, ${ACCOUNTS}) g`;
  });
  await sql`analyze rolepass.guild_stripe_accounts`;
}

/** Runs the sweep's selection and returns the plans of its statements on the accounts. */
async function sweepPlans(db: TestDatabase, limit: number): Promise<PlanNode[][]> {
  const stripe = new Proxy({}, {
    get() {
      throw new Error("the deadline has passed: Stripe is never asked");
    },
  }) as StripeGateway;
  const statements = await explainedStatements(db.url, async (sql) => {
    // A deadline already past: the selection runs, and no account is read from Stripe.
    const sweep = await sweepConnectedAccounts(
      { sql, stripe, now: () => new Date(), logger: createLogger("role-sync") },
      0,
      limit,
    );
    assertEquals(sweep, { checked: 0, changed: 0, failed: [] });
  });
  return statements.filter((s) => s.query.includes("guild_stripe_accounts")).map((s) => s.nodes);
}

Deno.test("with 20,000 guilds the account sweep reads the oldest states through their index", async () => {
  await withTestDatabase(async (db) => {
    await arrangeAccounts(db.sql);
    const plans = await sweepPlans(db, 200);
    assertEquals(plans.length, 1, "the sweep's selection was explained once");
    const nodes = plans[0] ?? [];
    const described = nodes.map((n) => `${n["Node Type"]} ${n["Index Name"] ?? ""}`).join(", ");
    assert(
      !nodes.some((n) =>
        n["Node Type"] === "Seq Scan" && n["Relation Name"] === "guild_stripe_accounts"
      ),
      `no sequential scan of the accounts: ${described}`,
    );
    assert(nodes.some((n) => n["Index Name"] === INDEX), `reads ${INDEX}: ${described}`);
    assert(nodes[0]?.["Node Type"] === "Limit", `stops at the limit: ${described}`);
    assert(
      !nodes.some((n) => n["Node Type"] === "Sort"),
      `takes the index's order instead of sorting every due account: ${described}`,
    );
  });
});
