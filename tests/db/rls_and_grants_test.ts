import { assert, assertEquals, assertRejects, first } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";
import { GUILD_ID, insertGuildWithPlan, insertMembership } from "./fixtures.ts";

/** The tables of the core schema; later migrations add more, and every one is checked. */
const TABLES = [
  "guilds",
  "plans",
  "memberships",
  "link_tokens",
  "interaction_tokens",
  "checkout_attempts",
  "stripe_events",
  "membership_history",
  "role_jobs",
];

Deno.test("row level security is enabled on every table in rolepass", async () => {
  await withTestDatabase(async ({ sql }) => {
    const rows = await sql<{ relname: string; relrowsecurity: boolean }[]>`
      select c.relname, c.relrowsecurity from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'rolepass' and c.relkind in ('r', 'p')`;
    assert(rows.length >= TABLES.length, "every expected table exists");
    for (const table of TABLES) {
      assert(rows.some((row) => row.relname === table), `${table} exists`);
    }
    for (const row of rows) assert(row.relrowsecurity, `RLS is enabled on ${row.relname}`);
  });
});

/** Every table and view in rolepass with one of its columns (for the UPDATE attempt). */
async function rolepassRelations(
  sql: import("postgres").Sql,
): Promise<{ name: string; column: string; isView: boolean }[]> {
  return await sql<{ name: string; column: string; isView: boolean }[]>`
    select c.relname as name, c.relkind in ('v', 'm') as "isView",
      (select a.attname from pg_attribute a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          and a.attidentity = '' and a.attgenerated = ''
        order by a.attnum limit 1) as column
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'rolepass' and c.relkind in ('r', 'p', 'v', 'm')
    order by c.relname`;
}

for (const role of ["anon", "authenticated"]) {
  Deno.test(`${role} can neither read nor write any table or view`, async () => {
    await withTestDatabase(async ({ sql }) => {
      await insertGuildWithPlan(sql);
      await insertMembership(sql);
      const relations = await rolepassRelations(sql);
      for (const table of TABLES) {
        assert(relations.some((relation) => relation.name === table), `${table} is checked`);
      }
      for (const { name, column, isView } of relations) {
        const reads = [`select * from rolepass.${name} limit 1`];
        const writes = [
          `insert into rolepass.${name} default values`,
          `update rolepass.${name} set ${column} = ${column}`,
          `delete from rolepass.${name}`,
        ];
        // The views are not updatable at all, so only reading them says something about grants.
        for (const statement of isView ? reads : [...reads, ...writes]) {
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

Deno.test("anon and authenticated cannot execute any function in rolepass", async () => {
  await withTestDatabase(async ({ sql }) => {
    for (const role of ["anon", "authenticated"]) {
      const executable = await sql<{ proname: string }[]>`
        select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'rolepass' and has_function_privilege(${role}, p.oid, 'execute')`;
      assertEquals(executable.map((row) => row.proname), [], `${role} can execute nothing`);
      await assertRejects(
        () =>
          sql.begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx.unsafe(`select rolepass.sweep_role_jobs()`);
          }),
        Error,
        "permission denied",
      );
    }
  });
});

Deno.test("public, the schema the Data API serves, holds no object; its roles cannot enter rolepass", async () => {
  await withTestDatabase(async ({ sql }) => {
    const inPublic = await sql<{ name: string }[]>`
      select c.relname as name from pg_class c where c.relnamespace = 'public'::regnamespace
      union all
      select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace
      union all
      select t.typname from pg_type t where t.typnamespace = 'public'::regnamespace
      order by 1`;
    assertEquals(inPublic.map((row) => row.name), []);
    const { tables } = first(
      await sql<{ tables: number }[]>`
      select count(*)::int as tables from pg_class
      where relnamespace = 'rolepass'::regnamespace and relkind = 'r'`,
      "a row",
    );
    assert(tables >= TABLES.length, "the tables are in rolepass");
    const entering = await sql<{ role: string; usage: boolean }[]>`
      select role, has_schema_privilege(role, 'rolepass', 'usage') as usage
      from unnest(array['anon', 'authenticated', 'service_role']) as role
      order by role`;
    assertEquals([...entering], [
      { role: "anon", usage: false },
      { role: "authenticated", usage: false },
      { role: "service_role", usage: true },
    ]);
  });
});

Deno.test("service_role reads and writes the tables but cannot rewrite history", async () => {
  await withTestDatabase(async ({ sql }) => {
    await insertGuildWithPlan(sql);
    await sql.begin(async (tx) => {
      await tx.unsafe("set local role service_role");
      await tx`insert into rolepass.memberships (guild_id, discord_user_id)
        values (${GUILD_ID}, '200000000000000009')`;
      const rows = await tx`select * from rolepass.membership_history`;
      assertEquals(rows.length, 1);
    });
    await assertRejects(
      () =>
        sql.begin(async (tx) => {
          await tx.unsafe("set local role service_role");
          await tx`delete from rolepass.membership_history`;
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
      where n.nspname = 'rolepass' and p.prosecdef`;
    assert(rows.length > 0);
    for (const row of rows) {
      assert(
        (row.proconfig ?? []).some((setting) => setting.startsWith("search_path=")),
        `${row.proname} sets search_path`,
      );
    }
  });
});
