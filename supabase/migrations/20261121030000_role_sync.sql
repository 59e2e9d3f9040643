-- role-sync: claiming role jobs with a lease, recording their outcome, telling the member at most
-- once, alerting the operator once, re-queueing failed jobs by hand, and Discord's rate limits
-- shared by every instance of the function.
--
-- Every function here is security definer, runs with an empty search_path and is executable by
-- service_role only (role-sync connects as service_role or as the owner).

-- role jobs: claim, notice and alert bookkeeping ------------------------------------------------
alter table public.role_jobs
  -- Which claim owns the job now: a worker whose lease expired and was re-claimed can no longer
  -- record an outcome (its writes name the old claim and match nothing).
  add column claim_id uuid,
  -- The member's message for this change: 'sending' is written before the message is posted, so a
  -- retried or re-claimed job never posts it twice (at most once per change).
  add column notice_status text check (notice_status in (
    'sending', 'sent', 'dms_closed', 'not_sent', 'unknown'
  )),
  -- Set before the operator is told about a failed job, so they are told once.
  add column alerted_at timestamptz;

create index role_jobs_failed_idx on public.role_jobs (updated_at) where status = 'failed';


-- Closes a claimed job: 'done' (the roles match the membership, or the member left the guild) or
-- 'failed' (Discord refused for a reason retrying cannot fix, or too many attempts). Returns false
-- when the claim is no longer the job's (its lease expired and someone else took it).
create function public.finish_role_job(
  job_id bigint, claim uuid, final_status text, job_outcome text, error text default null
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if final_status not in ('done', 'failed') then
    raise exception 'finish_role_job: final_status must be done or failed, not %', final_status;
  end if;
  update public.role_jobs
    set status = final_status, outcome = job_outcome, last_error = error,
      lease_expires_at = null,
      done_at = case when final_status = 'done' then now() end
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function public.finish_role_job(bigint, uuid, text, text, text)
  from public, anon, authenticated;
grant execute on function public.finish_role_job(bigint, uuid, text, text, text) to service_role;

-- Puts a claimed job back for a later attempt, `delay_ms` from now. A rate-limited attempt does
-- not count towards the job's attempts (Discord asked us to wait; nothing failed).
create function public.retry_role_job(
  job_id bigint, claim uuid, delay_ms integer, error text, counts_as_attempt boolean
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.role_jobs
    set status = 'pending', last_error = error, lease_expires_at = null, claim_id = null,
      next_attempt_at = clock_timestamp() + make_interval(secs => greatest(delay_ms, 0) / 1000.0),
      attempts = case when counts_as_attempt then attempts else greatest(attempts - 1, 0) end
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function public.retry_role_job(bigint, uuid, integer, text, boolean)
  from public, anon, authenticated;
grant execute on function public.retry_role_job(bigint, uuid, integer, text, boolean)
  to service_role;

-- Takes the right to post the member's message for this job. True exactly once per job: the
-- status is written before the message goes out, so a crash or a retry after an uncertain answer
-- (a timeout, a 5xx) never posts a second copy.
create function public.begin_role_job_notice(job_id bigint, claim uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.role_jobs
    set notice_status = 'sending', notified_at = now()
    where id = job_id and claim_id = claim and status = 'running' and notice_status is null;
  return found;
end;
$$;
revoke execute on function public.begin_role_job_notice(bigint, uuid)
  from public, anon, authenticated;
grant execute on function public.begin_role_job_notice(bigint, uuid) to service_role;

-- Records how the member's message went. `null` gives the right back: only for answers that prove
-- nothing was posted (a 429), so a later attempt may send it.
create function public.end_role_job_notice(job_id bigint, result text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.role_jobs
    set notice_status = result,
      notified_at = case when result is null then null else notified_at end
    where id = job_id and notice_status = 'sending';
end;
$$;
revoke execute on function public.end_role_job_notice(bigint, text)
  from public, anon, authenticated;
grant execute on function public.end_role_job_notice(bigint, text) to service_role;

-- Takes the right to tell the operator about a failed job; true once per failure.
create function public.begin_role_job_alert(job_id bigint) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.role_jobs set alerted_at = now()
    where id = job_id and status = 'failed' and alerted_at is null;
  return found;
end;
$$;
revoke execute on function public.begin_role_job_alert(bigint) from public, anon, authenticated;
grant execute on function public.begin_role_job_alert(bigint) to service_role;

-- For the operator, after fixing the cause (bot role position, permissions, a deleted role):
--   select public.retry_failed_role_jobs();            -- every guild
--   select public.retry_failed_role_jobs('1234...');   -- one guild
-- Failed jobs go back to pending with fresh attempts; the sweep (or the next webhook) runs them.
create function public.retry_failed_role_jobs(only_guild_id text default null) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  requeued integer;
begin
  update public.role_jobs
    set status = 'pending', attempts = 0, next_attempt_at = now(), lease_expires_at = null,
      claim_id = null, alerted_at = null, outcome = null
    where status = 'failed' and (only_guild_id is null or guild_id = only_guild_id);
  get diagnostics requeued = row_count;
  return requeued;
end;
$$;
revoke execute on function public.retry_failed_role_jobs(text) from public, anon, authenticated;
grant execute on function public.retry_failed_role_jobs(text) to service_role;

-- Discord rate limits -----------------------------------------------------------------------------
-- What Discord said about each bucket (X-RateLimit-* headers), so every instance of role-sync
-- waits for the same window instead of each discovering it through 429s.
create table public.discord_rate_limits (
  -- The route and its major parameter, e.g. 'roles:<guild id>' (never a token).
  route_key text primary key check (length(route_key) between 1 and 200),
  -- X-RateLimit-Bucket, for diagnosis.
  bucket text,
  -- X-RateLimit-Limit; null until the first answer of the bucket came back.
  request_limit integer check (request_limit > 0),
  remaining integer not null,
  reset_at timestamptz not null,
  -- The longest X-RateLimit-Reset-After seen: the window length to assume after a reset.
  window_seconds double precision,
  updated_at timestamptz not null default now()
);
comment on table public.discord_rate_limits is
  'Discord rate-limit bucket state learned from response headers, shared by role-sync instances. Read and written by service_role only.';

-- The global per-bot limit (50 requests/s), one row. It is counted on when requests can have
-- reached Discord, not on when their slot was taken: a slot taken at `t` is sent some time later
-- (an isolate's event loop can lag by hundreds of milliseconds under load), so a window over slot
-- times alone let 55 requests reach Discord within one second. A request reaches Discord after its
-- slot was taken and before its answer came back, so a slot stays in flight until its answer is
-- recorded, and an answered request counts until one window after its answer. Any window of
-- Discord's then holds at most the limit, whatever the travel time.
create table public.discord_global_rate_limit (
  id boolean primary key default true check (id),
  -- Answered requests: for each, a time by which it had reached Discord (its answer came back).
  sent_at timestamptz[] not null default '{}',
  -- Slots taken whose answer is not recorded yet, by the time they were taken.
  in_flight timestamptz[] not null default '{}',
  -- After a global 429: nothing is sent before this.
  blocked_until timestamptz
);
insert into public.discord_global_rate_limit (id) values (true);
comment on table public.discord_global_rate_limit is
  'Recent request times against Discord''s global limit, shared by role-sync instances. Read and written by service_role only.';

alter table public.discord_rate_limits enable row level security;
alter table public.discord_global_rate_limit enable row level security;
revoke all on public.discord_rate_limits, public.discord_global_rate_limit
  from public, anon, authenticated;
grant select, insert, update, delete on public.discord_rate_limits,
  public.discord_global_rate_limit to service_role;

-- Asks for a slot to call Discord on `key`. `wait_ms` is 0 when the caller may send now (the slot
-- is taken; `taken_at` names it for `record_discord_rate_limit`), else how many milliseconds to
-- wait before asking again. Global: at most `global_limit` requests in flight or answered less
-- than `global_window_ms` ago. A slot never answered (its instance died) stops counting after
-- `max_in_flight_ms` plus the window. An unknown bucket lets one request through and holds the
-- rest until its answer tells the bucket's size.
create function public.acquire_discord_slot(
  key text, use_global boolean, global_limit integer, global_window_ms integer,
  max_in_flight_ms integer
) returns table (wait_ms integer, taken_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  t timestamptz := clock_timestamp();
  -- The slot's name goes through the caller's clock type, which keeps milliseconds.
  stamp timestamptz := date_trunc('milliseconds', t);
  bucket public.discord_rate_limits;
  g public.discord_global_rate_limit;
  answered timestamptz[];
  flying timestamptz[];
  window_length interval := make_interval(secs => global_window_ms / 1000.0);
begin
  insert into public.discord_rate_limits (route_key, remaining, reset_at)
    values (key, 0, '-infinity') on conflict (route_key) do nothing;
  select * into bucket from public.discord_rate_limits where route_key = key for update;
  if bucket.reset_at > t and bucket.remaining <= 0 then
    -- While a probe is out, ask again soon: its answer usually comes back in milliseconds.
    if bucket.request_limit is null then
      return query select least(ceil(extract(epoch from bucket.reset_at - t) * 1000)::integer + 1,
        25), null::timestamptz;
      return;
    end if;
    return query select ceil(extract(epoch from bucket.reset_at - t) * 1000)::integer + 1,
      null::timestamptz;
    return;
  end if;
  if use_global then
    select * into g from public.discord_global_rate_limit where id for update;
    if g.blocked_until > t then
      return query select ceil(extract(epoch from g.blocked_until - t) * 1000)::integer + 1,
        null::timestamptz;
      return;
    end if;
    answered := array(select s from unnest(g.sent_at) s where s > t - window_length order by s);
    flying := array(select s from unnest(g.in_flight) s
      where s > t - window_length - make_interval(secs => max_in_flight_ms / 1000.0) order by s);
    if cardinality(answered) + cardinality(flying) >= global_limit then
      -- The next slot frees when the oldest answer leaves the window. With every slot in flight,
      -- ask again soon: answers usually come back in milliseconds.
      return query select case
        when cardinality(answered) > 0
          then greatest(ceil(extract(epoch from answered[1] + window_length - t) * 1000)::integer,
            1)
        else 25 end, null::timestamptz;
      return;
    end if;
    update public.discord_global_rate_limit set sent_at = answered, in_flight = flying || stamp
      where id;
  end if;
  if bucket.reset_at > t then
    update public.discord_rate_limits set remaining = remaining - 1, updated_at = t
      where route_key = key;
  elsif bucket.request_limit is null then
    -- A probe: the answer's headers will say how many more may go.
    update public.discord_rate_limits set remaining = 0, reset_at = t + interval '2 seconds',
      updated_at = t
      where route_key = key;
  else
    update public.discord_rate_limits
      set remaining = request_limit - 1,
        reset_at = t + make_interval(secs => coalesce(window_seconds, 1)), updated_at = t
      where route_key = key;
  end if;
  return query select 0, case when use_global then stamp end;
end;
$$;
revoke execute on function
  public.acquire_discord_slot(text, boolean, integer, integer, integer)
  from public, anon, authenticated;
grant execute on function public.acquire_discord_slot(text, boolean, integer, integer, integer)
  to service_role;

-- Records what an answer from Discord said about `key`'s bucket, and ends the global slot
-- `global_taken_at` (null when the call was exempt): the request reached Discord no later than
-- now, nor later than `answered_after_ms` (measured by the caller from before it asked for the
-- slot) after the slot was taken. The remaining count only goes down within a window (answers
-- arrive out of order); a new window takes Discord's numbers. `retry_after_ms` is set for a 429:
-- `is_global` blocks every request, otherwise the bucket.
create function public.record_discord_rate_limit(
  key text, bucket_id text, request_limit integer, remaining integer, reset_after_ms integer,
  retry_after_ms integer, is_global boolean, global_taken_at timestamptz,
  answered_after_ms integer
) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  t timestamptz := clock_timestamp();
  known public.discord_rate_limits;
  g public.discord_global_rate_limit;
  reached timestamptz;
  left_in_flight timestamptz[];
begin
  -- Rows are locked in the order acquire_discord_slot takes them (bucket, then global), so the
  -- two never wait on each other in a cycle.
  select * into known from public.discord_rate_limits where route_key = key for update;
  if global_taken_at is not null then
    select * into g from public.discord_global_rate_limit where id for update;
    -- The slot's name is its time cut to the millisecond: one more covers what was cut.
    reached := least(t,
      global_taken_at + make_interval(secs => (answered_after_ms + 1) / 1000.0));
    left_in_flight := array_remove(g.in_flight, global_taken_at);
    -- Two slots taken at the same instant are both removed above: put the other one back.
    left_in_flight := left_in_flight || array_fill(global_taken_at,
      array[greatest(cardinality(g.in_flight) - cardinality(left_in_flight) - 1, 0)]);
    update public.discord_global_rate_limit
      set in_flight = left_in_flight,
        sent_at = case when cardinality(left_in_flight) < cardinality(g.in_flight)
          then sent_at || reached else sent_at end
      where id;
  end if;
  if retry_after_ms is not null and is_global then
    update public.discord_global_rate_limit
      set blocked_until = greatest(coalesce(blocked_until, t),
        t + make_interval(secs => retry_after_ms / 1000.0))
      where id;
    return;
  end if;
  if known.route_key is null then
    return;
  end if;
  if retry_after_ms is not null then
    update public.discord_rate_limits
      set remaining = 0,
        reset_at = greatest(reset_at, t + make_interval(secs => retry_after_ms / 1000.0)),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
    return;
  end if;
  if request_limit is null or remaining is null or reset_after_ms is null then
    -- No headers (a timeout, a 5xx from a proxy): a probe learnt nothing, so let the next one go.
    if known.request_limit is null then
      update public.discord_rate_limits set reset_at = '-infinity', updated_at = t
        where route_key = key;
    end if;
    return;
  end if;
  if known.request_limit is null or known.reset_at <= t then
    update public.discord_rate_limits
      set request_limit = record_discord_rate_limit.request_limit,
        remaining = record_discord_rate_limit.remaining,
        reset_at = t + make_interval(secs => reset_after_ms / 1000.0),
        window_seconds = greatest(coalesce(window_seconds, 0), reset_after_ms / 1000.0),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
  else
    update public.discord_rate_limits
      set request_limit = record_discord_rate_limit.request_limit,
        remaining = least(discord_rate_limits.remaining, record_discord_rate_limit.remaining),
        reset_at = greatest(reset_at, t + make_interval(secs => reset_after_ms / 1000.0)),
        window_seconds = greatest(coalesce(window_seconds, 0), reset_after_ms / 1000.0),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
  end if;
end;
$$;
revoke execute on function public.record_discord_rate_limit(
  text, text, integer, integer, integer, integer, boolean, timestamptz, integer
) from public, anon, authenticated;
grant execute on function public.record_discord_rate_limit(
  text, text, integer, integer, integer, integer, boolean, timestamptz, integer
) to service_role;

-- Claims up to `max_jobs` due jobs, at most one per membership, each with a lease of
-- `lease_seconds`. Another claimer never gets a job of a membership whose job is leased, so two
-- invocations never call Discord for the same member at once, and a late job cannot overtake a
-- newer one. The newest open job of a membership stands for all of them (every job re-reads the
-- membership when it runs): older open jobs are closed as 'superseded'.
-- Due jobs are taken one guild after another, and jobs of a guild whose role bucket is spent
-- come last, so a burst drains at the global rate instead of waiting on one guild's bucket.
create function public.claim_role_jobs(max_jobs integer, lease_seconds integer)
returns setof public.role_jobs
language plpgsql
security definer
set search_path = ''
as $$
declare
  candidate uuid;
  newest public.role_jobs;
  taken integer := 0;
begin
  for candidate in
    select due.membership_id
    from (
      select j.membership_id, j.guild_id, min(j.next_attempt_at) as due_at
      from public.role_jobs j
      where j.status in ('pending', 'running') and j.next_attempt_at <= now()
        and (j.lease_expires_at is null or j.lease_expires_at <= now())
        and not exists (
          select 1 from public.role_jobs busy
          where busy.membership_id = j.membership_id and busy.status = 'running'
            and busy.lease_expires_at > now()
        )
      group by j.membership_id, j.guild_id
    ) due
    -- Discord's role bucket is per guild (10 changes per 10 s; role-sync keeps its state under
    -- 'roles:<guild id>'). One claim takes one job per guild before a second of any, and a guild
    -- whose bucket is spent comes after every other: its jobs would only be put back, while the
    -- global limit goes unused and, at the end of a burst, wait for the bucket's next window.
    left join public.discord_rate_limits bucket on bucket.route_key = 'roles:' || due.guild_id
    order by (bucket.reset_at > now() and bucket.remaining <= 0) is true,
      row_number() over (partition by due.guild_id order by due.due_at), due.due_at
    -- Room for candidates another claimer takes at the same moment (skipped below).
    limit greatest(max_jobs, 1) + 32
  loop
    exit when taken >= max_jobs;
    -- Held until this transaction ends; a concurrent claimer of the same member skips it.
    continue when not pg_try_advisory_xact_lock(20261121, hashtext(candidate::text));
    -- Each statement sees a fresh snapshot: a claim committed after the loop's query shows here.
    continue when exists (
      select 1 from public.role_jobs r
      where r.membership_id = candidate and r.status = 'running' and r.lease_expires_at > now()
    );
    select * into newest from public.role_jobs r
      where r.membership_id = candidate and r.status in ('pending', 'running')
      order by r.id desc limit 1
      for update;
    continue when not found or newest.next_attempt_at > now();
    update public.role_jobs
      set status = 'done', outcome = 'superseded', done_at = now(), lease_expires_at = null,
        claim_id = null
      where membership_id = candidate and status in ('pending', 'running') and id < newest.id;
    update public.role_jobs
      set status = 'running', attempts = attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      where id = newest.id
      returning * into newest;
    taken := taken + 1;
    return next newest;
  end loop;
end;
$$;
revoke execute on function public.claim_role_jobs(integer, integer)
  from public, anon, authenticated;
grant execute on function public.claim_role_jobs(integer, integer) to service_role;

-- Housekeeping the sweep does every minute: bucket rows idle for an hour are forgotten.
create function public.role_sync_housekeeping() returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.discord_rate_limits
    where reset_at < now() - interval '1 hour' and updated_at < now() - interval '1 hour';
end;
$$;
revoke execute on function public.role_sync_housekeeping() from public, anon, authenticated;

-- The cron sweep (every minute): expire entitlements whose grace period or scheduled cancel ran out
-- (20261121020000), forget idle buckets, then wake role-sync for due jobs, including the ones the
-- expiry just queued.
create or replace function public.sweep_role_jobs() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.expire_entitlements();
  perform public.role_sync_housekeeping();
  if not exists (
    select 1 from public.role_jobs
    where status in ('pending', 'running') and next_attempt_at <= now()
      and (lease_expires_at is null or lease_expires_at <= now())
  ) then
    return null;
  end if;
  return public.request_role_sync(jsonb_build_object('type', 'SWEEP', 'table', 'role_jobs',
    'schema', 'public', 'record', null, 'old_record', null));
end;
$$;
revoke execute on function public.sweep_role_jobs() from public, anon, authenticated;
