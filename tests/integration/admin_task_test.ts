/**
 * `deno task admin`: the console of `/rolepass` from the command line, on the real migrated
 * PostgreSQL. It shares the command's code, so it prints what the command would answer and
 * changes only the server it is given.
 */
import { assert, assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { runAdmin } from "../../functions/_cli/admin.ts";
import { GUILD_ID, insertGuild, MEMBER_ID, ROLE_ID } from "./interactions_fixtures.ts";

const OTHER_GUILD_ID = "390926798626357999";

function capture() {
  const out: string[] = [];
  const error: string[] = [];
  return {
    out,
    error,
    output: { out: (text: string) => out.push(text), error: (text: string) => error.push(text) },
  };
}

async function failedJobIn(sql: import("postgres").Sql, guildId: string, planId: string) {
  const [membership] = await sql<{ id: string }[]>`
    insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
      stripe_subscription_id, plan_id, status, entitled, entitled_role_id, change_cause)
    values (${guildId}, ${MEMBER_ID}, ${`cus_${guildId}`}, ${`sub_${guildId}`}, ${planId},
      'active', true, ${ROLE_ID}, 'test')
    returning id`;
  assert(membership, "membership is missing");
  await sql`
    update rolepass.role_jobs set status = 'failed', outcome = 'unknown_role', done_at = now()
    where membership_id = ${membership.id}`;
}

Deno.test("admin failures and retry print what /rolepass answers and touch only --guild", async () => {
  await withTestDatabase(async (db) => {
    const [planId] = await insertGuild(db.sql, { plans: [{}] });
    assert(planId, "planId is missing");
    await db.sql`insert into rolepass.guilds (id, name) values (${OTHER_GUILD_ID}, 'Other')`;
    const [otherPlan] = await db.sql<{ id: string }[]>`
      insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id, display,
        unit_amount, currency, billing_interval)
      values (${OTHER_GUILD_ID}, 'price_other', ${ROLE_ID}, ${
      db.sql.json({ en: { name: "Other", description: "" } })
    }, 500, 'jpy', 'month')
      returning id`;
    assert(otherPlan, "otherPlan is missing");
    await failedJobIn(db.sql, GUILD_ID, planId);
    await failedJobIn(db.sql, OTHER_GUILD_ID, otherPlan.id);
    const env = { DATABASE_URL: db.url };

    const failures = capture();
    assertEquals(await runAdmin(["failures"], { guild: GUILD_ID }, env, failures.output), 0);
    const text = failures.out.join("\n");
    assert(text.includes(`<@&${ROLE_ID}> grant for <@${MEMBER_ID}>: failed`), text);
    assert(text.includes("the role no longer exists"), text);

    const retry = capture();
    assertEquals(
      await runAdmin(["retry"], { guild: GUILD_ID, lang: "ja" }, env, retry.output),
      0,
    );
    assertEquals(retry.out, ["失敗したロール変更1件をもう一度実行します。"]);
    const statuses = await db.sql<{ guild_id: string; status: string }[]>`
      select guild_id, status from rolepass.role_jobs order by guild_id`;
    assertEquals(statuses.map((row) => [row.guild_id, row.status]), [
      [GUILD_ID, "pending"],
      [OTHER_GUILD_ID, "failed"],
    ]);
  });
});

Deno.test("admin refuses a bad command line before touching the database", async () => {
  const env = { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" };
  for (
    const [positionals, flags, problem] of [
      [["failures"], {}, "--guild must be a Discord server id"],
      [["status"], { guild: GUILD_ID }, "status needs --member"],
      [["status"], { guild: GUILD_ID, member: "someone" }, "status needs --member"],
      [["drop"], { guild: GUILD_ID }, 'unknown subcommand "drop"'],
      [[], { guild: GUILD_ID }, "name a subcommand"],
      [["overview"], { guild: GUILD_ID, lang: "fr" }, "--lang must be ja or en"],
    ] as const
  ) {
    const run = capture();
    assertEquals(await runAdmin([...positionals], { ...flags }, env, run.output), 2);
    assert(run.error.join("").includes(problem), run.error.join(""));
  }
});

Deno.test("admin exits 1 with one sentence when the database cannot be read", async () => {
  const run = capture();
  const code = await runAdmin(["overview"], { guild: GUILD_ID }, {
    DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
  }, run.output);
  assertEquals(code, 1);
  assert(run.error.join("").includes("Check DATABASE_URL"), run.error.join(""));
});
