-- A Discord id is checked by its domain only (rolepass.discord_snowflake,
-- 20261202002600_discord_id_and_locale_domains.sql): reconciliation's repairs
-- (20261202003700_live_role_jobs_first.sql) skipped a malformed id with a copy of the domain's rule;
-- they now ask the domain, through rolepass.is_discord_snowflake. Otherwise the newest definition.

-- Whether `candidate` is a Discord id, by the domain's own check; false for null.
create function rolepass.is_discord_snowflake(candidate text) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  perform candidate::rolepass.discord_snowflake;
  return candidate is not null;
exception when check_violation then
  return false;
end;
$$;
revoke execute on function rolepass.is_discord_snowflake(text) from public, anon, authenticated;
grant execute on function rolepass.is_discord_snowflake(text) to service_role;

create or replace function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer,
  live boolean
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  repair record;
  membership rolepass.memberships;
  queued integer := 0;
  queue_live boolean := coalesce(enqueue_role_repairs.live, false);
begin
  for repair in
    select r.action, r."userId" as user_id, r."roleId" as role_id
    from jsonb_to_recordset(repairs) as r (action text, "userId" text, "roleId" text)
  loop
    exit when queued >= max_jobs;
    continue when not (rolepass.is_discord_snowflake(repair.user_id)
      and rolepass.is_discord_snowflake(repair.role_id));
    if repair.action = 'remove' then
      insert into rolepass.memberships (guild_id, discord_user_id, change_cause)
        values (target_guild_id, repair.user_id, 'reconciliation')
        on conflict (guild_id, discord_user_id) do nothing;
    end if;
    select * into membership from rolepass.memberships m
      where m.guild_id = target_guild_id and m.discord_user_id = repair.user_id;
    continue when not found;
    continue when exists (
      select 1 from rolepass.role_jobs j
      where j.membership_id = membership.id and j.status in ('pending', 'running'));
    if repair.action = 'grant' then
      continue when not (membership.entitled
        and repair.role_id = any (membership.entitled_role_ids));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        role_ids, cause, next_attempt_at, live)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        membership.entitled_role_ids, 'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), queue_live);
    elsif repair.action = 'remove' then
      continue when membership.entitled
        and repair.role_id = any (membership.entitled_role_ids);
      continue when exists (
        select 1 from rolepass.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        previous_role_id, role_ids, previous_role_ids, cause, next_attempt_at, notice_status, live)
      values (membership.id, target_guild_id, repair.user_id,
        membership.entitled,
        membership.entitled_role_id,
        repair.role_id, membership.entitled_role_ids, array[repair.role_id],
        'reconciliation_unpaid_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), 'not_sent',
        queue_live);
    else
      continue;
    end if;
    queued := queued + 1;
  end loop;
  return queued;
end;
$$;
