-- role-sync drains a burst at Discord's global rate, and never above it.
--
-- 1. Discord's global limit is counted on when requests can have reached Discord, not on when
--    their slot was taken. A slot taken at `t` was sent some time later (an isolate's event loop
--    can lag by hundreds of milliseconds under load), so a window over slot times alone let 55
--    requests reach Discord within one second. A request reaches Discord after its slot was taken
--    and before its answer came back, so: a slot stays in flight until its answer is recorded,
--    and an answered request counts until one window after its answer. Any window of Discord's
--    then holds at most the limit, whatever the travel time, and the window needs no margin.
-- 2. Claims take one job per guild before a second of any, and jobs of a guild whose role bucket
--    is spent last (see claim_role_jobs below).

alter table public.discord_global_rate_limit
  add column in_flight timestamptz[] not null default '{}';
comment on column public.discord_global_rate_limit.sent_at is
  'Answered requests: for each, a time by which it had reached Discord (its answer came back).';
comment on column public.discord_global_rate_limit.in_flight is
  'Slots taken whose answer is not recorded yet, by the time they were taken.';

drop function public.acquire_discord_slot(text, boolean, integer, integer);
drop function public.record_discord_rate_limit(
  text, text, integer, integer, integer, integer, boolean
);

-- Asks for a slot to call Discord on `key`. `wait_ms` is 0 when the caller may send now (the slot
-- is taken; `taken_at` names it for `record_discord_rate_limit`), else how many milliseconds to
-- wait before asking again. Global: at most `global_limit` requests in flight or answered less
-- than `global_window_ms` ago. A slot never answered (its instance died) stops counting after
-- `max_in_flight_ms` plus the window. An unknown bucket lets one request through and holds the
-- rest until its answer tells the bucket's size.
create or replace function public.acquire_discord_slot(
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
create or replace function public.record_discord_rate_limit(
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

-- Claims: the same as before, but due jobs are taken one guild after another.
create or replace function public.claim_role_jobs(max_jobs integer, lease_seconds integer)
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
