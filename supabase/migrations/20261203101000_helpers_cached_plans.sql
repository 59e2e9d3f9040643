-- Five small helpers were `language sql` functions with a SET clause (search_path), which
-- PostgreSQL never inlines and, in a new statement or transaction, plans again on every call; in
-- PL/pgSQL a statement's plan is kept by the session (the same change as
-- 20261203000100_sync_inputs_cached_plans.sql). Each call as a statement of its own, as role-sync,
-- the webhook and the triggers make them, in server time per call as a multiple of `select 1` run
-- the same way (tests/bench/sql_function_calls.ts --calls 4000, one run, both kinds side by side):
-- same_role_set 12.3 -> 3.3 (30 -> 8 us), membership_changes 56.8 -> 29.5 (140 -> 73 us),
-- live_pass_role_ids 122 -> 21 (301 -> 51 us), managed_role_ids 238 -> 48 (586 -> 118 us),
-- start_stripe_read 5.0 -> 2.3 (12 -> 6 us). Signatures, volatility, security and
-- search_path are unchanged, and so are the bodies, so the answers are the same; the two that
-- read tables by one membership keep one generic plan (plan_cache_mode), as the sync lookups do.
-- Grants and comments stay with the functions (create or replace keeps them).

-- 20261202002700_kept_counts.sql, in PL/pgSQL.
create or replace function rolepass.membership_changes(old_row jsonb, new_row jsonb) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  return (
    select coalesce(jsonb_object_agg(k.key, jsonb_build_array(old_row -> k.key, new_row -> k.key)),
      '{}'::jsonb)
    from (
      select jsonb_object_keys(coalesce(old_row, '{}'::jsonb) || coalesce(new_row, '{}'::jsonb))
        as key
    ) k
    where coalesce(old_row -> k.key, 'null'::jsonb) <> coalesce(new_row -> k.key, 'null'::jsonb));
end;
$$;

-- 20261202004650_role_sets_compared_as_sets.sql, in PL/pgSQL.
create or replace function rolepass.same_role_set(a text[], b text[]) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  return coalesce(a, '{}') <@ coalesce(b, '{}') and coalesce(b, '{}') <@ coalesce(a, '{}');
end;
$$;

-- 20261203000200_status_facts_stored.sql, in PL/pgSQL.
create or replace function rolepass.live_pass_role_ids(p_membership_id uuid) returns text[]
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
    select coalesce(array_agg(distinct r), '{}')
    from rolepass.member_passes x
    join rolepass.plans p on p.id = x.plan_id
    cross join unnest(p.discord_role_ids::text[]) as r
    where x.membership_id = p_membership_id and not x.taken_back
      and (x.access_until is null or x.access_until > now()));
end;
$$;

-- 20261202003300_plan_role_sets.sql, in PL/pgSQL.
create or replace function rolepass.managed_role_ids(target_membership_id uuid) returns text[]
language plpgsql
stable
security definer
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
    select coalesce(array_agg(distinct r order by r), '{}') from (
      select j.role_id as r from rolepass.role_jobs j where j.membership_id = target_membership_id
      union all select j.previous_role_id from rolepass.role_jobs j
        where j.membership_id = target_membership_id
      union all select unnest(j.role_ids) from rolepass.role_jobs j
        where j.membership_id = target_membership_id
      union all select unnest(j.previous_role_ids) from rolepass.role_jobs j
        where j.membership_id = target_membership_id
    ) roles where r is not null);
end;
$$;

-- 20261202002300_stripe_read_watermark.sql, in PL/pgSQL.
create or replace function rolepass.start_stripe_read()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  return nextval('rolepass.stripe_read_seq');
end;
$$;
