/**
 * `deno task plans:apply` against the Stripe double and a real migrated PostgreSQL: the file is
 * validated, prices come from Stripe, and guilds and plans are written in one transaction or not
 * at all.
 */
import { assert, assertEquals, first } from "../harness/assert.ts";
import { type TestDatabase, withTestDatabase } from "../harness/database.ts";
import { startStripeDouble, type StripeDouble } from "../../functions/_doubles/stripe/index.ts";
import { runPlansApply } from "../../functions/_cli/plans_apply.ts";

const STRIPE_KEY = "sk_test_plansApplyDoubleKey";
const GUILD_ID = "1187654321098765432";
const ROLE_ID = "1187654321098765501";
const exampleText = await Deno.readTextFile(
  new URL("../../supabase/plans.example.json", import.meta.url),
);

interface Context {
  db: TestDatabase;
  stripe: StripeDouble;
  monthly: string;
  yearly: string;
  /** Writes `json` to a temporary plans file and runs the command on it. */
  apply(json: unknown, extraArgs?: string[]): Promise<{ code: number; out: string }>;
}

async function withContext(fn: (context: Context) => Promise<void>): Promise<void> {
  const stripe = await startStripeDouble({ secretKey: STRIPE_KEY });
  const dir = await Deno.makeTempDir({ prefix: "rolepass_plans_" });
  try {
    await withTestDatabase(async (db) => {
      const monthly = stripe.createPrice({ unitAmount: 500, currency: "jpy", interval: "month" });
      const yearly = stripe.createPrice({ unitAmount: 5000, currency: "jpy", interval: "year" });
      let runs = 0;
      await fn({
        db,
        stripe,
        monthly: monthly.id,
        yearly: yearly.id,
        async apply(json, extraArgs = []) {
          const path = `${dir}/plans_${runs++}.json`;
          await Deno.writeTextFile(
            path,
            typeof json === "string" ? json : JSON.stringify(json, null, 2),
          );
          const lines: string[] = [];
          const code = await runPlansApply([path, ...extraArgs], {
            DATABASE_URL: db.url,
            STRIPE_SECRET_KEY: STRIPE_KEY,
            STRIPE_API_BASE_URL: stripe.url,
          }, { info: (line) => lines.push(line), error: (line) => lines.push(line) });
          return { code, out: lines.join("\n") };
        },
      });
    });
  } finally {
    await stripe.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The example file with its two plans bound to the double's prices. */
function exampleWith(monthly: string, yearly: string) {
  const json = JSON.parse(exampleText);
  json.guilds[0].plans[0].stripe_price_id = monthly;
  json.guilds[0].plans[1].stripe_price_id = yearly;
  return json;
}

async function countRows(db: TestDatabase): Promise<{ guilds: number; plans: number }> {
  const [row] = await db.sql<{ guilds: number; plans: number }[]>`
    select (select count(*) from rolepass.guilds)::int as guilds,
      (select count(*) from rolepass.plans)::int as plans`;
  assert(row, "row is missing");
  return row;
}

Deno.test("a valid file writes its guild and plans with the amounts Stripe has", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    const { code, out } = await apply(exampleWith(monthly, yearly));
    assertEquals(code, 0, out);
    assert(out.includes("guilds: 1 added, 0 updated; plans: 2 added, 0 updated"), out);

    const [guild] = await db.sql`
      select name, default_locale, past_due_grace::text as grace, revoke_on_refund,
        seller_notice -> 'seller' ->> 'ja' as seller from rolepass.guilds where id = ${GUILD_ID}`;
    assertEquals(guild, {
      name: "Rolepass Lounge",
      default_locale: "ja",
      grace: "3 days",
      revoke_on_refund: true,
      seller: "ロールパス合同会社",
    });
    const plans = await db.sql`
      select stripe_price_id, discord_role_id, unit_amount, currency, billing_interval,
        interval_count, sort_order, active, display -> 'en' ->> 'name' as name
      from rolepass.plans order by sort_order`;
    assertEquals(plans.map((p) => ({ ...p })), [
      {
        stripe_price_id: monthly,
        discord_role_id: ROLE_ID,
        unit_amount: 500,
        currency: "jpy",
        billing_interval: "month",
        interval_count: 1,
        sort_order: 10,
        active: true,
        name: "Supporter (monthly)",
      },
      {
        stripe_price_id: yearly,
        discord_role_id: ROLE_ID,
        unit_amount: 5000,
        currency: "jpy",
        billing_interval: "year",
        interval_count: 1,
        sort_order: 20,
        active: true,
        name: "Supporter (yearly, two months free)",
      },
    ]);
  });
});

Deno.test("applying the same file twice changes nothing the second time", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    await apply(exampleWith(monthly, yearly));
    const [before] = await db.sql`select max(updated_at) as at from rolepass.plans`;
    assert(before, "before is missing");
    const { code, out } = await apply(exampleWith(monthly, yearly));
    assertEquals(code, 0, out);
    assert(out.includes("guilds: 0 added, 0 updated; plans: 0 added, 0 updated, 2 unchanged"));
    const [after] = await db.sql`select max(updated_at) as at from rolepass.plans`;
    assert(after, "after is missing");
    assertEquals(after.at, before.at);
  });
});

Deno.test("a plan removed from the file becomes inactive and is kept", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    await apply(exampleWith(monthly, yearly));
    const json = exampleWith(monthly, yearly);
    json.guilds[0].plans.pop();
    json.guilds[0].name = "Rolepass Lounge 2";
    json.guilds[0].past_due_grace = "P1WT12H";
    const { code, out } = await apply(json);
    assertEquals(code, 0, out);
    assert(out.includes("guilds: 0 added, 1 updated"), out);
    assert(out.includes(`1 deactivated (${yearly})`), out);
    const [guild] = await db.sql`select past_due_grace::text as grace from rolepass.guilds`;
    assert(guild, "guild is missing");
    assertEquals(guild.grace, "7 days 12:00:00");
    const rows = await db.sql`
      select stripe_price_id, active from rolepass.plans order by stripe_price_id`;
    assertEquals(
      rows.map((r) => [r.stripe_price_id, r.active]).sort(),
      [[monthly, true], [yearly, false]].sort(),
    );
  });
});

Deno.test("a file with bad fields names each one and writes nothing", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    const json = exampleWith(monthly, yearly);
    json.guilds[0].plans[1].discord_role_id = "role-supporter";
    json.guilds[0].past_due_grace = "three days";
    const { code, out } = await apply(json);
    assertEquals(code, 1);
    assert(out.includes("(2 problems; nothing was written)"), out);
    assert(out.includes("  - guilds[0].past_due_grace: expected an ISO 8601 duration"), out);
    assert(out.includes("  - guilds[0].plans[1].discord_role_id: expected a Discord id"), out);
    assertEquals(await countRows(db), { guilds: 0, plans: 0 });
  });
});

Deno.test("a one-time or unknown price is refused and nothing is written", async () => {
  await withContext(async ({ db, stripe, monthly, apply }) => {
    const oneTime = stripe.createPrice({ unitAmount: 3000, currency: "jpy", recurring: false });
    const json = exampleWith(monthly, oneTime.id);
    json.guilds[0].plans[0].stripe_price_id = "price_doesNotExist";
    const { code, out } = await apply(json);
    assertEquals(code, 1);
    assert(
      out.includes(
        "guilds[0].plans[0].stripe_price_id: price price_doesNotExist does not exist in this " +
          "Stripe account",
      ),
      out,
    );
    assert(
      out.includes(`guilds[0].plans[1].stripe_price_id: price ${oneTime.id} is a one-time price`),
      out,
    );
    assertEquals(await countRows(db), { guilds: 0, plans: 0 });
  });
});

Deno.test("a price already sold in another guild is refused and the whole apply rolls back", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    const first = exampleWith(monthly, yearly);
    first.guilds[0].plans.pop();
    assertEquals((await apply(first)).code, 0);

    const second = exampleWith(monthly, yearly);
    second.guilds[0].plans[0].stripe_price_id = yearly;
    second.guilds[0].plans.pop();
    const otherGuild = structuredClone(second.guilds[0]);
    otherGuild.id = "1287654321098765432";
    otherGuild.name = "Another server";
    otherGuild.plans[0].stripe_price_id = monthly;
    // A Discord role belongs to one server: the other server sells a role of its own.
    otherGuild.plans[0].discord_role_id = "1287654321098765501";
    second.guilds.push(otherGuild);
    const { code, out } = await apply(second);
    assertEquals(code, 1);
    assert(
      out.includes(
        `guilds[1].plans[0].stripe_price_id: price ${monthly} is already sold in guild ${GUILD_ID}`,
      ),
      out,
    );
    assertEquals(await countRows(db), { guilds: 1, plans: 1 });
  });
});

Deno.test("a dry run validates against Stripe and writes nothing", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    const { code, out } = await apply(exampleWith(monthly, yearly), ["--dry-run"]);
    assertEquals(code, 0, out);
    assert(out.includes("dry run: nothing written"), out);
    assertEquals(await countRows(db), { guilds: 0, plans: 0 });
  });
});

Deno.test("a missing Stripe key or plans file is named, with where to get it", async () => {
  const lines: string[] = [];
  const out = {
    info: (line: string) => lines.push(line),
    error: (line: string) => lines.push(line),
  };
  assertEquals(await runPlansApply([], { DATABASE_URL: "postgresql://localhost/x" }, out), 2);
  assert(lines.join("\n").includes("STRIPE_SECRET_KEY is missing: Stripe Dashboard"), lines[0]);

  lines.length = 0;
  const env = { DATABASE_URL: "postgresql://localhost/x", STRIPE_SECRET_KEY: STRIPE_KEY };
  assertEquals(await runPlansApply(["/nonexistent/plans.json"], env, out), 1);
  assert(
    first(lines, "an item of lines").includes(
      "Copy supabase/plans.example.json to supabase/plans.json",
    ),
    lines[0],
  );
});

Deno.test("operator_log turns a kind of log line off for its guild: that kind queues nothing, the others still do", async () => {
  await withContext(async ({ db, monthly, yearly, apply }) => {
    const json = exampleWith(monthly, yearly);
    json.guilds[0].operator_log_channel_id = "1187654321098765999";
    json.guilds[0].operator_log = { renewal_paid: false, health_fixed: true };
    const { code, out } = await apply(json);
    assertEquals(code, 0, out);
    const guildId = json.guilds[0].id;
    const [guild] = await db.sql<{ muted: string[] }[]>`
      select operator_log_muted_kinds as muted from rolepass.guilds where id = ${guildId}`;
    assert(guild, "guild is missing");
    assertEquals(guild.muted, ["renewal_paid"]);
    const { muted, kept } = first(
      await db.sql<{ muted: string | null; kept: string | null }[]>`
      select rolepass.enqueue_operator_notice(${guildId}, 'renewal_paid', '{}'::jsonb)::text
          as muted,
        rolepass.enqueue_operator_notice(${guildId}, 'health_fixed',
          '{"reason": "the bot can manage roles again"}'::jsonb)::text as kept`,
      "a row",
    );
    assertEquals(muted, null);
    assert(kept !== null);

    json.guilds[0].operator_log = { renewal_paid: "no" };
    const refused = await apply(json);
    assert(refused.code !== 0);
    assert(refused.out.includes("operator_log"), refused.out);
  });
});
