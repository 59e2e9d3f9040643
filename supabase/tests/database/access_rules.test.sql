-- Who may touch the project's data: nobody through Supabase's Data API roles.
--   * row level security is on for every table;
--   * anon and authenticated can neither select, insert, update nor delete any table or view, and
--     can execute no function;
--   * every security definer function runs with an empty search_path, so no caller can shadow
--     the objects it names;
--   * the project lives in its own schema, which the Data API roles cannot enter, and `public`
--     (the schema the Data API serves) holds none of its objects.
-- Run by `supabase test db` (local stack, or `--db-url` for a hosted project) and by
-- `deno task test` (tests/db/pgtap_test.ts). Everything happens in one transaction that is rolled
-- back, the pgTAP extension included when this file created it.
begin;
create extension if not exists pgtap with schema extensions;
set local search_path = extensions, public;

-- The schemas that hold the project's tables and functions: the one place to change when they move.
create temporary table rolepass_schemas (name) on commit drop as
  values ('rolepass'::name);

-- The roles Supabase's Data API acts as.
create temporary table api_roles (name) on commit drop as
  values ('anon'::name), ('authenticated'::name);

-- The project's own tables and views, with a column an UPDATE can name; objects an extension
-- installed in these schemas are the extension's business.
create temporary table rolepass_relations on commit drop as
  select c.oid, n.nspname as schema_name, c.relname as name, c.relkind in ('r', 'p') as is_table,
    c.relrowsecurity as has_rls,
    (select a.attname from pg_attribute a
      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        and a.attidentity = '' and a.attgenerated = ''
      order by a.attnum limit 1) as column_name
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in (select name from rolepass_schemas)
    and c.relkind in ('r', 'p', 'v', 'm')
    and not exists (
      select 1 from pg_depend d
      where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
    )
  order by n.nspname, c.relname;

create temporary table rolepass_functions on commit drop as
  select p.oid, p.oid::regprocedure::text as signature, p.prosecdef as is_security_definer,
    p.proconfig as settings
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where n.nspname in (select name from rolepass_schemas)
    and not exists (
      select 1 from pg_depend d
      where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    )
  order by 2;

select no_plan();

select ok(
  exists (select 1 from rolepass_relations where is_table),
  'the project''s schemas hold its tables'
);

select ok(has_rls, format('row level security is on for %I.%I', schema_name, name))
from rolepass_relations
where is_table;

-- What the catalog grants, column grants included.
select ok(
  not has_table_privilege(api_roles.name, relation.oid, privilege)
    and case privilege
      when 'delete' then true
      else not has_any_column_privilege(api_roles.name, relation.oid, privilege)
    end,
  format('%s has no %s privilege on %I.%I', api_roles.name, privilege, schema_name, relation.name)
)
from api_roles
cross join rolepass_relations as relation
cross join (values ('select'), ('insert'), ('update'), ('delete')) as privileges (privilege)
order by api_roles.name, schema_name, relation.name, privilege;

-- What each role meets when it tries. Views are not updatable, so only reading them says
-- something about grants.
select throws_ok(
  format('set local role %I; %s; reset role', api_roles.name, statement),
  '42501',
  null,
  format('%s is refused: %s', api_roles.name, statement)
)
from api_roles
cross join rolepass_relations as relation
cross join lateral (
  values
    (1, format('select * from %I.%I limit 1', schema_name, relation.name)),
    (2, case when is_table then format('insert into %I.%I default values', schema_name,
      relation.name) end),
    (3, case when is_table then format('update %I.%I set %I = %I', schema_name, relation.name,
      column_name, column_name) end),
    (4, case when is_table then format('delete from %I.%I', schema_name, relation.name) end)
) as statements (position, statement)
where statement is not null
order by api_roles.name, schema_name, relation.name, position;

select ok(
  not has_function_privilege(api_roles.name, function.oid, 'execute'),
  format('%s cannot execute %s', api_roles.name, signature)
)
from api_roles
cross join rolepass_functions as function
order by api_roles.name, signature;

select ok(
  coalesce(settings @> array['search_path=""'], false),
  format('security definer %s runs with an empty search_path', signature)
)
from rolepass_functions
where is_security_definer
order by signature;

-- The Data API serves `public`, never the project's schemas: its roles cannot enter them, and
-- `public` holds nothing by the name of a rolepass object, so no leftover copy can be served.
select ok(
  not has_schema_privilege(api_roles.name, schemas.name, 'usage'),
  format('%s cannot enter schema %I', api_roles.name, schemas.name)
)
from api_roles
cross join rolepass_schemas as schemas
order by api_roles.name, schemas.name;

select is(
  array(
    select format('public.%I', leftover.relname)
    from pg_class leftover
    where leftover.relnamespace = 'public'::regnamespace
      and leftover.relname in (
        select c.relname from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in (select name from rolepass_schemas)
      )
    union all
    select format('public.%I()', leftover.proname)
    from pg_proc leftover
    where leftover.pronamespace = 'public'::regnamespace
      and leftover.proname in (select p.proname from pg_proc p where p.oid in (
        select oid from rolepass_functions
      ))
    order by 1
  ),
  array[]::text[],
  'public holds no rolepass table, view, sequence, index or function'
);

select * from finish();
rollback;
