-- role-sync drains at Discord's rate, and live jobs go first (issue 16 item 1).
--
-- Draining 100,000 queued jobs with 100 ms of Discord latency reached 0.90 of the 50 requests/s,
-- and live changes waited seconds (tests/bench/role_sync_backlog_load.ts). Three changes here:
--
-- - acquire_discord_slot says what a wait is for: a guild's bucket or the global limit. A caller
--   that must wait for the global window queues in its process, live work ahead of bulk work, and
--   only the head of that queue asks again; a bucket's wait is the caller's own.
-- - record_discord_rate_limit takes how long after its slot the request can at the latest have
--   reached Discord, instead of when its answer came back: the caller knows the travel every
--   request makes both ways (the fastest round trip), and a request that counted until its answer
--   plus a window held its slot one round trip too long (50 slots / 1.1 s = 45 requests/s).
-- - claim_role_jobs takes live jobs round-robin by guild, and its bulk skip scan probes twice the
--   guilds the batch needs instead of 32 more (30 probes per job claimed one or two at a time);
--   finish_role_job_applied records a job's role calls, queues its message and finishes it in one
--   statement instead of two.

drop function rolepass.acquire_discord_slot(text, boolean, integer, integer, integer);

create function rolepass.acquire_discord_slot(
  key text,
  use_global boolean,
  global_limit integer,
  global_window_ms integer,
  max_in_flight_ms integer
)
returns table(wait_ms integer, taken_at timestamp with time zone, waiting_for text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  t timestamptz := clock_timestamp();
  -- The slot's name goes through the caller's clock type, which keeps milliseconds.
  stamp timestamptz := date_trunc('milliseconds', t);
  bucket rolepass.discord_rate_limits;
  g rolepass.discord_global_rate_limit;
  answered timestamptz[];
  flying timestamptz[];
  window_length interval := make_interval(secs => global_window_ms / 1000.0);
begin
  -- Bookkeeping of Discord's limits: committed without waiting for the WAL flush, so the
  -- global row's lock is not held across one (see the migration's header).
  perform set_config('synchronous_commit', 'off', true);
  insert into rolepass.discord_rate_limits (route_key, remaining, reset_at)
    values (key, 0, '-infinity') on conflict (route_key) do nothing;
  select * into bucket from rolepass.discord_rate_limits where route_key = key for update;
  if bucket.reset_at > t and bucket.remaining <= 0 then
    -- While a probe is out, ask again soon: its answer usually comes back in milliseconds.
    if bucket.request_limit is null then
      return query select least(ceil(extract(epoch from bucket.reset_at - t) * 1000)::integer + 1,
        25), null::timestamptz, 'bucket';
      return;
    end if;
    return query select ceil(extract(epoch from bucket.reset_at - t) * 1000)::integer + 1,
      null::timestamptz, 'bucket';
    return;
  end if;
  if use_global then
    select * into g from rolepass.discord_global_rate_limit where id for update;
    if g.blocked_until > t then
      return query select ceil(extract(epoch from g.blocked_until - t) * 1000)::integer + 1,
        null::timestamptz, 'global';
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
        else 25 end, null::timestamptz, 'global';
      return;
    end if;
    update rolepass.discord_global_rate_limit set sent_at = answered, in_flight = flying || stamp
      where id;
  end if;
  if bucket.reset_at > t then
    update rolepass.discord_rate_limits set remaining = remaining - 1, updated_at = t
      where route_key = key;
  elsif bucket.request_limit is null then
    -- A probe: the answer's headers will say how many more may go.
    update rolepass.discord_rate_limits set remaining = 0, reset_at = t + interval '2 seconds',
      updated_at = t
      where route_key = key;
  else
    update rolepass.discord_rate_limits
      set remaining = request_limit - 1,
        reset_at = t + make_interval(secs => coalesce(window_seconds, 1)), updated_at = t
      where route_key = key;
  end if;
  return query select 0, case when use_global then stamp end, null::text;
end;
$$;revoke execute on function rolepass.acquire_discord_slot(text, boolean, integer, integer, integer)
  from public, anon, authenticated;
grant execute on function rolepass.acquire_discord_slot(text, boolean, integer, integer, integer)
  to service_role;

drop function rolepass.record_discord_rate_limit(text, text, integer, integer, integer, integer,
  boolean, timestamp with time zone, integer);

create function rolepass.record_discord_rate_limit(
  key text,
  bucket_id text,
  request_limit integer,
  remaining integer,
  reset_after_ms integer,
  retry_after_ms integer,
  is_global boolean,
  global_taken_at timestamp with time zone,
  reached_after_ms integer
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  t timestamptz := clock_timestamp();
  known rolepass.discord_rate_limits;
  g rolepass.discord_global_rate_limit;
  reached timestamptz;
  left_in_flight timestamptz[];
begin
  -- Bookkeeping of Discord's limits: committed without waiting for the WAL flush, so the
  -- global row's lock is not held across one (see the migration's header).
  perform set_config('synchronous_commit', 'off', true);
  -- Rows are locked in the order acquire_discord_slot takes them (bucket, then global), so the
  -- two never wait on each other in a cycle.
  select * into known from rolepass.discord_rate_limits where route_key = key for update;
  if global_taken_at is not null then
    select * into g from rolepass.discord_global_rate_limit where id for update;
    -- The latest the request can have reached Discord, as the caller bounds it; the slot's
    -- name is its time cut to the millisecond, so one more covers what was cut.
    reached := least(t,
      global_taken_at + make_interval(secs => (reached_after_ms + 1) / 1000.0));
    left_in_flight := array_remove(g.in_flight, global_taken_at);
    -- Two slots taken at the same instant are both removed above: put the other one back.
    left_in_flight := left_in_flight || array_fill(global_taken_at,
      array[greatest(cardinality(g.in_flight) - cardinality(left_in_flight) - 1, 0)]);
    update rolepass.discord_global_rate_limit
      set in_flight = left_in_flight,
        sent_at = case when cardinality(left_in_flight) < cardinality(g.in_flight)
          then sent_at || reached else sent_at end
      where id;
  end if;
  if retry_after_ms is not null and is_global then
    update rolepass.discord_global_rate_limit
      set blocked_until = greatest(coalesce(blocked_until, t),
        t + make_interval(secs => retry_after_ms / 1000.0))
      where id;
    return;
  end if;
  if known.route_key is null then
    return;
  end if;
  if retry_after_ms is not null then
    update rolepass.discord_rate_limits
      set remaining = 0,
        reset_at = greatest(reset_at, t + make_interval(secs => retry_after_ms / 1000.0)),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
    return;
  end if;
  if request_limit is null or remaining is null or reset_after_ms is null then
    -- No headers (a timeout, a 5xx from a proxy): a probe learnt nothing, so let the next one go.
    if known.request_limit is null then
      update rolepass.discord_rate_limits set reset_at = '-infinity', updated_at = t
        where route_key = key;
    end if;
    return;
  end if;
  if known.request_limit is null or known.reset_at <= t then
    update rolepass.discord_rate_limits
      set request_limit = record_discord_rate_limit.request_limit,
        remaining = record_discord_rate_limit.remaining,
        reset_at = t + make_interval(secs => reset_after_ms / 1000.0),
        window_seconds = greatest(coalesce(window_seconds, 0), reset_after_ms / 1000.0),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
  else
    update rolepass.discord_rate_limits
      set request_limit = record_discord_rate_limit.request_limit,
        remaining = least(discord_rate_limits.remaining, record_discord_rate_limit.remaining),
        reset_at = greatest(reset_at, t + make_interval(secs => reset_after_ms / 1000.0)),
        window_seconds = greatest(coalesce(window_seconds, 0), reset_after_ms / 1000.0),
        bucket = coalesce(bucket_id, bucket), updated_at = t
      where route_key = key;
  end if;
end;
$$;revoke execute on function rolepass.record_discord_rate_limit(text, text, integer, integer,
  integer, integer, boolean, timestamp with time zone, integer) from public, anon, authenticated;
grant execute on function rolepass.record_discord_rate_limit(text, text, integer, integer,
  integer, integer, boolean, timestamp with time zone, integer) to service_role;

create or replace function rolepass.claim_role_jobs(max_jobs integer, lease_seconds integer)
returns setof rolepass.role_jobs
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Room for candidates another claimer takes at the same moment (skipped below).
  wanted integer;
  start_after text;
  visited text := '';
  next_guild text;
  wrapped boolean := false;
  guilds text[] := array[]::text[];
  candidate record;
  claimed_members uuid[] := array[]::uuid[];
  newest rolepass.role_jobs;
  taken integer := 0;
  last_guild text;
begin
  -- Live jobs first, read through role_jobs_live_due_idx (open live jobs only): of the oldest due
  -- ones, each guild's oldest, then each guild's second, and so on, so a burst of live jobs in
  -- one guild (whose role bucket allows 10 changes per 10 s) does not hold up another guild's.
  -- A guild whose role bucket is spent is left to the round-robin below, which puts it last.
  for candidate in
    select due.membership_id
    from (
      select j.membership_id, j.guild_id, j.next_attempt_at
      from rolepass.role_jobs j
      where j.live and j.status in ('pending', 'running') and j.next_attempt_at <= now()
        and (j.lease_expires_at is null or j.lease_expires_at <= now())
        and not exists (
          select 1 from rolepass.role_jobs busy
          where busy.membership_id = j.membership_id and busy.status = 'running'
            and busy.lease_expires_at > now()
        )
        and not exists (
          select 1 from rolepass.discord_rate_limits bucket
          where bucket.route_key = 'roles:' || j.guild_id and bucket.reset_at > now()
            and bucket.remaining <= 0
        )
      order by j.next_attempt_at
      limit 500
    ) due
    order by row_number() over (partition by due.guild_id order by due.next_attempt_at),
      due.next_attempt_at
    limit greatest(max_jobs, 1) + 8
  loop
    exit when taken >= max_jobs;
    continue when candidate.membership_id = any (claimed_members);
    newest := rolepass.claim_member_role_job(candidate.membership_id, lease_seconds);
    continue when newest.id is null;
    taken := taken + 1;
    claimed_members := claimed_members || candidate.membership_id;
    return next newest;
  end loop;
  if taken >= max_jobs then
    return;
  end if;

  -- Then the bulk work, round-robin by guild from the cursor. Twice the guilds the batch needs
  -- leaves room for candidates another claimer takes; each is one probe of the skip scan below,
  -- and a claim is made for the one or two workers idle at the time.
  wanted := greatest(max_jobs - taken, 1) * 2 + 2;
  select c.last_guild_id into start_after from rolepass.role_job_claim_cursor c where c.id;
  start_after := coalesce(start_after, '');
  visited := start_after;
  -- A skip scan: each probe finds the next guild id that has open jobs, from after the cursor to
  -- the end, then from the start up to the cursor.
  while cardinality(guilds) < wanted loop
    select j.guild_id into next_guild from rolepass.role_jobs j
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
        from rolepass.role_jobs j
        where j.guild_id = g.guild_id and j.status in ('pending', 'running')
          and j.next_attempt_at <= now()
          and (j.lease_expires_at is null or j.lease_expires_at <= now())
          and not exists (
            select 1 from rolepass.role_jobs busy
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
    left join rolepass.discord_rate_limits bucket on bucket.route_key = 'roles:' || due.guild_id
    order by (bucket.reset_at > now() and bucket.remaining <= 0) is true,
      row_number() over (partition by due.guild_id order by due.due_at), due.position, due.due_at
    limit wanted
  loop
    exit when taken >= max_jobs;
    continue when candidate.membership_id = any (claimed_members);
    newest := rolepass.claim_member_role_job(candidate.membership_id, lease_seconds);
    continue when newest.id is null;
    taken := taken + 1;
    claimed_members := claimed_members || candidate.membership_id;
    last_guild := newest.guild_id;
    return next newest;
  end loop;
  if last_guild is not null then
    update rolepass.role_job_claim_cursor set last_guild_id = last_guild where id;
  end if;
end;
$$;

-- Finishes a running job whose role calls succeeded: records the roles they left the member with
-- (null when the job made none), queues the member's message about the change (null when none is
-- owed) once, and closes the job, in one statement.
create function rolepass.finish_role_job_applied(
  job_id bigint,
  claim uuid,
  applied_role_ids text[],
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
  if notice_payload is not null and job.notice_status is null then
    perform rolepass.enqueue_member_notice(job.guild_id, job.discord_user_id, notice_kind,
      notice_payload ->> 'locale', notice_payload, 'role_job:' || job.id, job.id);
  end if;
  -- One update: each update of a job also moves the queue's kept counters (role_job_counts).
  update rolepass.role_jobs
    set roles_applied_at = case when applied_role_ids is null then roles_applied_at else now() end,
      roles_applied_role_ids = coalesce(applied_role_ids, roles_applied_role_ids),
      roles_applied_role_id = case when applied_role_ids is null then roles_applied_role_id
        else applied_role_ids[1] end,
      notice_status = case when notice_payload is not null and job.notice_status is null
        then 'sending' else notice_status end,
      notified_at = case when notice_payload is not null and job.notice_status is null
        then now() else notified_at end,
      status = 'done', outcome = 'applied', last_error = null, lease_expires_at = null,
      done_at = now()
    where id = job.id;
  return true;
end;
$$;
revoke execute on function rolepass.finish_role_job_applied(bigint, uuid, text[], text, jsonb)
  from public, anon, authenticated;
grant execute on function rolepass.finish_role_job_applied(bigint, uuid, text[], text, jsonb)
  to service_role;
