-- Costs that stay flat from 1,000 to 100,000 members.
--
-- * The role-job claim reads the first due jobs of each guild through an index instead of
--   grouping and sorting every due job, so its cost does not depend on how many jobs wait.
-- * A job records that its role calls succeeded, so a retry that only owes the member's message
--   never repeats them.
-- * Expiry works in bounded batches, and role-sync is woken once per transaction (one batch of
--   role jobs), not once per job.
-- * The queue health view reads only unfinished and failed jobs.
-- * Rows nobody needs any more are pruned by pg_cron in bounded batches; each table's reason is
--   written next to its rule in prune_retained_rows().

-- indexes on what is still to do ------------------------------------------------------------------
-- The claim walks guilds with open jobs (one probe each) and reads each guild's first due jobs.
create index role_jobs_open_by_guild_idx on public.role_jobs (guild_id, next_attempt_at)
  where status in ('pending', 'running');
-- A membership's open jobs: the claim's busy check, its newest job, and superseding the older.
create index role_jobs_open_by_membership_idx on public.role_jobs (membership_id, id)
  where status in ('pending', 'running');
-- Leased jobs (a handful: role-sync's concurrency per instance): whether a member is busy.
create index role_jobs_running_idx on public.role_jobs (membership_id, lease_expires_at)
  where status = 'running';
-- Retention finds finished jobs by age without reading the open ones.
create index role_jobs_done_at_idx on public.role_jobs (done_at) where status = 'done';
create index stripe_events_received_at_idx on public.stripe_events (received_at);
create index checkout_attempts_updated_at_idx on public.checkout_attempts (updated_at);

-- role calls recorded -----------------------------------------------------------------------------
alter table public.role_jobs
  -- Set once the job's role calls all succeeded; a retry that only owes the member's message
  -- (a rate-limited DM) skips the calls while the membership still wants the same role.
  add column roles_applied_at timestamptz,
  -- The role the member was made to hold by those calls (null: the paid roles were removed).
  add column roles_applied_role_id text;

-- Records that the claimed job's role calls succeeded for `applied_role_id`. False when the claim
-- is no longer the job's.
create function public.record_role_job_roles_applied(
  job_id bigint, claim uuid, applied_role_id text
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.role_jobs
    set roles_applied_at = now(), roles_applied_role_id = applied_role_id
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function public.record_role_job_roles_applied(bigint, uuid, text)
  from public, anon, authenticated;
grant execute on function public.record_role_job_roles_applied(bigint, uuid, text)
  to service_role;

-- the claim ---------------------------------------------------------------------------------------
-- Where the last claim stopped in the round of guilds, so the next claim starts with the guild
-- after it and every guild with due work gets its turn, however many guilds wait.
create table public.role_job_claim_cursor (
  id boolean primary key default true check (id),
  -- The guild of the last job claimed; '' sorts before every guild id.
  last_guild_id text not null default ''
);
insert into public.role_job_claim_cursor (id) values (true);
comment on table public.role_job_claim_cursor is
  'The guild the last role-job claim ended with, so the next claim starts after it. Read and written by claim_role_jobs (service_role only).';

alter table public.role_job_claim_cursor enable row level security;
revoke all on public.role_job_claim_cursor from public, anon, authenticated;
grant select, insert, update, delete on public.role_job_claim_cursor to service_role;

-- Claims up to `max_jobs` due jobs, at most one per membership, each with a lease of
-- `lease_seconds`. Another claimer never gets a job of a membership whose job is leased, so two
-- invocations never call Discord for the same member at once, and a late job cannot overtake a
-- newer one. The newest open job of a membership stands for all of them (every job re-reads the
-- membership when it runs): older open jobs are closed as 'superseded'.
-- Guilds take turns: the claim visits guilds with open jobs in id order, starting after the guild
-- the previous claim ended with, and reads the first due jobs of each through
-- role_jobs_open_by_guild_idx. It takes one job per guild before a second of any, and the jobs of
-- a guild whose role bucket is spent come last. What it reads is bounded by `max_jobs`, not by the
-- number of jobs or guilds waiting.
create or replace function public.claim_role_jobs(max_jobs integer, lease_seconds integer)
returns setof public.role_jobs
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Room for candidates another claimer takes at the same moment (skipped below).
  wanted integer := greatest(max_jobs, 1) + 32;
  start_after text;
  visited text := '';
  next_guild text;
  wrapped boolean := false;
  guilds text[] := array[]::text[];
  candidate record;
  newest public.role_jobs;
  taken integer := 0;
  last_guild text;
begin
  select c.last_guild_id into start_after from public.role_job_claim_cursor c where c.id;
  start_after := coalesce(start_after, '');
  visited := start_after;
  -- A skip scan: each probe finds the next guild id that has open jobs, from after the cursor to
  -- the end, then from the start up to the cursor.
  while cardinality(guilds) < wanted loop
    select j.guild_id into next_guild from public.role_jobs j
      where j.status in ('pending', 'running') and j.guild_id > visited
      order by j.guild_id limit 1;
    if next_guild is null then
      exit when wrapped;
      wrapped := true;
      visited := '';
      continue;
    end if;
    exit when wrapped and next_guild > start_after;
    guilds := guilds || next_guild;
    visited := next_guild;
  end loop;
  if cardinality(guilds) = 0 then
    return;
  end if;

  for candidate in
    select due.membership_id, due.guild_id
    from (
      select g.guild_id, g.position, job.membership_id, min(job.next_attempt_at) as due_at
      from unnest(guilds) with ordinality as g (guild_id, position)
      cross join lateral (
        select j.membership_id, j.next_attempt_at
        from public.role_jobs j
        where j.guild_id = g.guild_id and j.status in ('pending', 'running')
          and j.next_attempt_at <= now()
          and (j.lease_expires_at is null or j.lease_expires_at <= now())
          and not exists (
            select 1 from public.role_jobs busy
            where busy.membership_id = j.membership_id and busy.status = 'running'
              and busy.lease_expires_at > now()
          )
        order by j.next_attempt_at
        -- Enough for `wanted` candidates when every visited guild has as many due jobs.
        limit ceil(wanted::numeric / cardinality(guilds))::integer
      ) job
      group by g.guild_id, g.position, job.membership_id
    ) due
    -- Discord's role bucket is per guild (10 changes per 10 s; role-sync keeps its state under
    -- 'roles:<guild id>'). A guild whose bucket is spent comes after every other: its jobs would
    -- only be put back, while the global limit goes unused.
    left join public.discord_rate_limits bucket on bucket.route_key = 'roles:' || due.guild_id
    order by (bucket.reset_at > now() and bucket.remaining <= 0) is true,
      row_number() over (partition by due.guild_id order by due.due_at), due.position, due.due_at
    limit wanted
  loop
    exit when taken >= max_jobs;
    -- Held until this transaction ends; a concurrent claimer of the same member skips it.
    continue when not pg_try_advisory_xact_lock(20261121, hashtext(candidate.membership_id::text));
    -- Each statement sees a fresh snapshot: a claim committed after the loop's query shows here.
    continue when exists (
      select 1 from public.role_jobs r
      where r.membership_id = candidate.membership_id and r.status = 'running'
        and r.lease_expires_at > now()
    );
    select * into newest from public.role_jobs r
      where r.membership_id = candidate.membership_id and r.status in ('pending', 'running')
      order by r.id desc limit 1
      for update;
    continue when not found or newest.next_attempt_at > now();
    update public.role_jobs
      set status = 'done', outcome = 'superseded', done_at = now(), lease_expires_at = null,
        claim_id = null
      where membership_id = candidate.membership_id and status in ('pending', 'running')
        and id < newest.id;
    update public.role_jobs
      set status = 'running', attempts = attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      where id = newest.id
      returning * into newest;
    taken := taken + 1;
    last_guild := newest.guild_id;
    return next newest;
  end loop;
  if last_guild is not null then
    update public.role_job_claim_cursor set last_guild_id = last_guild where id;
  end if;
end;
$$;

-- one wake-up per transaction ---------------------------------------------------------------------
-- Wakes role-sync unless this transaction already did. A transaction that queues many role jobs
-- (an expiry batch, a plan change) needs one wake-up: role-sync drains every due job it finds.
-- The mark is a transaction-local setting, so it ends with the transaction and disappears with a
-- rolled-back one, as the queued request does. Returns the pg_net request id, or null.
create function public.wake_role_sync_once(payload jsonb) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if current_setting('rolepass.role_sync_woken', true) = 'on' then
    return null;
  end if;
  perform set_config('rolepass.role_sync_woken', 'on', true);
  return public.request_role_sync(payload);
end;
$$;
revoke execute on function public.wake_role_sync_once(jsonb) from public, anon, authenticated;

create or replace function public.notify_role_sync() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.wake_role_sync_once(jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', to_jsonb(new),
    'old_record', null
  ));
  return null;
end;
$$;

-- expiry in bounded batches -----------------------------------------------------------------------
drop function public.expire_entitlements();

-- Revokes entitlements whose time has run out without another event (the end of a past_due grace
-- period, or a scheduled cancel taking effect before Stripe's customer.subscription.deleted
-- arrived), at most `max_rows` of them, the longest overdue first. The triggers write the history
-- and queue the role jobs. A membership another transaction is changing is left for the next run
-- rather than waited for. Returns how many it revoked; the sweep runs every minute, so a backlog
-- larger than one batch is done over several short transactions.
create function public.expire_entitlements(max_rows integer default 1000) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired integer;
begin
  update public.memberships m
    set entitled = false,
      entitled_role_id = null,
      entitled_until = null,
      change_cause = case when m.status = 'past_due'
        then 'grace_period_ended' else 'scheduled_cancel_took_effect' end,
      change_event_id = null
    where m.id in (
      select due.id from public.memberships due
      where due.entitled and due.entitled_until is not null and due.entitled_until <= now()
      order by due.entitled_until
      limit greatest(max_rows, 0)
      for update skip locked
    );
  get diagnostics expired = row_count;
  return expired;
end;
$$;
revoke execute on function public.expire_entitlements(integer) from public, anon, authenticated;
grant execute on function public.expire_entitlements(integer) to service_role;

-- The cron sweep (every minute): expire one batch of entitlements, forget idle buckets, then wake
-- role-sync for due jobs, once, whether the expiry queued jobs or they were already waiting.
create or replace function public.sweep_role_jobs() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.expire_entitlements(1000);
  perform public.role_sync_housekeeping();
  if not exists (
    select 1 from public.role_jobs
    where status in ('pending', 'running') and next_attempt_at <= now()
      and (lease_expires_at is null or lease_expires_at <= now())
  ) then
    return null;
  end if;
  return public.wake_role_sync_once(jsonb_build_object('type', 'SWEEP', 'table', 'role_jobs',
    'schema', 'public', 'record', null, 'old_record', null));
end;
$$;

-- queue health from unfinished and failed jobs ----------------------------------------------------
-- Same columns as before; each part reads a partial index (open jobs, failed jobs), so finished
-- jobs, however many, cost nothing.
create or replace view public.role_job_queue_status
with (security_invoker = true)
as
select
  open_jobs.pending,
  open_jobs.failing,
  failed_jobs.failed,
  open_jobs.running,
  open_jobs.oldest_open_at,
  now() - open_jobs.oldest_open_at as oldest_open_age
from (
  select
    count(*) filter (where j.last_error is null) as pending,
    count(*) filter (where j.last_error is not null) as failing,
    count(*) filter (where j.status = 'running') as running,
    min(j.created_at) as oldest_open_at
  from public.role_jobs j
  where j.status in ('pending', 'running')
) open_jobs
cross join (
  select count(*) as failed from public.role_jobs j where j.status = 'failed'
) failed_jobs;

-- retention ---------------------------------------------------------------------------------------
-- Deletes rows nobody needs any more, at most `batch_size` per table and call, so each run is a
-- short transaction; pg_cron runs it every ten minutes. Returns how many rows each table lost.
create function public.prune_retained_rows(batch_size integer default 5000) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted jsonb := '{}'::jsonb;
  n integer;
begin
  -- role_jobs: a finished job is kept 30 days for diagnosis. Older, it is deleted once a newer job
  -- of the same membership has been applied to Discord (done, not superseded): until then its
  -- role ids are what tells role-sync which roles it manages for the member (loadMember), and
  -- open and failed jobs are never deleted.
  delete from public.role_jobs j
    where j.id in (
      select old.id from public.role_jobs old
      where old.status = 'done' and old.done_at < now() - interval '30 days'
        and exists (
          select 1 from public.role_jobs newer
          where newer.membership_id = old.membership_id and newer.id > old.id
            and newer.status = 'done' and newer.outcome is distinct from 'superseded'
        )
      order by old.done_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('role_jobs', n);

  -- stripe_events: an event id must be remembered while Stripe can still deliver it again, so a
  -- replay stays a no-op: webhook retries stop after 3 days, and the Events API (from which a
  -- reconciler replays) keeps events 30 days. Processed events are kept 35 days; an unprocessed
  -- one is still owed its work and is never deleted.
  delete from public.stripe_events e
    where e.id in (
      select old.id from public.stripe_events old
      where old.processed_at is not null and old.received_at < now() - interval '35 days'
      order by old.received_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('stripe_events', n);

  -- checkout_attempts: a Checkout or Portal session lives at most 24 hours; afterwards a row only
  -- helps support trace a payment to its session, which matters until a card dispute can no
  -- longer be opened (networks allow about 120 days). Kept 180 days after the last change.
  delete from public.checkout_attempts a
    where a.id in (
      select old.id from public.checkout_attempts old
      where old.updated_at < now() - interval '180 days'
      order by old.updated_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('checkout_attempts', n);

  -- membership_history: the contract history behind the monthly figures and every entitlement
  -- decision (who held the role when, caused by which Stripe event). Japanese law keeps books
  -- and their supporting records 7 years (法人税法施行規則 59条), so rows are kept 7 years.
  delete from public.membership_history h
    where h.id in (
      select old.id from public.membership_history old
      where old.changed_at < now() - interval '7 years'
      order by old.changed_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('membership_history', n);

  -- cron.job_run_details: pg_cron logs every run (two jobs a minute: about a million rows a
  -- year) and never prunes it; Supabase's docs advise deleting old rows. A week is enough to see
  -- why a job failed. The dev runner's stand-in for pg_cron keeps no run log.
  if to_regclass('cron.job_run_details') is not null then
    -- Built with format() so that a linter on a database without the table does not resolve it.
    execute format('delete from %1$I.%2$I d where d.runid in (
        select old.runid from %1$I.%2$I old
        where old.end_time < now() - interval ''7 days''
        order by old.runid
        limit $1)', 'cron', 'job_run_details')
      using batch_size;
    get diagnostics n = row_count;
    deleted := deleted || jsonb_build_object('cron.job_run_details', n);
  end if;
  return deleted;
end;
$$;
revoke execute on function public.prune_retained_rows(integer) from public, anon, authenticated;

select cron.schedule('rolepass-prune-retained-rows', '*/10 * * * *',
  'select public.prune_retained_rows()');
