-- rolepass moves out of `public`, the schema Supabase's Data API (PostgREST) exposes, into a schema
-- of its own that the API does not serve (supabase/config.toml [api].schemas leaves it out), as
-- supabase/stripe-sync-engine and basejump do. Revoked grants and RLS stay as they were: a second
-- wall, no longer the only one. Only service_role, which the functions connect as, may enter.
--
-- `set schema` keeps every object's oid, so grants, RLS, indexes, constraints, column defaults,
-- owned sequences, triggers and the view move with their tables and keep working. What names a
-- schema in text does not follow: function bodies (recreated below, generated from
-- pg_get_functiondef after the move with `public.` -> `rolepass.`) and pg_cron commands
-- (rescheduled under the same names). Extension objects (net, vault, cron) stay where they are.

create schema rolepass;
comment on schema rolepass is
  'rolepass: paid Discord roles. Not exposed by the Data API; only service_role may enter.';
revoke all on schema rolepass from public;
grant usage on schema rolepass to service_role;

-- tables (their indexes, constraints, triggers and owned sequences move with them) ----------------
alter table public.checkout_attempts set schema rolepass;
alter table public.closed_period_figures set schema rolepass;
alter table public.closed_periods set schema rolepass;
alter table public.discord_global_rate_limit set schema rolepass;
alter table public.discord_rate_limits set schema rolepass;
alter table public.guild_reconciliations set schema rolepass;
alter table public.guilds set schema rolepass;
alter table public.handled_interactions set schema rolepass;
alter table public.interaction_tokens set schema rolepass;
alter table public.link_tokens set schema rolepass;
alter table public.membership_history set schema rolepass;
alter table public.memberships set schema rolepass;
alter table public.money_ledger set schema rolepass;
alter table public.plans set schema rolepass;
alter table public.refund_dispute_outcomes set schema rolepass;
alter table public.role_comps set schema rolepass;
alter table public.role_job_claim_cursor set schema rolepass;
alter table public.role_jobs set schema rolepass;
alter table public.stripe_events set schema rolepass;
alter table public.stripe_subscription_revocations set schema rolepass;

-- views -----------------------------------------------------------------------------------------
alter view public.role_job_queue_status set schema rolepass;

-- functions -------------------------------------------------------------------------------------
alter function public.acquire_discord_slot(key text, use_global boolean, global_limit integer, global_window_ms integer, max_in_flight_ms integer) set schema rolepass;
alter function public.begin_role_job_alert(job_id bigint) set schema rolepass;
alter function public.begin_role_job_notice(job_id bigint, claim uuid) set schema rolepass;
alter function public.claim_role_jobs(max_jobs integer, lease_seconds integer) set schema rolepass;
alter function public.close_period(closing_guild_id text, closing_month date) set schema rolepass;
alter function public.delete_expired_tokens() set schema rolepass;
alter function public.dispute_status_rank(status text) set schema rolepass;
alter function public.end_role_job_notice(job_id bigint, result text) set schema rolepass;
alter function public.enqueue_role_job() set schema rolepass;
alter function public.enqueue_role_repairs(target_guild_id text, repairs jsonb, max_jobs integer, spacing_ms integer) set schema rolepass;
alter function public.expire_entitlements(max_rows integer) set schema rolepass;
alter function public.finish_role_job(job_id bigint, claim uuid, final_status text, job_outcome text, error text) set schema rolepass;
alter function public.guilds_mirror_reversal_policies() set schema rolepass;
alter function public.is_time_zone(zone text) set schema rolepass;
alter function public.notify_role_sync() set schema rolepass;
alter function public.open_subscribe_link(interaction_id text, guild_id text, discord_user_id text, locale text, link_token_hash bytea, link_token_ttl_seconds integer, application_id text, interaction_token text, member_role_ids text[]) set schema rolepass;
alter function public.place_money_fact() set schema rolepass;
alter function public.prune_retained_rows(batch_size integer) set schema rolepass;
alter function public.record_discord_rate_limit(key text, bucket_id text, request_limit integer, remaining integer, reset_after_ms integer, retry_after_ms integer, is_global boolean, global_taken_at timestamp with time zone, answered_after_ms integer) set schema rolepass;
alter function public.record_membership_history() set schema rolepass;
alter function public.record_role_job_roles_applied(job_id bigint, claim uuid, applied_role_id text) set schema rolepass;
alter function public.refuse_closed_period_change() set schema rolepass;
alter function public.refuse_money_ledger_change() set schema rolepass;
alter function public.request_reconciliation(target_guild_id text) set schema rolepass;
alter function public.request_role_sync(payload jsonb) set schema rolepass;
alter function public.retry_failed_role_jobs(only_guild_id text) set schema rolepass;
alter function public.retry_role_job(job_id bigint, claim uuid, delay_ms integer, error text, counts_as_attempt boolean) set schema rolepass;
alter function public.role_sync_housekeeping() set schema rolepass;
alter function public.schedule_reconciliations(max_guilds integer) set schema rolepass;
alter function public.swap_plan_role() set schema rolepass;
alter function public.sweep_role_jobs() set schema rolepass;
alter function public.touch_updated_at() set schema rolepass;
alter function public.wake_role_sync_once(payload jsonb) set schema rolepass;

-- function bodies that name the schema ------------------------------------------------------------
-- `create or replace` keeps each function's owner, grants, comment, security definer and empty
-- search_path. sweep_role_jobs's wake-up also names the schema in its payload, as the database
-- webhook (tg_table_schema) now does.

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

create or replace function rolepass.begin_role_job_alert(job_id bigint)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs set alerted_at = now()
    where id = job_id and status = 'failed' and alerted_at is null;
  return found;
end;
$$;

create or replace function rolepass.begin_role_job_notice(job_id bigint, claim uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs
    set notice_status = 'sending', notified_at = now()
    where id = job_id and claim_id = claim and status = 'running' and notice_status is null;
  return found;
end;
$$;

create or replace function rolepass.claim_role_jobs(max_jobs integer, lease_seconds integer)
returns setof rolepass.role_jobs
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
  newest rolepass.role_jobs;
  taken integer := 0;
  last_guild text;
begin
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
    -- Held until this transaction ends; a concurrent claimer of the same member skips it.
    continue when not pg_try_advisory_xact_lock(20261121, hashtext(candidate.membership_id::text));
    -- Each statement sees a fresh snapshot: a claim committed after the loop's query shows here.
    continue when exists (
      select 1 from rolepass.role_jobs r
      where r.membership_id = candidate.membership_id and r.status = 'running'
        and r.lease_expires_at > now()
    );
    select * into newest from rolepass.role_jobs r
      where r.membership_id = candidate.membership_id and r.status in ('pending', 'running')
      order by r.id desc limit 1
      for update;
    continue when not found or newest.next_attempt_at > now();
    update rolepass.role_jobs
      set status = 'done', outcome = 'superseded', done_at = now(), lease_expires_at = null,
        claim_id = null
      where membership_id = candidate.membership_id and status in ('pending', 'running')
        and id < newest.id;
    update rolepass.role_jobs
      set status = 'running', attempts = attempts + 1, claim_id = gen_random_uuid(),
        lease_expires_at = now() + make_interval(secs => lease_seconds)
      where id = newest.id
      returning * into newest;
    taken := taken + 1;
    last_guild := newest.guild_id;
    return next newest;
  end loop;
  if last_guild is not null then
    update rolepass.role_job_claim_cursor set last_guild_id = last_guild where id;
  end if;
end;
$$;

create or replace function rolepass.close_period(closing_guild_id text, closing_month date)
returns table(outcome text, detail text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  zone text;
  month_start timestamptz;
  month_end timestamptz;
  latest_closed date;
  earliest_open_activity date;
  label text := to_char(closing_month, 'YYYY-MM');
begin
  select g.accounting_time_zone into zone
  from rolepass.guilds g where g.id = closing_guild_id
  for update;
  if zone is null then
    return query select 'refused', format('No guild %s is configured', closing_guild_id);
    return;
  end if;
  if closing_month is null or closing_month <> date_trunc('month', closing_month)::date then
    return query select 'refused', 'The month to close must be given as its first day';
    return;
  end if;
  month_start := closing_month::timestamp at time zone zone;
  month_end := (closing_month + interval '1 month')::timestamp at time zone zone;
  if month_end > now() then
    return query select 'refused', format('Cannot close %s: it has not ended yet in %s', label, zone);
    return;
  end if;

  select max(c.month) into latest_closed
  from rolepass.closed_periods c where c.guild_id = closing_guild_id;
  if latest_closed is not null and closing_month <= latest_closed then
    return query select 'already_closed', case when closing_month = latest_closed
      then format('%s is already closed; nothing changed', label)
      else format('%s is closed already: %s, a later month, is closed; nothing changed', label,
        to_char(latest_closed, 'YYYY-MM')) end;
    return;
  end if;

  -- Facts between the latest closed month and this one belong to an earlier open month.
  select least(
    (select date_trunc('month', min(l.occurred_at) at time zone zone)::date
      from rolepass.money_ledger l
      where l.guild_id = closing_guild_id
        and l.occurred_at < month_start
        and (latest_closed is null or l.occurred_at
          >= (latest_closed + interval '1 month')::timestamp at time zone zone)),
    (select min(l.period_month)
      from rolepass.money_ledger l
      where l.guild_id = closing_guild_id and l.is_adjustment
        and l.period_month < closing_month
        and (latest_closed is null or l.period_month > latest_closed))
  ) into earliest_open_activity;
  if earliest_open_activity is not null then
    return query select 'refused', format(
      'Cannot close %s: %s has activity and is still open; close %s first', label,
      to_char(earliest_open_activity, 'YYYY-MM'), to_char(earliest_open_activity, 'YYYY-MM'));
    return;
  end if;

  insert into rolepass.closed_periods (guild_id, month, time_zone)
  values (closing_guild_id, closing_month, zone);

  insert into rolepass.closed_period_figures (guild_id, month, row_kind, fact_month, plan_id,
    stripe_price_id, plan_name, currency, gross, refunds, disputes, net, starts, cancellations,
    active_at_month_end, mrr)
  with facts as (
    select l.* from rolepass.money_ledger l
    where l.guild_id = closing_guild_id
      and l.occurred_at >= month_start and l.occurred_at < month_end
      and l.period_month = closing_month
    union all
    select l.* from rolepass.money_ledger l
    where l.guild_id = closing_guild_id and l.is_adjustment and l.period_month = closing_month
  ),
  grouped as (
    select case when f.is_adjustment then 'adjustment' else 'period' end as row_kind,
      f.fact_month, f.plan_id, f.currency, min(f.stripe_price_id) as stripe_price_id,
      coalesce(sum(f.amount) filter (where f.kind = 'invoice_paid'), 0) as gross,
      coalesce(sum(f.amount) filter (where f.kind = 'refund'), 0) as refunds,
      coalesce(sum(f.amount) filter (where f.kind = 'dispute'), 0)
        - coalesce(sum(f.amount) filter (where f.kind = 'dispute_won'), 0) as disputes,
      count(*) filter (where f.kind = 'invoice_paid' and f.starts_subscription)::integer
        as starts,
      count(*) filter (where f.kind = 'subscription_ended' and exists (
        select 1 from rolepass.money_ledger s
        where s.stripe_subscription_id = f.stripe_object_id and s.starts_subscription
      ))::integer as cancellations
    from facts f
    group by 1, 2, 3, 4
  ),
  previous as (
    select p.plan_id, p.currency, p.stripe_price_id, p.active_at_month_end
    from rolepass.closed_period_figures p
    where p.guild_id = closing_guild_id and p.month = latest_closed and p.row_kind = 'period'
  ),
  movement as (
    select g.plan_id, g.currency, min(g.stripe_price_id) as stripe_price_id,
      sum(g.starts - g.cancellations)::integer as net_starts
    from grouped g group by 1, 2
  ),
  active as (
    select coalesce(m.plan_id, p.plan_id) as plan_id,
      coalesce(m.currency, p.currency) as currency,
      coalesce(m.stripe_price_id, p.stripe_price_id) as stripe_price_id,
      greatest(coalesce(p.active_at_month_end, 0) + coalesce(m.net_starts, 0), 0) as members
    from movement m
    full join previous p on p.plan_id = m.plan_id and p.currency = m.currency
  ),
  period_rows as (
    select 'period'::text as row_kind, closing_month as fact_month, a.plan_id, a.currency,
      coalesce(g.stripe_price_id, a.stripe_price_id) as stripe_price_id,
      coalesce(g.gross, 0) as gross, coalesce(g.refunds, 0) as refunds,
      coalesce(g.disputes, 0) as disputes, coalesce(g.starts, 0) as starts,
      coalesce(g.cancellations, 0) as cancellations, a.members
    from active a
    left join grouped g
      on g.row_kind = 'period' and g.plan_id = a.plan_id and g.currency = a.currency
  )
  select closing_guild_id, closing_month, r.row_kind, r.fact_month, r.plan_id,
    r.stripe_price_id, pl.display -> 'en' ->> 'name', r.currency, r.gross, r.refunds,
    r.disputes, r.gross - r.refunds - r.disputes, r.starts, r.cancellations, r.members,
    case when r.members is null then null
      when pl.currency = r.currency then round(r.members * pl.unit_amount
        * case pl.billing_interval when 'day' then 365.0 / 12 when 'week' then 52.0 / 12
            when 'month' then 1.0 else 1.0 / 12 end
        / pl.interval_count)::bigint
      else 0 end
  from (
    select p.row_kind, p.fact_month, p.plan_id, p.currency, p.stripe_price_id, p.gross,
      p.refunds, p.disputes, p.starts, p.cancellations, p.members
    from period_rows p
    union all
    select g.row_kind, g.fact_month, g.plan_id, g.currency, g.stripe_price_id, g.gross,
      g.refunds, g.disputes, g.starts, g.cancellations, null::integer
    from grouped g where g.row_kind = 'adjustment'
  ) r
  left join rolepass.plans pl on pl.id = r.plan_id;

  return query select 'closed', format('%s is closed in %s', label, zone);
end;
$$;

create or replace function rolepass.delete_expired_tokens()
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from rolepass.interaction_tokens where expires_at <= now();
  delete from rolepass.link_tokens where expires_at <= now() - interval '7 days';
  delete from rolepass.handled_interactions where handled_at <= now() - interval '15 minutes';
end;
$$;

create or replace function rolepass.end_role_job_notice(job_id bigint, result text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs
    set notice_status = result,
      notified_at = case when result is null then null else notified_at end
    where id = job_id and notice_status = 'sending';
end;
$$;

create or replace function rolepass.enqueue_role_job()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' and not new.entitled then
    return null;
  end if;
  if tg_op = 'UPDATE'
    and old.entitled = new.entitled
    and old.entitled_role_id is not distinct from new.entitled_role_id then
    return null;
  end if;
  insert into rolepass.role_jobs (
    membership_id, guild_id, discord_user_id, entitled, role_id, previous_role_id, cause
  ) values (
    new.id, new.guild_id, new.discord_user_id, new.entitled, new.entitled_role_id,
    case when tg_op = 'UPDATE' then old.entitled_role_id end,
    coalesce(new.change_event_id, new.change_cause)
  );
  return null;
end;
$$;

create or replace function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer
)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  repair record;
  membership rolepass.memberships;
  queued integer := 0;
begin
  for repair in
    select r.action, r."userId" as user_id, r."roleId" as role_id
    from jsonb_to_recordset(repairs) as r (action text, "userId" text, "roleId" text)
  loop
    exit when queued >= max_jobs;
    continue when repair.user_id !~ '^[0-9]{17,20}$' or repair.role_id !~ '^[0-9]{17,20}$';
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
      continue when not (membership.entitled and membership.deleted_at is null
        and membership.entitled_role_id = repair.role_id);
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        cause, next_attempt_at)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0));
    elsif repair.action = 'remove' then
      continue when membership.entitled and membership.deleted_at is null
        and membership.entitled_role_id = repair.role_id;
      continue when exists (
        select 1 from rolepass.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        previous_role_id, cause, next_attempt_at, notice_status)
      values (membership.id, target_guild_id, repair.user_id,
        membership.entitled and membership.deleted_at is null,
        case when membership.deleted_at is null then membership.entitled_role_id end,
        repair.role_id, 'reconciliation_unpaid_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), 'not_sent');
    else
      continue;
    end if;
    queued := queued + 1;
  end loop;
  return queued;
end;
$$;

create or replace function rolepass.expire_entitlements(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired integer;
begin
  update rolepass.memberships m
    set entitled = false,
      entitled_role_id = null,
      entitled_until = null,
      change_cause = case when m.status = 'past_due'
        then 'grace_period_ended' else 'scheduled_cancel_took_effect' end,
      change_event_id = null
    where m.id in (
      select due.id from rolepass.memberships due
      where due.entitled and due.entitled_until is not null and due.entitled_until <= now()
      order by due.entitled_until
      limit greatest(max_rows, 0)
      for update skip locked
    );
  get diagnostics expired = row_count;
  return expired;
end;
$$;

create or replace function rolepass.finish_role_job(
  job_id bigint,
  claim uuid,
  final_status text,
  job_outcome text,
  error text default null
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  if final_status not in ('done', 'failed') then
    raise exception 'finish_role_job: final_status must be done or failed, not %', final_status;
  end if;
  update rolepass.role_jobs
    set status = final_status, outcome = job_outcome, last_error = error,
      lease_expires_at = null,
      done_at = case when final_status = 'done' then now() end
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;

create or replace function rolepass.notify_role_sync()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform rolepass.wake_role_sync_once(jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', to_jsonb(new),
    'old_record', null
  ));
  return null;
end;
$$;

create or replace function rolepass.open_subscribe_link(
  interaction_id text,
  guild_id text,
  discord_user_id text,
  locale text,
  link_token_hash bytea,
  link_token_ttl_seconds integer,
  application_id text,
  interaction_token text,
  member_role_ids text[]
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild_name text;
  active_plans jsonb;
  membership rolepass.memberships;
  membership_plan jsonb;
  purpose text;
  role_missing boolean := false;
  link_expires_at timestamptz := now() + make_interval(secs => link_token_ttl_seconds);
begin
  -- Claimed first, in the same transaction as everything stored below: of two copies of one
  -- interaction, even racing each other, only the first gets a link or stores its token.
  insert into rolepass.handled_interactions (id) values (open_subscribe_link.interaction_id)
    on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'already_handled');
  end if;

  select g.name into guild_name from rolepass.guilds g where g.id = open_subscribe_link.guild_id;
  if not found then
    return jsonb_build_object('outcome', 'no_plan', 'guild_name', null);
  end if;

  select coalesce(jsonb_agg(jsonb_build_object(
      'id', p.id,
      'display', p.display,
      'unit_amount', p.unit_amount,
      'currency', p.currency,
      'billing_interval', p.billing_interval,
      'interval_count', p.interval_count
    ) order by p.sort_order, p.created_at, p.id), '[]'::jsonb)
    into active_plans
    from rolepass.plans p
    where p.guild_id = open_subscribe_link.guild_id and p.active;
  if jsonb_array_length(active_plans) = 0 then
    return jsonb_build_object('outcome', 'no_plan', 'guild_name', guild_name);
  end if;

  select * into membership from rolepass.memberships m
    where m.guild_id = open_subscribe_link.guild_id
      and m.discord_user_id = open_subscribe_link.discord_user_id
      and m.deleted_at is null;

  if found and (membership.entitled or (membership.stripe_subscription_id is not null
      and membership.status in ('active', 'trialing', 'past_due', 'unpaid', 'paused'))) then
    purpose := 'manage';
    select jsonb_build_object('id', p.id, 'display', p.display) into membership_plan
      from rolepass.plans p where p.id = membership.plan_id;
  else
    purpose := 'join';
  end if;

  if purpose = 'manage' and membership.entitled then
    -- The interaction's roles are the truth when Discord sent them; without them, a member whose
    -- last role job found them gone from the server is the one case known to lack the role.
    role_missing := case
      when member_role_ids is not null
        then not (membership.entitled_role_id = any (member_role_ids))
      else coalesce((
        select j.outcome = 'member_not_in_guild' from rolepass.role_jobs j
        where j.membership_id = membership.id and j.status = 'done'
          and j.outcome is distinct from 'superseded'
        order by j.id desc limit 1), false)
    end;
    -- An open job re-reads the membership when it runs and gives the role anyway.
    if role_missing and not exists (
      select 1 from rolepass.role_jobs j
      where j.membership_id = membership.id and j.status in ('pending', 'running')
    ) then
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        cause)
      values (membership.id, membership.guild_id, membership.discord_user_id, true,
        membership.entitled_role_id, 'member_asked_role_missing');
    end if;
  end if;

  insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale, expires_at)
  values (link_token_hash, purpose, open_subscribe_link.guild_id,
    open_subscribe_link.discord_user_id, open_subscribe_link.locale, link_expires_at);

  -- Discord interaction tokens live 15 minutes; role-sync uses the latest one for its follow-up.
  insert into rolepass.interaction_tokens (guild_id, discord_user_id, application_id, token,
    expires_at)
  values (open_subscribe_link.guild_id, open_subscribe_link.discord_user_id,
    open_subscribe_link.application_id, interaction_token, now() + interval '15 minutes')
  on conflict on constraint interaction_tokens_pkey do update
    set application_id = excluded.application_id, token = excluded.token,
      expires_at = excluded.expires_at, created_at = now();

  return jsonb_build_object(
    'outcome', purpose,
    'guild_name', guild_name,
    'plans', active_plans,
    'link_expires_at', link_expires_at,
    'role_repair', role_missing,
    'membership', case when purpose = 'manage' then jsonb_build_object(
      'entitled', membership.entitled,
      'status', membership.status,
      'plan', membership_plan,
      'current_period_end', membership.current_period_end,
      'cancel_at', coalesce(membership.cancel_at, case when membership.cancel_at_period_end
        then membership.current_period_end end)
    ) end
  );
end;
$$;

create or replace function rolepass.place_money_fact()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  zone text;
  latest_closed date;
begin
  select g.accounting_time_zone into zone
  from rolepass.guilds g where g.id = new.guild_id
  for key share;
  if zone is null then
    raise exception 'Cannot record a money fact: guild % does not exist', new.guild_id
      using errcode = 'foreign_key_violation';
  end if;
  select max(c.month) into latest_closed
  from rolepass.closed_periods c where c.guild_id = new.guild_id;
  new.fact_month := date_trunc('month', new.occurred_at at time zone zone)::date;
  new.period_month := greatest(new.fact_month, (latest_closed + interval '1 month')::date);
  new.recorded_at := now();
  return new;
end;
$$;

create or replace function rolepass.prune_retained_rows(batch_size integer default 5000)
returns jsonb
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
  delete from rolepass.role_jobs j
    where j.id in (
      select old.id from rolepass.role_jobs old
      where old.status = 'done' and old.done_at < now() - interval '30 days'
        and exists (
          select 1 from rolepass.role_jobs newer
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
  delete from rolepass.stripe_events e
    where e.id in (
      select old.id from rolepass.stripe_events old
      where old.processed_at is not null and old.received_at < now() - interval '35 days'
      order by old.received_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('stripe_events', n);

  -- checkout_attempts: a Checkout or Portal session lives at most 24 hours; afterwards a row only
  -- helps support trace a payment to its session, which matters until a card dispute can no
  -- longer be opened (networks allow about 120 days). Kept 180 days after the last change.
  delete from rolepass.checkout_attempts a
    where a.id in (
      select old.id from rolepass.checkout_attempts old
      where old.updated_at < now() - interval '180 days'
      order by old.updated_at
      limit batch_size
    );
  get diagnostics n = row_count;
  deleted := deleted || jsonb_build_object('checkout_attempts', n);

  -- membership_history: the contract history behind the monthly figures and every entitlement
  -- decision (who held the role when, caused by which Stripe event). Japanese law keeps books
  -- and their supporting records 7 years (法人税法施行規則 59条), so rows are kept 7 years.
  delete from rolepass.membership_history h
    where h.id in (
      select old.id from rolepass.membership_history old
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

create or replace function rolepass.record_membership_history()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_row jsonb := case when tg_op = 'INSERT' then null else to_jsonb(old) - 'updated_at' end;
  new_row jsonb := case when tg_op = 'DELETE' then null else to_jsonb(new) - 'updated_at' end;
  changed rolepass.memberships := case when tg_op = 'DELETE' then old else new end;
begin
  if tg_op = 'UPDATE' and old_row = new_row then
    return null;
  end if;
  insert into rolepass.membership_history (
    membership_id, guild_id, discord_user_id, operation, cause, stripe_event_id,
    old_status, new_status, old_entitled, new_entitled, old_plan_id, new_plan_id, old_row, new_row
  ) values (
    changed.id, changed.guild_id, changed.discord_user_id, tg_op,
    case when tg_op = 'DELETE' then 'deleted' else changed.change_cause end,
    case when tg_op = 'DELETE' then null else changed.change_event_id end,
    old_row ->> 'status', new_row ->> 'status',
    (old_row ->> 'entitled')::boolean, (new_row ->> 'entitled')::boolean,
    (old_row ->> 'plan_id')::uuid, (new_row ->> 'plan_id')::uuid,
    old_row, new_row
  );
  return null;
end;
$$;

create or replace function rolepass.record_role_job_roles_applied(
  job_id bigint,
  claim uuid,
  applied_role_id text
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs
    set roles_applied_at = now(), roles_applied_role_id = applied_role_id
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;

create or replace function rolepass.refuse_money_ledger_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A BEFORE trigger sees generated columns not yet computed, so is_adjustment is left out.
  if tg_op = 'UPDATE'
    and (to_jsonb(new) - 'dispute_status' - 'is_adjustment')
      = (to_jsonb(old) - 'dispute_status' - 'is_adjustment')
    and rolepass.dispute_status_rank(new.dispute_status)
      > rolepass.dispute_status_rank(old.dispute_status) then
    return new;
  end if;
  raise exception 'money_ledger is append-only: % is refused (only a dispute''s status may move forward)',
    lower(tg_op)
    using errcode = 'restrict_violation';
end;
$$;

create or replace function rolepass.retry_failed_role_jobs(only_guild_id text default null)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  requeued integer;
begin
  update rolepass.role_jobs
    set status = 'pending', attempts = 0, next_attempt_at = now(), lease_expires_at = null,
      claim_id = null, alerted_at = null, outcome = null
    where status = 'failed' and (only_guild_id is null or guild_id = only_guild_id);
  get diagnostics requeued = row_count;
  return requeued;
end;
$$;

create or replace function rolepass.retry_role_job(
  job_id bigint,
  claim uuid,
  delay_ms integer,
  error text,
  counts_as_attempt boolean
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs
    set status = 'pending', last_error = error, lease_expires_at = null, claim_id = null,
      next_attempt_at = clock_timestamp() + make_interval(secs => greatest(delay_ms, 0) / 1000.0),
      attempts = case when counts_as_attempt then attempts else greatest(attempts - 1, 0) end
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;

create or replace function rolepass.role_sync_housekeeping()
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from rolepass.discord_rate_limits
    where reset_at < now() - interval '1 hour' and updated_at < now() - interval '1 hour';
end;
$$;

create or replace function rolepass.schedule_reconciliations(max_guilds integer default 20)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  due record;
  woken integer := 0;
begin
  insert into rolepass.guild_reconciliations (guild_id, next_run_at)
    select g.id, now() + make_interval(secs =>
        mod(abs(hashtext(g.id))::bigint, greatest(extract(epoch from g.reconcile_interval), 1)::bigint))
    from rolepass.guilds g
    on conflict (guild_id) do nothing;
  for due in
    select r.guild_id, g.reconcile_interval
    from rolepass.guild_reconciliations r
    join rolepass.guilds g on g.id = r.guild_id
    where r.next_run_at <= now()
    order by r.next_run_at
    limit greatest(max_guilds, 0)
    for update of r skip locked
  loop
    update rolepass.guild_reconciliations
      set next_run_at = now() + due.reconcile_interval
      where guild_id = due.guild_id;
    perform rolepass.request_reconciliation(due.guild_id);
    woken := woken + 1;
  end loop;
  return woken;
end;
$$;

create or replace function rolepass.swap_plan_role()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.memberships m
    set entitled_role_id = new.discord_role_id,
      change_cause = 'plan_role_changed',
      change_event_id = null
    where m.plan_id = new.id and m.entitled
      and m.entitled_role_id = old.discord_role_id;
  return null;
end;
$$;

create or replace function rolepass.sweep_role_jobs()
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform rolepass.expire_entitlements(1000);
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

create or replace function rolepass.wake_role_sync_once(payload jsonb)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if current_setting('rolepass.role_sync_woken', true) = 'on' then
    return null;
  end if;
  perform set_config('rolepass.role_sync_woken', 'on', true);
  return rolepass.request_role_sync(payload);
end;
$$;

-- pg_cron: the same jobs, by name, calling the functions where they now live ----------------------
select cron.schedule('rolepass-role-sync-sweep', '* * * * *', 'select rolepass.sweep_role_jobs()');
select cron.schedule('rolepass-delete-expired-tokens', '* * * * *',
  'select rolepass.delete_expired_tokens()');
select cron.schedule('rolepass-prune-retained-rows', '*/10 * * * *',
  'select rolepass.prune_retained_rows()');
select cron.schedule('rolepass-reconcile', '* * * * *',
  'select rolepass.schedule_reconciliations()');
