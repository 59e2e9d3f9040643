/**
 * A Discord id and a language are each checked once, by their domains
 * (`rolepass.discord_snowflake`, `rolepass.locale`): no table of the schema spells either rule
 * again in a check constraint of its own.
 */
import { assertEquals } from "../harness/assert.ts";
import { withTestDatabase } from "../harness/database.ts";

Deno.test("no table repeats the Discord id or language rule in a check of its own", async () => {
  await withTestDatabase(async ({ sql }) => {
    const repeated = await sql<{ constraint: string; definition: string }[]>`
      select t.relname || '.' || c.conname as constraint,
        pg_catalog.pg_get_constraintdef(c.oid) as definition
      from pg_catalog.pg_constraint c
      join pg_catalog.pg_class t on t.oid = c.conrelid
      join pg_catalog.pg_namespace n on n.oid = t.relnamespace
      where n.nspname = 'rolepass' and c.contype = 'c'
        and (pg_catalog.pg_get_constraintdef(c.oid) ~ '\\[0-9\\]\\{[0-9]+,20\\}'
          or pg_catalog.pg_get_constraintdef(c.oid) like '%''ja''::text%')
      order by 1`;
    assertEquals([...repeated], []);
  });
});

Deno.test("the notices and the reconciliation state hold Discord ids and languages as the domains", async () => {
  await withTestDatabase(async ({ sql }) => {
    const typed = await sql<{ column: string; domain: string | null }[]>`
      select table_name || '.' || column_name as column, domain_name as domain
      from information_schema.columns
      where table_schema = 'rolepass'
        and (table_name, column_name) in (('notices', 'discord_user_id'), ('notices', 'locale'),
          ('guild_reconciliations', 'resume_after'))
      order by 1`;
    assertEquals(typed.map((row) => [row.column, row.domain]), [
      ["guild_reconciliations.resume_after", "discord_snowflake"],
      ["notices.discord_user_id", "discord_snowflake"],
      ["notices.locale", "locale"],
    ]);
  });
});

Deno.test("no function repeats the Discord id rule: each checks a value against the domain", async () => {
  await withTestDatabase(async ({ sql }) => {
    const repeating = await sql<{ name: string }[]>`
      select p.proname || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' as name
      from pg_catalog.pg_proc p
      join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'rolepass' and p.prosrc ~ '\\[0-9\\]\\{[0-9]+,20\\}'
      order by 1`;
    assertEquals(repeating.map((row) => row.name), []);
    const [checked] = await sql<{ valid: boolean; invalid: boolean; missing: boolean }[]>`
      select rolepass.is_discord_snowflake('123456789012345678') as valid,
        rolepass.is_discord_snowflake('12345') as invalid,
        rolepass.is_discord_snowflake(null) as missing`;
    assertEquals(checked, { valid: true, invalid: false, missing: false });
  });
});
