-- Notices: every message owed to a member or to a guild's operator log channel is a row of an
-- outbox, drained by role-sync like role jobs. A row is written in the transaction that makes the
-- change calling for the message (once per change: `change_key` is unique), and carries the nonce
-- that lets a retry after a timeout post a channel message at most once (Discord's `nonce` with
-- `enforce_nonce`).

create table rolepass.notices (
  id bigint generated always as identity primary key,
  guild_id text not null references rolepass.guilds (id) on delete cascade,
  audience text not null check (audience in ('member', 'operator')),
  -- The member told (audience member), or the member an operator notice is about.
  discord_user_id text check (discord_user_id ~ '^[0-9]{17,20}$'),
  -- What the message says; its facts are in `payload`, its words are chosen when it is sent.
  kind text not null check (kind ~ '^[a-z_]+$'),
  locale text not null check (locale in ('ja', 'en')),
  payload jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  -- One message per change: the cause names the change ('role_job:42', 'evt_...:payment_failed').
  change_key text not null unique,
  -- The role job whose change this tells, so the job shows how its message went.
  role_job_id bigint references rolepass.role_jobs (id) on delete set null,
  status text not null default 'pending' check (status in (
    'pending', 'running', 'sent', 'dms_closed', 'not_sent', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  claim_id uuid,
  lease_expires_at timestamptz,
  -- Discord keeps a message's nonce a few minutes: a retry with the same nonce and enforce_nonce
  -- gets the first message back instead of a second one. At most 25 characters.
  nonce text not null default substr(replace(gen_random_uuid()::text, '-', ''), 1, 25)
    check (length(nonce) <= 25),
  -- A follow-up (webhook message) takes no nonce: it is tried at most once, taken here first.
  followup_tried_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  done_at timestamptz,
  check (audience = 'operator' or discord_user_id is not null)
);
comment on table rolepass.notices is
  'Messages owed to members (DM or follow-up) and to operator log channels, once per change, with the nonce that makes a retry safe. Written by triggers and service_role; drained by role-sync (service_role only).';

alter table rolepass.notices enable row level security;
revoke all on rolepass.notices from public, anon, authenticated;
grant select, insert, update, delete on rolepass.notices to service_role;

-- The claim reads due notices through this index, whatever the number of finished ones.
create index notices_open_idx on rolepass.notices (next_attempt_at)
  where status in ('pending', 'running');
create index notices_done_at_idx on rolepass.notices (done_at)
  where status not in ('pending', 'running');

-- Operator log kinds a guild does not want in its log channel (every kind is on by default).
alter table rolepass.guilds
  add column operator_log_muted_kinds text[] not null default array[]::text[];

-- Queues a message to a member once per `change_key`. Returns the notice id, or null when the
-- change already has its message.
create function rolepass.enqueue_member_notice(
  target_guild_id text,
  member_id text,
  notice_kind text,
  notice_locale text,
  notice_payload jsonb,
  notice_change_key text,
  job_id bigint default null
) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  queued bigint;
begin
  insert into rolepass.notices (guild_id, audience, discord_user_id, kind, locale, payload,
      change_key, role_job_id)
    values (target_guild_id, 'member', member_id, notice_kind, notice_locale, notice_payload,
      notice_change_key, job_id)
    on conflict (change_key) do nothing
    returning id into queued;
  return queued;
end;
$$;
revoke execute on function rolepass.enqueue_member_notice(text, text, text, text, jsonb, text, bigint)
  from public, anon, authenticated;
grant execute on function rolepass.enqueue_member_notice(text, text, text, text, jsonb, text, bigint)
  to service_role;

-- Queues one message to the guild's operator log channel, unless the guild has no log channel or
-- muted the kind. `notice_change_key` makes it once per change (null: every call is a change).
-- Returns the notice id, or null when nothing was queued.
create function rolepass.enqueue_operator_notice(
  target_guild_id text,
  notice_kind text,
  notice_payload jsonb,
  notice_change_key text default null
) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild rolepass.guilds;
  queued bigint;
begin
  select * into guild from rolepass.guilds g where g.id = target_guild_id;
  if not found or guild.operator_log_channel_id is null
    or notice_kind = any (guild.operator_log_muted_kinds) then
    return null;
  end if;
  insert into rolepass.notices (guild_id, audience, discord_user_id, kind, locale, payload,
      change_key)
    values (target_guild_id, 'operator', notice_payload ->> 'memberId', notice_kind,
      guild.default_locale, notice_payload,
      coalesce(notice_change_key, 'operator:' || gen_random_uuid()::text))
    on conflict (change_key) do nothing
    returning id into queued;
  return queued;
end;
$$;
revoke execute on function rolepass.enqueue_operator_notice(text, text, jsonb, text)
  from public, anon, authenticated;
grant execute on function rolepass.enqueue_operator_notice(text, text, jsonb, text)
  to service_role;

-- A new notice wakes role-sync, once per transaction (wake_role_sync_once).
create trigger notices_wake_role_sync
  after insert on rolepass.notices
  for each row execute function rolepass.notify_role_sync();

-- Finishes a role job whose roles were applied and queues the member's message about the change
-- in the same transaction, so the change is told once however often the job is retried.
create function rolepass.finish_role_job_with_notice(
  job_id bigint,
  claim uuid,
  notice_kind text,
  notice_payload jsonb
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  job rolepass.role_jobs;
begin
  select * into job from rolepass.role_jobs j
    where j.id = job_id and j.claim_id = claim and j.status = 'running'
    for update;
  if not found then
    return false;
  end if;
  if job.notice_status is null then
    perform rolepass.enqueue_member_notice(job.guild_id, job.discord_user_id, notice_kind,
      notice_payload ->> 'locale', notice_payload, 'role_job:' || job.id, job.id);
    update rolepass.role_jobs set notice_status = 'sending', notified_at = now()
      where id = job.id;
  end if;
  return rolepass.finish_role_job(job_id, claim, 'done', 'applied', null);
end;
$$;
revoke execute on function rolepass.finish_role_job_with_notice(bigint, uuid, text, jsonb)
  from public, anon, authenticated;
grant execute on function rolepass.finish_role_job_with_notice(bigint, uuid, text, jsonb)
  to service_role;

-- Marks a failed job alerted and queues the operator's message, once per failure.
create function rolepass.alert_role_job_failure(job_id bigint, alert jsonb) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  job rolepass.role_jobs;
begin
  update rolepass.role_jobs set alerted_at = now()
    where id = job_id and status = 'failed' and alerted_at is null
    returning * into job;
  if not found then
    return false;
  end if;
  perform rolepass.enqueue_operator_notice(job.guild_id, 'role_failure', alert,
    'role_failure:' || job.id || ':' || job.attempts);
  return true;
end;
$$;
revoke execute on function rolepass.alert_role_job_failure(bigint, jsonb)
  from public, anon, authenticated;
grant execute on function rolepass.alert_role_job_failure(bigint, jsonb) to service_role;

-- Claims up to `max_notices` due notices with a lease, oldest due first, through notices_open_idx.
-- A notice another claimer holds is skipped, not waited for.
create function rolepass.claim_notices(max_notices integer, lease_seconds integer)
returns table (
  id bigint, guild_id text, audience text, discord_user_id text, kind text, locale text,
  payload jsonb, attempts integer, claim_id uuid, nonce text, followup_tried boolean,
  log_channel_id text, interaction_token text, interaction_application_id text
)
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  with due as (
    select n.id from rolepass.notices n
    where n.status in ('pending', 'running') and n.next_attempt_at <= now()
      and (n.lease_expires_at is null or n.lease_expires_at <= now())
    order by n.next_attempt_at
    limit greatest(max_notices, 0)
    for update skip locked
  ), claimed as (
    update rolepass.notices n
      set status = 'running', attempts = n.attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      from due where n.id = due.id
      returning n.*
  )
  select c.id, c.guild_id::text, c.audience, c.discord_user_id::text, c.kind, c.locale::text,
    c.payload, c.attempts, c.claim_id, c.nonce, c.followup_tried_at is not null,
    g.operator_log_channel_id::text, t.token::text, t.application_id::text
  from claimed c
  join rolepass.guilds g on g.id = c.guild_id
  -- Discord interaction tokens live 15 minutes; one about to expire is not worth trying.
  left join rolepass.interaction_tokens t on c.audience = 'member' and t.guild_id = c.guild_id
    and t.discord_user_id = c.discord_user_id and t.expires_at > now() + interval '30 seconds';
end;
$$;
revoke execute on function rolepass.claim_notices(integer, integer)
  from public, anon, authenticated;
grant execute on function rolepass.claim_notices(integer, integer) to service_role;

-- Takes the right to try the notice's one follow-up. False when it was taken before (its outcome
-- may be unknown: the member then gets a DM instead) or the claim is no longer held.
create function rolepass.begin_notice_followup(notice_id bigint, claim uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.notices set followup_tried_at = now()
    where id = notice_id and claim_id = claim and status = 'running'
      and followup_tried_at is null;
  return found;
end;
$$;
revoke execute on function rolepass.begin_notice_followup(bigint, uuid)
  from public, anon, authenticated;
grant execute on function rolepass.begin_notice_followup(bigint, uuid) to service_role;

-- Ends a claimed notice. A member's closed DMs are told to the operator once.
-- The role job the notice belongs to shows the same outcome.
create function rolepass.finish_notice(
  notice_id bigint, claim uuid, final_status text, error text default null
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  notice rolepass.notices;
begin
  if final_status not in ('sent', 'dms_closed', 'not_sent', 'failed') then
    raise exception 'finish_notice: % is not a final status', final_status;
  end if;
  update rolepass.notices
    set status = final_status, last_error = error, done_at = now(), lease_expires_at = null
    where id = notice_id and claim_id = claim and status = 'running'
    returning * into notice;
  if not found then
    return false;
  end if;
  if notice.role_job_id is not null then
    update rolepass.role_jobs set notice_status = case final_status
        when 'sent' then 'sent' when 'dms_closed' then 'dms_closed' else 'not_sent' end
      where id = notice.role_job_id;
  end if;
  if final_status = 'dms_closed' and notice.audience = 'member' then
    perform rolepass.enqueue_operator_notice(notice.guild_id, 'member_dms_closed',
      jsonb_build_object('memberId', notice.discord_user_id, 'noticeKind', notice.kind),
      'dms_closed:' || notice.id);
  end if;
  return true;
end;
$$;
revoke execute on function rolepass.finish_notice(bigint, uuid, text, text)
  from public, anon, authenticated;
grant execute on function rolepass.finish_notice(bigint, uuid, text, text) to service_role;

-- Puts a claimed notice back for `delay_ms`; `counts` false when nothing was tried (a 429).
create function rolepass.retry_notice(
  notice_id bigint, claim uuid, delay_ms integer, error text, counts boolean
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.notices
    set status = 'pending', last_error = error, lease_expires_at = null, claim_id = null,
      next_attempt_at = now() + make_interval(secs => greatest(delay_ms, 0) / 1000.0),
      attempts = case when counts then attempts else greatest(attempts - 1, 0) end
    where id = notice_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.retry_notice(bigint, uuid, integer, text, boolean)
  from public, anon, authenticated;
grant execute on function rolepass.retry_notice(bigint, uuid, integer, text, boolean)
  to service_role;

-- The cron sweep for notices (every minute): wakes role-sync once when a notice is due, so a
-- lost database webhook delays a message by a minute at most.
create function rolepass.sweep_notices() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1 from rolepass.notices
    where status in ('pending', 'running') and next_attempt_at <= now()
      and (lease_expires_at is null or lease_expires_at <= now())
  ) then
    return null;
  end if;
  return rolepass.wake_role_sync_once(jsonb_build_object('type', 'SWEEP', 'table', 'notices',
    'schema', 'rolepass', 'record', null, 'old_record', null));
end;
$$;
revoke execute on function rolepass.sweep_notices() from public, anon, authenticated;

select cron.schedule('rolepass-notices-sweep', '* * * * *', 'select rolepass.sweep_notices()');
