import { assert, assertEquals, assertRejects } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership } from "./fixtures.ts";

/** Every table, with a column that exists in it (for the UPDATE attempt). */
const TABLE_COLUMNS: Record<string, string> = {
  guilds: "name",
  plans: "sort_order",
  memberships: "locale",
  link_tokens: "locale",
  interaction_tokens: "token",
  checkout_attempts: "status",
  stripe_events: "type",
  membership_history: "cause",
  role_jobs: "status",
};
const TABLES = Object.keys(TABLE_COLUMNS);

Deno.test("row level security is enabled on every table in public", async () => {
  await withTestDatabase(async ({ sql }) => {
    const rows = await sql<{ relname: string; relrowsecurity: boolean }[]>`
      select c.relname, c.relrowsecurity from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p')`;
    assert(rows.length >= TABLES.length, "every expected table exists");
    for (const table of TABLES) {
      assert(rows.some((row) => row.relname === table), `${table} exists`);
    }
    for (const row of rows) assert(row.relrowsecurity, `RLS is enabled on ${row.relname}`);
  });
});

for (const role of ["anon", "authenticated"]) {
  Deno.test(`${role} can neither read nor write any table`, async () => {
    await withTestDatabase(async ({ sql }) => {
      await insertGuildWithPlan(sql);
      await insertMembership(sql);
      for (const table of TABLES) {
        for (
          const statement of [
            `select * from public.${table} limit 1`,
            `insert into public.${table} default values`,
            `update public.${table} set ${TABLE_COLUMNS[table]} = ${TABLE_COLUMNS[table]}`,
            `delete from public.${table}`,
          ]
        ) {
          await assertRejects(
            () =>
              sql.begin(async (tx) => {
                await tx.unsafe(`set local role ${role}`);
                await tx.unsafe(statement);
              }),
            Error,
            "permission denied",
            `${role}: ${statement}`,
          );
        }
      }
    });
  });
}

Deno.test("anon and authenticated cannot execute the trigger and webhook functions", async () => {
  await withTestDatabase(async ({ sql }) => {
    for (const role of ["anon", "authenticated"]) {
      await assertRejects(
        () =>
          sql.begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx.unsafe(`select public.sweep_role_jobs()`);
          }),
        Error,
        "permission denied",
      );
    }
  });
});

Deno.test("service_role reads and writes the tables but cannot rewrite history", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    await sql.begin(async (tx) => {
      await tx.unsafe("set local role service_role");
      await tx`insert into public.memberships (guild_id, discord_user_id)
        values (${GUILD_ID}, '200000000000000009')`;
      const rows = await tx`select * from public.membership_history`;
      assertEquals(rows.length, 1);
    });
    await assertRejects(
      () =>
        sql.begin(async (tx) => {
          await tx.unsafe("set local role service_role");
          await tx`delete from public.membership_history`;
        }),
      Error,
      "permission denied",
    );
  });
});

Deno.test("every security definer function pins its search_path", async () => {
  await withTestDatabase(async ({ sql }) => {
    const rows = await sql<{ proname: string; proconfig: string[] | null }[]>`
      select p.proname, p.proconfig from pg_proc p
      join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.prosecdef`;
    assert(rows.length > 0);
    for (const row of rows) {
      assert(
        (row.proconfig ?? []).some((setting) => setting.startsWith("search_path=")),
        `${row.proname} sets search_path`,
      );
    }
  });
});
