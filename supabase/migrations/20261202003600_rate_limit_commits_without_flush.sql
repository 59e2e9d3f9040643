-- Discord rate-limit bookkeeping commits without waiting for its WAL flush.
--
-- Every role call takes the one global rate-limit row's lock twice (acquire_discord_slot before
-- the call, record_discord_rate_limit after it), each in a statement of its own whose commit held
-- the lock until the WAL was flushed. On a durable database that flush, not Discord, paced the
-- drain: draining a backlog with 100 ms of Discord latency and 8 jobs in flight, the two lock
-- waits were 22 of the 45 ms of server time per job and the drain reached 0.3 of Discord's 50
-- requests/s (tests/bench/role_sync_backlog_load.ts, pg_stat_statements).
--
-- These rows only pace requests: after a database crash the last few hundred milliseconds of
-- them may be lost, so role-sync may send a few requests more than its windows allow, which
-- Discord answers with a 429 that role-sync honours (retry_after). Other sessions see each
-- commit at once; only the flush is not awaited. The setting is local to the statement's own
-- transaction (set_config(..., true)), so nothing else commits this way.

create or replace function rolepass.acquire_discord_slot(
  key text,
  use_global boolean,
  global_limit integer,
  global_window_ms integer,
  max_in_flight_ms integer
)
returns table(wait_ms integer, taken_at timestamp with time zone)
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
        25), null::timestamptz;
      return;
    end if;
    return query select ceil(extract(epoch from bucket.reset_at - t) * 1000)::integer + 1,
      null::timestamptz;
    return;
  end if;
  if use_global then
    select * into g from rolepass.discord_global_rate_limit where id for update;
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
  return query select 0, case when use_global then stamp end;
end;
$$;

create or replace function rolepass.record_discord_rate_limit(
  key text,
  bucket_id text,
  request_limit integer,
  remaining integer,
  reset_after_ms integer,
  retry_after_ms integer,
  is_global boolean,
  global_taken_at timestamp with time zone,
  answered_after_ms integer
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
    -- The slot's name is its time cut to the millisecond: one more covers what was cut.
    reached := least(t,
      global_taken_at + make_interval(secs => (answered_after_ms + 1) / 1000.0));
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
$$;
