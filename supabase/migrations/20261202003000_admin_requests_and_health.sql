-- The operators' console, second half (issue 12): work `/rolepass` cannot finish within Discord's
-- 3 seconds, nor in a function that must not load the Stripe SDK, is recorded here and done by
-- role-sync, which edits the deferred answer through the interaction's token.
--
-- * admin_requests: one row per `/rolepass resync` or `/rolepass health`, with the interaction
--   token the answer needs. Like interaction_tokens, the token is kept only while Discord honours
--   it (15 minutes) and is erased as soon as the request ends.
-- * health_problems: what the periodic health check (every 30 minutes) found wrong per guild; a
--   problem is told to the operator log channel once when it appears and once when it is fixed.
-- * queue_stalled: role jobs due and not progressing for 10 minutes are told once per stall.

create table rolepass.admin_requests (
  id bigint generated always as identity primary key,
  guild_id rolepass.discord_snowflake not null references rolepass.guilds (id) on delete cascade,
  kind text not null check (kind in ('resync', 'health')),
  operator_id text not null check (length(operator_id) between 1 and 40),
  -- resync's member, and the roles Discord said they hold when the command ran.
  member_id rolepass.discord_snowflake,
  member_role_ids text[],
  locale rolepass.locale not null,
  application_id rolepass.discord_snowflake not null,
  -- Discord interaction tokens live 15 minutes; erased when the request ends, never logged.
  interaction_token text,
  status text not null default 'pending'
    check (status in ('pending', 'running', 'answered', 'failed', 'expired')),
  attempts integer not null default 0,
  claim_id uuid,
  lease_expires_at timestamptz,
  -- What the work found, kept so a retried answer says the same without redoing the work.
  result jsonb,
  last_error text,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '15 minutes',
  done_at timestamptz,
  check (kind <> 'resync' or member_id is not null),
  check (status in ('pending', 'running') or interaction_token is null)
);
comment on table rolepass.admin_requests is
  'Deferred /rolepass work (resync, health): written by discord-interactions through request_admin_work, done and answered by role-sync. The interaction token is erased when the request ends or expires. service_role only.';

alter table rolepass.admin_requests enable row level security;
revoke all on rolepass.admin_requests from public, anon, authenticated;
grant select, insert, update, delete on rolepass.admin_requests to service_role;

create index admin_requests_open_idx on rolepass.admin_requests (created_at)
  where status in ('pending', 'running');

-- Posts `body` to a route of role-sync (Vault's role_sync_url plus `route`, the shared secret).
-- Like request_stripe_event_catchup, a missing configuration or a failure to queue the request
-- never fails the caller. Returns the pg_net request id, or null.
create function rolepass.post_to_role_sync(route text, body jsonb) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  target_url text;
  shared_secret text;
  request_id bigint;
begin
  select decrypted_secret into target_url
    from vault.decrypted_secrets where name = 'role_sync_url';
  select decrypted_secret into shared_secret
    from vault.decrypted_secrets where name = 'role_sync_secret';
  if coalesce(target_url, '') = '' or coalesce(shared_secret, '') = '' then
    raise log 'rolepass: role_sync_url or role_sync_secret missing from Vault; % not requested',
      route;
    return null;
  end if;
  select net.http_post(
    url := rtrim(target_url, '/') || route,
    body := body,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'x-rolepass-secret', shared_secret
    ),
    timeout_milliseconds := 5000
  ) into request_id;
  return request_id;
exception when others then
  raise warning 'rolepass: could not queue the request to role-sync %: %', route, sqlerrm;
  return null;
end;
$$;
revoke execute on function rolepass.post_to_role_sync(text, jsonb)
  from public, anon, authenticated;

-- Records a `/rolepass resync` or `health` for role-sync, or says why there is nothing to do:
-- `unknown_guild` (the server has no rolepass configuration), `unknown_member` (rolepass never
-- saw the member in this server), `no_customer` (they never reached Stripe Checkout). The
-- insert wakes role-sync (admin_requests_wake_role_sync).
create function rolepass.request_admin_work(
  target_guild_id text,
  request_kind text,
  operator text,
  member text,
  member_roles text[],
  request_locale text,
  application text,
  interaction_token text
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
  queued bigint;
begin
  if not exists (select 1 from rolepass.guilds g where g.id = target_guild_id) then
    return jsonb_build_object('ok', false, 'reason', 'unknown_guild');
  end if;
  if request_kind = 'resync' then
    select * into membership from rolepass.memberships m
      where m.guild_id = target_guild_id and m.discord_user_id = member;
    if not found then
      return jsonb_build_object('ok', false, 'reason', 'unknown_member');
    end if;
    if membership.stripe_customer_id is null then
      return jsonb_build_object('ok', false, 'reason', 'no_customer');
    end if;
  end if;
  insert into rolepass.admin_requests (guild_id, kind, operator_id, member_id, member_role_ids,
      locale, application_id, interaction_token)
    values (target_guild_id, request_kind, operator,
      case when request_kind = 'resync' then member end,
      case when request_kind = 'resync' then member_roles end,
      request_locale, application, request_admin_work.interaction_token)
    returning id into queued;
  return jsonb_build_object('ok', true, 'id', queued);
end;
$$;
revoke execute on function rolepass.request_admin_work(text, text, text, text, text[], text,
  text, text) from public, anon, authenticated;
grant execute on function rolepass.request_admin_work(text, text, text, text, text[], text, text,
  text) to service_role;

create function rolepass.wake_admin_requests() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform rolepass.post_to_role_sync('/admin-requests', '{}'::jsonb);
  return null;
end;
$$;
revoke execute on function rolepass.wake_admin_requests() from public, anon, authenticated;

create trigger admin_requests_wake_role_sync
  after insert on rolepass.admin_requests
  for each statement execute function rolepass.wake_admin_requests();

-- Claims up to `max_requests` open requests with a lease. A request whose token has less than 30
-- seconds left could not be answered: it expires instead, and its token is erased.
create function rolepass.claim_admin_requests(max_requests integer, lease_seconds integer)
returns table (
  id bigint, guild_id text, kind text, operator_id text, member_id text, member_role_ids text[],
  locale text, application_id text, interaction_token text, attempts integer, claim_id uuid,
  result jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.admin_requests r
    set status = 'expired', interaction_token = null, done_at = now(), lease_expires_at = null
    where r.status in ('pending', 'running') and r.expires_at <= now() + interval '30 seconds';
  return query
  with due as (
    select r.id from rolepass.admin_requests r
    where r.status in ('pending', 'running')
      and (r.lease_expires_at is null or r.lease_expires_at <= now())
    order by r.created_at
    limit greatest(max_requests, 0)
    for update skip locked
  ), claimed as (
    update rolepass.admin_requests r
      set status = 'running', attempts = r.attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      from due where r.id = due.id
      returning r.*
  )
  select c.id, c.guild_id::text, c.kind, c.operator_id, c.member_id::text, c.member_role_ids,
    c.locale::text, c.application_id::text, c.interaction_token, c.attempts, c.claim_id, c.result
  from claimed c;
end;
$$;
revoke execute on function rolepass.claim_admin_requests(integer, integer)
  from public, anon, authenticated;
grant execute on function rolepass.claim_admin_requests(integer, integer) to service_role;

-- Keeps what the work found on a claimed request, so that a retry of the answer says the same.
create function rolepass.record_admin_result(request_id bigint, claim uuid, work_result jsonb)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.admin_requests set result = work_result
    where id = request_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.record_admin_result(bigint, uuid, jsonb)
  from public, anon, authenticated;
grant execute on function rolepass.record_admin_result(bigint, uuid, jsonb) to service_role;

-- Ends a claimed request (answered or failed) and erases its token; `error` says why it failed.
create function rolepass.finish_admin_request(
  request_id bigint, claim uuid, final_status text, error text default null
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if final_status not in ('answered', 'failed') then
    raise exception 'finish_admin_request: % is not a final status', final_status;
  end if;
  update rolepass.admin_requests
    set status = final_status, interaction_token = null, last_error = error, done_at = now(),
      lease_expires_at = null
    where id = request_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.finish_admin_request(bigint, uuid, text, text)
  from public, anon, authenticated;
grant execute on function rolepass.finish_admin_request(bigint, uuid, text, text) to service_role;

-- Puts a claimed request back (its answer could not be delivered yet); it waits 15 seconds, so
-- a Discord outage is not hammered, and the minute's sweep wakes role-sync for it.
create function rolepass.release_admin_request(request_id bigint, claim uuid, error text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.admin_requests
    set status = 'pending', claim_id = null, lease_expires_at = now() + interval '15 seconds',
      last_error = error
    where id = request_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.release_admin_request(bigint, uuid, text)
  from public, anon, authenticated;
grant execute on function rolepass.release_admin_request(bigint, uuid, text) to service_role;

-- Every minute: expires what can no longer be answered (erasing its token), deletes finished
-- requests after a day, and wakes role-sync when a request is still open (a lost wake-up).
create function rolepass.sweep_admin_requests() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.admin_requests r
    set status = 'expired', interaction_token = null, done_at = now(), lease_expires_at = null
    where r.status in ('pending', 'running') and r.expires_at <= now() + interval '30 seconds';
  delete from rolepass.admin_requests r
    where r.status not in ('pending', 'running') and r.done_at < now() - interval '1 day';
  if not exists (
    select 1 from rolepass.admin_requests r
    where r.status in ('pending', 'running')
      and (r.lease_expires_at is null or r.lease_expires_at <= now())
  ) then
    return null;
  end if;
  return rolepass.post_to_role_sync('/admin-requests', '{}'::jsonb);
end;
$$;
revoke execute on function rolepass.sweep_admin_requests() from public, anon, authenticated;

select cron.schedule('rolepass-admin-requests-sweep', '* * * * *',
  'select rolepass.sweep_admin_requests()');

-- health ------------------------------------------------------------------------------------------

create table rolepass.health_problems (
  id bigint generated always as identity primary key,
  guild_id rolepass.discord_snowflake not null references rolepass.guilds (id) on delete cascade,
  -- The check that found it ('discord.permissions', 'stripe.webhook', ...) and the problem's
  -- identity within it ('discord.roles:missing:<role id>'): the same problem found again is the
  -- same open row.
  check_id text not null check (check_id ~ '^[a-z_]+\.[a-z_]+$'),
  problem_key text not null check (length(problem_key) between 1 and 200),
  -- The operator's words, in the guild's language, as the log channel was told.
  reason text not null check (length(reason) between 1 and 300),
  found_at timestamptz not null default now(),
  fixed_at timestamptz
);
comment on table rolepass.health_problems is
  'Problems the periodic health check found per guild, open until a later check finds them fixed. Written by role-sync through record_health_findings, read by it and by operators. service_role only.';

alter table rolepass.health_problems enable row level security;
revoke all on rolepass.health_problems from public, anon, authenticated;
grant select, insert, update, delete on rolepass.health_problems to service_role;

create unique index health_problems_open_idx on rolepass.health_problems (guild_id, problem_key)
  where fixed_at is null;

-- Records one health run of a guild. `checked` names the checks that gave an answer this run;
-- `problems` ([{check, key, reason}]) what they found. A problem not open yet is opened and told
-- once (health_problem); an open problem of a check that answered and no longer finds it is
-- closed and told once (health_fixed). A check that could not run (Discord or Stripe did not
-- answer) changes nothing of its problems. Returns {found, fixed}.
create function rolepass.record_health_findings(
  target_guild_id text, checked text[], problems jsonb
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  problem record;
  opened bigint;
  found_count integer := 0;
  fixed_count integer := 0;
begin
  -- Two runs of one guild at once would both open the same problem: they take turns.
  perform 1 from rolepass.guilds g where g.id = target_guild_id for update;
  if not found then
    return jsonb_build_object('found', 0, 'fixed', 0);
  end if;
  for problem in
    select p."check" as check_id, p.key, p.reason
    from jsonb_to_recordset(problems) as p ("check" text, key text, reason text)
    where p."check" = any (checked)
  loop
    insert into rolepass.health_problems (guild_id, check_id, problem_key, reason)
      values (target_guild_id, problem.check_id, problem.key, left(problem.reason, 300))
      on conflict (guild_id, problem_key) where fixed_at is null do nothing
      returning id into opened;
    if opened is not null then
      perform rolepass.enqueue_operator_notice(target_guild_id, 'health_problem',
        jsonb_build_object('reason', left(problem.reason, 300)), 'health_problem:' || opened);
      found_count := found_count + 1;
    end if;
  end loop;
  for problem in
    update rolepass.health_problems h set fixed_at = now()
      where h.guild_id = target_guild_id and h.fixed_at is null and h.check_id = any (checked)
        and not exists (
          select 1 from jsonb_to_recordset(problems) as p (key text)
          where p.key = h.problem_key)
      returning h.id, h.reason
  loop
    perform rolepass.enqueue_operator_notice(target_guild_id, 'health_fixed',
      jsonb_build_object('reason', problem.reason), 'health_fixed:' || problem.id);
    fixed_count := fixed_count + 1;
  end loop;
  return jsonb_build_object('found', found_count, 'fixed', fixed_count);
end;
$$;
revoke execute on function rolepass.record_health_findings(text, text[], jsonb)
  from public, anon, authenticated;
grant execute on function rolepass.record_health_findings(text, text[], jsonb) to service_role;

select cron.schedule('rolepass-health-check', '*/30 * * * *',
  $$select rolepass.post_to_role_sync('/health-checks', '{}'::jsonb)$$);

-- queue_stalled ----------------------------------------------------------------------------------

-- Tells each guild's operators once per stall that its role queue is not moving: a role job has
-- been due (pending and past its next attempt, or running with its lease run out) for longer
-- than `stalled_after`. The stall is named by its oldest due job, so a queue that stays stuck is
-- told once and a later stall again. Returns how many guilds were told.
create function rolepass.alert_stalled_role_queues(stalled_after interval default interval '10 minutes')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  stall record;
  told integer := 0;
begin
  for stall in
    select j.guild_id, count(*) as waiting, min(j.id) as oldest_id,
      min(due.since) as due_since, g.default_locale
    from rolepass.role_jobs j
    cross join lateral (select case when j.status = 'running' then j.lease_expires_at
      else j.next_attempt_at end as since) due
    join rolepass.guilds g on g.id = j.guild_id
    where j.status in ('pending', 'running') and due.since <= now() - stalled_after
    group by j.guild_id, g.default_locale
  loop
    if rolepass.enqueue_operator_notice(stall.guild_id, 'queue_stalled',
      jsonb_build_object('reason', case stall.default_locale
        when 'ja' then stall.waiting || '件のロール変更が'
          || floor(extract(epoch from now() - stall.due_since) / 60) || '分以上待っています'
        else stall.waiting || ' role change(s) waiting for over '
          || floor(extract(epoch from now() - stall.due_since) / 60) || ' minutes'
        end),
      'queue_stalled:' || stall.guild_id || ':' || stall.oldest_id) is not null then
      told := told + 1;
    end if;
  end loop;
  return told;
end;
$$;
revoke execute on function rolepass.alert_stalled_role_queues(interval)
  from public, anon, authenticated;
grant execute on function rolepass.alert_stalled_role_queues(interval) to service_role;

select cron.schedule('rolepass-queue-stalled', '*/5 * * * *',
  'select rolepass.alert_stalled_role_queues()');
