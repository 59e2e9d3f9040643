-- Comps given and taken from Discord (/rolepass grant and revoke), and comps that expire.
--
-- A comp lives in rolepass.role_comps only: the member's membership row keeps saying what Stripe
-- says (a member who never paid gets a membership with no customer, as reconciliation's removals
-- do, because role jobs belong to a membership). role-sync reads the member's comps with the
-- membership (_core/entitlement.ts, rolesHeldNow), so each change here only queues a role job.
-- One comp per member and guild: a new grant replaces the previous one, whose role the job takes
-- away unless the member still holds it.
-- Comp jobs tell the member nothing (notice 'not_sent'): the role-change messages speak of
-- subscriptions, which a comp is not.

-- Records the comp and queues the role job that gives its role. `role_id` must be a plan's role in
-- the guild (comps are of paid roles only); `last_day`, when given, is the comp's last day in the
-- guild's accounting time zone, so the comp ends at the following midnight there.
-- Returns {ok: false, reason: 'not_a_plan_role' | 'date_passed'} and changes nothing, or
-- {ok: true, jobId, replacedRoleId, expiresAt, plan}.
create function rolepass.grant_role_comp(
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
  expires timestamptz;
  replaced text;
  job_id bigint;
begin
  select p.display into plan_display from rolepass.plans p
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
        and c.discord_role_id <> role_id
      returning c.discord_role_id
  )
  select min(r.discord_role_id) into replaced from replaced_comps r;
  insert into rolepass.role_comps (guild_id, discord_user_id, discord_role_id, reason, expires_at)
    values (target_guild_id, member_id, role_id, reason, expires)
    on conflict (guild_id, discord_user_id, discord_role_id)
      do update set reason = excluded.reason, expires_at = excluded.expires_at;
  insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
    previous_role_id, cause, notice_status)
    values (membership.id, target_guild_id, member_id, true, role_id, replaced, 'comp_granted',
      'not_sent')
    returning id into job_id;
  return jsonb_build_object('ok', true, 'jobId', job_id, 'replacedRoleId', replaced,
    'expiresAt', expires, 'plan', plan_display);
end;
$$;
revoke execute on function rolepass.grant_role_comp(text, text, text, text, date)
  from public, anon, authenticated;
grant execute on function rolepass.grant_role_comp(text, text, text, text, date)
  to service_role;

-- Queues the role job that follows the end of `ended`'s comp: the job re-reads the member and
-- keeps the role if they pay for it.
create function rolepass.queue_comp_end_job(ended rolepass.role_comps, cause text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
begin
  select * into membership from rolepass.memberships m
    where m.guild_id = ended.guild_id and m.discord_user_id = ended.discord_user_id;
  if not found then
    return;
  end if;
  insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
    previous_role_id, cause, notice_status)
    values (membership.id, ended.guild_id, ended.discord_user_id, membership.entitled,
      membership.entitled_role_id, ended.discord_role_id, cause, 'not_sent');
end;
$$;
revoke execute on function rolepass.queue_comp_end_job(rolepass.role_comps, text)
  from public, anon, authenticated;

-- Ends the member's comp and queues the role job; returns the comp's role, or null when the
-- member had no comp in this guild.
create function rolepass.revoke_role_comp(target_guild_id text, member_id text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended rolepass.role_comps;
  ended_role_id text;
begin
  for ended in
    delete from rolepass.role_comps c
      where c.guild_id = target_guild_id and c.discord_user_id = member_id
      returning c.*
  loop
    perform rolepass.queue_comp_end_job(ended, 'comp_revoked');
    ended_role_id := ended.discord_role_id;
  end loop;
  return ended_role_id;
end;
$$;
revoke execute on function rolepass.revoke_role_comp(text, text)
  from public, anon, authenticated;
grant execute on function rolepass.revoke_role_comp(text, text) to service_role;

-- Ends comps whose expiry passed, at most `max_rows` per call, each with its role job.
create function rolepass.end_expired_role_comps(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended rolepass.role_comps;
  ended_count integer := 0;
begin
  for ended in
    delete from rolepass.role_comps c
      where (c.guild_id, c.discord_user_id, c.discord_role_id) in (
        select due.guild_id, due.discord_user_id, due.discord_role_id
        from rolepass.role_comps due
        where due.expires_at <= now()
        order by due.expires_at
        limit greatest(max_rows, 0)
        for update skip locked)
      returning c.*
  loop
    perform rolepass.queue_comp_end_job(ended, 'comp_expired');
    ended_count := ended_count + 1;
  end loop;
  return ended_count;
end;
$$;
revoke execute on function rolepass.end_expired_role_comps(integer)
  from public, anon, authenticated;
grant execute on function rolepass.end_expired_role_comps(integer) to service_role;

create index role_comps_expires_at_idx on rolepass.role_comps (expires_at)
  where expires_at is not null;

-- The minute's sweep ends expired comps next to expired entitlements.
create or replace function rolepass.sweep_role_jobs()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform rolepass.expire_entitlements(1000);
  perform rolepass.end_expired_role_comps(1000);
  perform rolepass.role_sync_housekeeping();
  if not exists (
    select 1 from rolepass.role_jobs
    where status in ('pending', 'running') and next_attempt_at <= now()
      and (lease_expires_at is null or lease_expires_at <= now())
  ) then
    return null;
  end if;
  return rolepass.wake_role_sync_once(jsonb_build_object('type', 'SWEEP', 'table', 'role_jobs',
    'schema', 'rolepass', 'record', null, 'old_record', null));
end;
$$;
