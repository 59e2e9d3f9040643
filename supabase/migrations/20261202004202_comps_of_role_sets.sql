-- A comp gives and takes a plan's whole role set (issue 14 item 4), not only its first role
-- (20261202002800_role_comp_grants.sql). A comp is still named by the plan's first role (the one
-- /rolepass grant's plan option and the messages name); rolepass.role_comps holds one row per role
-- of the set, with the same reason and expiry, so every reader of comps (role-sync's member load,
-- reconciliation, repairs) sees each role the comp holds. Each grant, replacement or end queues one
-- role job naming the sets, so role-sync treats every role of them as managed.

-- The role that names a comp of `comp_role_ids`: the one that is a plan's first role, else the
-- least; null for no roles.
create function rolepass.comp_name_role(target_guild_id text, comp_role_ids text[])
returns text
language sql
stable
set search_path = ''
as $$
  select r from unnest(comp_role_ids) as r
  order by exists (
    select 1 from rolepass.plans p where p.guild_id = target_guild_id and p.discord_role_id = r
  ) desc, r
  limit 1;
$$;
revoke execute on function rolepass.comp_name_role(text, text[])
  from public, anon, authenticated;

-- Records the comp of the plan whose first role is `role_id` and queues the role job that gives
-- its roles. Returns what 20261202002800 returned; `replacedRoleId` names the replaced comp by its
-- plan's first role.
create or replace function rolepass.grant_role_comp(
  target_guild_id text,
  member_id text,
  role_id text,
  reason text,
  last_day date
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
  plan_display jsonb;
  plan_role_ids text[];
  expires timestamptz;
  replaced_role_ids text[];
  replaced text;
  job_id bigint;
begin
  select p.display, p.discord_role_ids::text[] into plan_display, plan_role_ids
    from rolepass.plans p
    where p.guild_id = target_guild_id and p.discord_role_id = role_id
    order by p.active desc, p.sort_order limit 1;
  if not found then
    return jsonb_build_object('ok', false, 'reason', 'not_a_plan_role');
  end if;
  if last_day is not null then
    select (last_day + 1)::timestamp at time zone g.accounting_time_zone into strict expires
      from rolepass.guilds g where g.id = target_guild_id;
    if expires <= now() then
      return jsonb_build_object('ok', false, 'reason', 'date_passed');
    end if;
  end if;
  insert into rolepass.memberships (guild_id, discord_user_id, change_cause)
    values (target_guild_id, member_id, 'comp')
    on conflict (guild_id, discord_user_id) do nothing;
  select * into strict membership from rolepass.memberships m
    where m.guild_id = target_guild_id and m.discord_user_id = member_id;
  with replaced_comps as (
    delete from rolepass.role_comps c
      where c.guild_id = target_guild_id and c.discord_user_id = member_id
        and not c.discord_role_id = any (plan_role_ids)
      returning c.discord_role_id
  )
  select coalesce(array_agg(r.discord_role_id::text order by r.discord_role_id), '{}')
    into replaced_role_ids from replaced_comps r;
  replaced := rolepass.comp_name_role(target_guild_id, replaced_role_ids);
  insert into rolepass.role_comps (guild_id, discord_user_id, discord_role_id, reason, expires_at)
    select target_guild_id, member_id, plan_role, reason, expires
    from unnest(plan_role_ids) as plan_role
    on conflict (guild_id, discord_user_id, discord_role_id)
      do update set reason = excluded.reason, expires_at = excluded.expires_at;
  insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
    previous_role_id, role_ids, previous_role_ids, cause, notice_status)
    values (membership.id, target_guild_id, member_id, true, role_id, replaced, plan_role_ids,
      replaced_role_ids, 'comp_granted', 'not_sent')
    returning id into job_id;
  return jsonb_build_object('ok', true, 'jobId', job_id, 'replacedRoleId', replaced,
    'expiresAt', expires, 'plan', plan_display);
end;
$$;

-- Queues the one role job that follows the end of a member's comp of `ended_role_ids`: the job
-- re-reads the member and keeps the roles they pay for.
create function rolepass.queue_comp_set_end_job(
  target_guild_id text,
  member_id text,
  ended_role_ids text[],
  cause text
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
begin
  select * into membership from rolepass.memberships m
    where m.guild_id = target_guild_id and m.discord_user_id = member_id;
  if not found then
    return;
  end if;
  insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
    previous_role_id, role_ids, previous_role_ids, cause, notice_status)
    values (membership.id, target_guild_id, member_id, membership.entitled,
      membership.entitled_role_id, rolepass.comp_name_role(target_guild_id, ended_role_ids),
      membership.entitled_role_ids, ended_role_ids, cause, 'not_sent');
end;
$$;
revoke execute on function rolepass.queue_comp_set_end_job(text, text, text[], text)
  from public, anon, authenticated;

-- Ends the member's comp and queues its role job; returns the comp's named role, or null when the
-- member had no comp in this guild.
create or replace function rolepass.revoke_role_comp(target_guild_id text, member_id text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended_role_ids text[];
begin
  with ended as (
    delete from rolepass.role_comps c
      where c.guild_id = target_guild_id and c.discord_user_id = member_id
      returning c.discord_role_id
  )
  select array_agg(e.discord_role_id::text order by e.discord_role_id) into ended_role_ids
    from ended e;
  if ended_role_ids is null then
    return null;
  end if;
  perform rolepass.queue_comp_set_end_job(target_guild_id, member_id, ended_role_ids,
    'comp_revoked');
  return rolepass.comp_name_role(target_guild_id, ended_role_ids);
end;
$$;

-- Ends comps whose expiry passed, at most `max_rows` roles per call, with one role job per member.
create or replace function rolepass.end_expired_role_comps(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended record;
  ended_count integer := 0;
begin
  for ended in
    with ended_rows as (
      delete from rolepass.role_comps c
        where (c.guild_id, c.discord_user_id, c.discord_role_id) in (
          select due.guild_id, due.discord_user_id, due.discord_role_id
          from rolepass.role_comps due
          where due.expires_at <= now()
          order by due.expires_at
          limit greatest(max_rows, 0)
          for update skip locked)
        returning c.guild_id, c.discord_user_id, c.discord_role_id
    )
    select e.guild_id, e.discord_user_id,
      array_agg(e.discord_role_id::text order by e.discord_role_id) as role_ids,
      count(*)::integer as rows
    from ended_rows e
    group by e.guild_id, e.discord_user_id
  loop
    perform rolepass.queue_comp_set_end_job(ended.guild_id, ended.discord_user_id,
      ended.role_ids, 'comp_expired');
    ended_count := ended_count + ended.rows;
  end loop;
  return ended_count;
end;
$$;

drop function rolepass.queue_comp_end_job(rolepass.role_comps, text);
