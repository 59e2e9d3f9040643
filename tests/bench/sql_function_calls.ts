/**
 * What one call of rolepass's small helper functions costs, each call a statement of its own as
 * role-sync, the webhook and the triggers' transactions make them, as a ratio to `select 1` timed
 * in the same run on the same connection (the round trip both pay). With `--candidate <file>`
 * (repeatable), the functions that migration redefines are loaded into a schema of their own
 * (`candidate_<file name>`) and timed beside the migrated ones, in alternating blocks, after
 * checking that both give the same answer.
 *
 * `deno run -A tests/bench/sql_function_calls.ts [--candidate <migration.sql>]... [--calls N]`
 * (a throwaway cluster unless DATABASE_URL names a template to migrate and clone).
 */
import postgres from "postgres";
import { first } from "../harness/assert.ts";
import { createTestDatabase } from "../harness/database.ts";
import { prepareTemplateDatabase } from "../harness/template_database.ts";

/** The values after each `--name` on the command line. */
function options(name: string): string[] {
  return Deno.args.flatMap((arg, at) => arg === `--${name}` ? Deno.args[at + 1] ?? [] : []);
}

const CANDIDATES = options("candidate");
const CALLS = Number(options("calls")[0] ?? 2_000);
const BLOCK = 250;
const ROUNDS = Math.max(1, Math.round(CALLS / BLOCK));

const GUILD = "100000000000000001";
const ROLES = ["300000000000000001", "300000000000000002", "300000000000000003"] as const;

/** Guild, plans, 2,000 members with 10 role jobs each, and one member with two live passes. */
async function arrange(sql: postgres.Sql): Promise<{ member: string; row: unknown }> {
  const arranged = await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into rolepass.guilds (id, name, refund_policy, dispute_policy)
      values (${GUILD}, 'Bench guild', 'revoke_and_cancel', 'revoke_and_cancel')`;
    await tx`insert into rolepass.plans (guild_id, stripe_price_id, discord_role_id,
        discord_role_ids, display, unit_amount, currency, billing_interval)
      select ${GUILD}, 'price_bench' || i, r, array[r], '{"en":{"name":"Plan"}}', 500, 'jpy',
        'month'
      from unnest(${[...ROLES]}::text[]) with ordinality as roles(r, i)`;
    await tx`insert into rolepass.memberships (guild_id, discord_user_id, stripe_customer_id,
        entitled, entitled_role_id, entitled_role_ids, status)
      select ${GUILD}, (200000000000000000 + i)::text, 'cus_bench' || i, true, ${ROLES[0]},
        array[${ROLES[0]}], 'active'
      from generate_series(1, 2000) i`;
    const roles = [...ROLES];
    await tx`insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled,
        role_id, previous_role_id, role_ids, previous_role_ids, cause, status)
      select m.id, m.guild_id, m.discord_user_id, true, (${roles}::text[])[1 + j % 3],
        (${roles}::text[])[1 + (j + 1) % 3], ${roles}::text[], ${roles.slice(2)}::text[],
        'bench', 'done'
      from rolepass.memberships m, generate_series(1, 10) j`;
    const member = first(
      await tx<{ id: string }[]>`select id from rolepass.memberships
        where discord_user_id = '200000000000000001'`,
      "the member",
    ).id;
    await tx`insert into rolepass.member_passes (membership_id, plan_id, stripe_customer_id,
        stripe_checkout_session_id, stripe_payment_intent_id, amount, currency, paid_at,
        access_until)
      select ${member}, p.id, 'cus_bench1', 'cs_bench' || p.stripe_price_id,
        'pi_bench' || p.stripe_price_id, 500, 'jpy', now() - interval '1 day',
        now() + interval '29 days'
      from rolepass.plans p where p.stripe_price_id in ('price_bench2', 'price_bench3')`;
    const row = first(
      await tx<{ row: unknown }[]>`select to_jsonb(m) as row from rolepass.memberships m
        where m.id = ${member}`,
      "the member's row",
    ).row;
    return { member, row };
  });
  await sql`analyze`;
  return arranged;
}

/** Each function's call, with `schema` in place of rolepass. */
function callsOf(member: string, row: unknown): Record<string, (schema: string) => string> {
  const before = JSON.stringify(row).replaceAll("'", "''");
  const after = JSON.stringify({ ...(row as object), status: "past_due", entitled: false })
    .replaceAll("'", "''");
  const roles = `'{${ROLES.join(",")}}'::text[]`;
  const reordered = `'{${[...ROLES].reverse().join(",")}}'::text[]`;
  return {
    same_role_set: (s) => `select ${s}.same_role_set(${roles}, ${reordered})`,
    membership_changes: (s) => `select ${s}.membership_changes('${before}'::jsonb, '${after}')`,
    live_pass_role_ids: (s) => `select ${s}.live_pass_role_ids('${member}')`,
    managed_role_ids: (s) => `select ${s}.managed_role_ids('${member}')`,
    start_stripe_read: (s) => `select ${s}.start_stripe_read() > 0`,
  };
}

/**
 * Loads a candidate migration's function definitions into a schema named after its file; returns
 * the schema and the functions it redefines.
 */
async function loadCandidate(
  sql: postgres.Sql,
  path: string,
): Promise<{ schema: string; names: string[] }> {
  const text = await Deno.readTextFile(path);
  const names = [...text.matchAll(/create or replace function rolepass\.(\w+)\(/g)]
    .map((match) => match[1] ?? "");
  const schema = `candidate_${path.replace(/^.*\//, "").replace(/\.sql$/, "").replace(/\W/g, "_")}`;
  await sql.unsafe(`create schema ${schema}`);
  await sql.unsafe(
    text.replaceAll("create or replace function rolepass.", `create function ${schema}.`)
      .replace(/^(comment on|revoke|grant|alter) [^;]*;/gim, ""),
  );
  return { schema, names };
}

/** Microseconds per call of `statement`, sent `BLOCK` times from here. */
async function timeBlock(sql: postgres.Sql, statement: string): Promise<number> {
  const start = performance.now();
  for (let call = 0; call < BLOCK; call++) await sql.unsafe(statement).simple();
  return (performance.now() - start) * 1000 / BLOCK;
}

/**
 * Microseconds per call of `statement`, run `BLOCK` times by the server itself, each an EXECUTE
 * planned and run on its own as a statement sent by a client is: no round trip, less noise.
 */
async function timeBlockOnServer(sql: postgres.Sql, statement: string): Promise<number> {
  const [row] = await sql<
    { us: number }[]
  >`select pg_temp.time_calls(${statement}, ${BLOCK}) as us`;
  return first(row ? [row] : [], "the block's time").us;
}

async function createServerTimer(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(`create function pg_temp.time_calls(statement text, calls int) returns float8
    language plpgsql as $$
    declare
      started timestamptz := clock_timestamp();
    begin
      for i in 1..calls loop
        execute statement;
      end loop;
      return extract(epoch from clock_timestamp() - started) * 1e6 / calls;
    end;
    $$`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] ?? 0 : ((sorted[middle - 1] ?? 0) +
    (sorted[middle] ?? 0)) / 2;
}

if (!Deno.env.get("DATABASE_URL")) {
  const template = await prepareTemplateDatabase();
  Deno.env.set("DATABASE_URL", template.url);
  try {
    await main();
  } finally {
    await template.release();
  }
} else {
  await main();
}

async function main() {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const { member, row } = await arrange(db.sql);
    const calls = callsOf(member, row);
    const candidates = [];
    for (const path of CANDIDATES) candidates.push(await loadCandidate(sql, path));
    const cases: Record<string, string> = { "select 1": "select 1" };
    for (const [name, call] of Object.entries(calls)) {
      const language = first(
        await sql<{ lanname: string }[]>`select l.lanname from pg_proc p
          join pg_language l on l.oid = p.prolang
          where p.oid = ${`rolepass.${name}`}::regproc`,
        name,
      ).lanname;
      cases[`${name} (${language})`] = call("rolepass");
      for (const { schema } of candidates.filter((c) => c.names.includes(name))) {
        const [answer] = await sql.unsafe(call("rolepass"));
        const [candidate] = await sql.unsafe(call(schema));
        const same = name === "start_stripe_read" ||
          JSON.stringify(Object.values(answer ?? {})) ===
            JSON.stringify(Object.values(candidate ?? {}));
        if (!same) throw new Error(`${name}: ${schema} answers differently`);
        cases[`${name} (${schema})`] = call(schema);
      }
    }
    await createServerTimer(sql);
    const names = Object.keys(cases);
    const timers = { client: timeBlock, server: timeBlockOnServer };
    const samples: Record<string, Record<string, number[]>> = { client: {}, server: {} };
    for (const [where, time] of Object.entries(timers)) {
      // Warm-up: the session's plans and caches.
      for (const name of names) await time(sql, cases[name] ?? "");
      for (let round = 0; round < ROUNDS; round++) {
        // Rotate the order so no case always follows the same one.
        const order = names.map((_, i) => names[(i + round) % names.length] ?? "");
        for (const name of order) {
          ((samples[where] ??= {})[name] ??= []).push(await time(sql, cases[name] ?? ""));
        }
      }
    }
    const per = (where: string, name: string) => median(samples[where]?.[name] ?? []);
    console.log(
      `${ROUNDS} blocks of ${BLOCK} calls per case on one connection, median block: sent one by ` +
        "one from the client (simple protocol), and run by the server as EXECUTEs in a loop",
    );
    console.table(names.map((name) => ({
      case: name,
      "client µs": per("client", name).toFixed(1),
      "client × select 1": (per("client", name) / per("client", "select 1")).toFixed(2),
      "server µs": per("server", name).toFixed(1),
      "server × select 1": (per("server", name) / per("server", "select 1")).toFixed(2),
    })));
  } finally {
    await sql.end();
    await db.drop();
  }
}
