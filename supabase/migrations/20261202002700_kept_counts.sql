-- Figures kept for the queue health view, the monthly close and the membership history, so
-- each costs the same at 1,000 and at 100,000 members (issue 16 items 4 and 5).

-- queue health from kept counters ------------------------------------------------------------------
-- One row per shard; a statement that changes role jobs adds its net change to the row of its
-- backend's shard (pg_backend_pid() % 64), so concurrent transactions rarely wait on the same row
-- and a transaction only ever locks one counter row. The view sums at most 64 rows.
create table rolepass.role_job_counts (
  shard smallint primary key check (shard between 0 and 63),
  -- Open (pending or running) jobs without an error, open jobs being retried after one, running
  -- jobs (a subset of both), and jobs that gave up: the columns of role_job_queue_status.
  pending bigint not null default 0,
  failing bigint not null default 0,
  running bigint not null default 0,
  failed bigint not null default 0
);
comment on table rolepass.role_job_counts is
  'Counts of open, failing, running and failed role jobs, kept by the role_jobs_count triggers and summed by role_job_queue_status. Written only by those triggers; read by service_role.';
alter table rolepass.role_job_counts enable row level security;
revoke all on rolepass.role_job_counts from public, anon, authenticated, service_role;
grant select on rolepass.role_job_counts to service_role;

-- Adds the net change of one statement's rows; a statement that changes no count (a lease
-- renewal, a notice's status) takes no lock.
create function rolepass.count_role_jobs() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  change record;
begin
  if tg_op = 'INSERT' then
    select
      count(*) filter (where n.status in ('pending', 'running') and n.last_error is null) as pending,
      count(*) filter (where n.status in ('pending', 'running') and n.last_error is not null)
        as failing,
      count(*) filter (where n.status = 'running') as running,
      count(*) filter (where n.status = 'failed') as failed
    into change from new_jobs n;
  elsif tg_op = 'DELETE' then
    select
      -count(*) filter (where o.status in ('pending', 'running') and o.last_error is null)
        as pending,
      -count(*) filter (where o.status in ('pending', 'running') and o.last_error is not null)
        as failing,
      -count(*) filter (where o.status = 'running') as running,
      -count(*) filter (where o.status = 'failed') as failed
    into change from old_jobs o;
  else
    select
      coalesce(sum(d.sign) filter (where d.status in ('pending', 'running') and not d.erred), 0)
        as pending,
      coalesce(sum(d.sign) filter (where d.status in ('pending', 'running') and d.erred), 0)
        as failing,
      coalesce(sum(d.sign) filter (where d.status = 'running'), 0) as running,
      coalesce(sum(d.sign) filter (where d.status = 'failed'), 0) as failed
    into change
    from (
      select n.status, n.last_error is not null as erred, 1 as sign from new_jobs n
      union all
      select o.status, o.last_error is not null, -1 from old_jobs o
    ) d;
  end if;
  if change.pending <> 0 or change.failing <> 0 or change.running <> 0 or change.failed <> 0 then
    insert into rolepass.role_job_counts as c (shard, pending, failing, running, failed)
    values (pg_backend_pid() % 64, change.pending, change.failing, change.running, change.failed)
    on conflict (shard) do update set
      pending = c.pending + excluded.pending,
      failing = c.failing + excluded.failing,
      running = c.running + excluded.running,
      failed = c.failed + excluded.failed;
  end if;
  return null;
end;
$$;
revoke execute on function rolepass.count_role_jobs() from public, anon, authenticated;

create function rolepass.reset_role_job_counts() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from rolepass.role_job_counts;
  return null;
end;
$$;
revoke execute on function rolepass.reset_role_job_counts() from public, anon, authenticated;

-- One statement, so no change to role_jobs lands between the triggers' start and the counts
-- taken from its rows.
do $$
begin
  lock table rolepass.role_jobs in share row exclusive mode;
  create trigger role_jobs_count_inserts after insert on rolepass.role_jobs
    referencing new table as new_jobs
    for each statement execute function rolepass.count_role_jobs();
  create trigger role_jobs_count_updates after update on rolepass.role_jobs
    referencing old table as old_jobs new table as new_jobs
    for each statement execute function rolepass.count_role_jobs();
  create trigger role_jobs_count_deletes after delete on rolepass.role_jobs
    referencing old table as old_jobs
    for each statement execute function rolepass.count_role_jobs();
  create trigger role_jobs_count_truncates after truncate on rolepass.role_jobs
    for each statement execute function rolepass.reset_role_job_counts();
  -- Bulk loads run with session_replication_role = replica to skip the wake-up and history
  -- triggers; the counters must still follow them.
  alter table rolepass.role_jobs enable always trigger role_jobs_count_inserts;
  alter table rolepass.role_jobs enable always trigger role_jobs_count_updates;
  alter table rolepass.role_jobs enable always trigger role_jobs_count_deletes;
  alter table rolepass.role_jobs enable always trigger role_jobs_count_truncates;

  insert into rolepass.role_job_counts (shard, pending, failing, running, failed)
  select 0,
    count(*) filter (where j.status in ('pending', 'running') and j.last_error is null),
    count(*) filter (where j.status in ('pending', 'running') and j.last_error is not null),
    count(*) filter (where j.status = 'running'),
    count(*) filter (where j.status = 'failed')
  from rolepass.role_jobs j;
end;
$$;

-- The oldest open job is the first entry of this index, however many jobs wait.
create index role_jobs_open_created_at_idx on rolepass.role_jobs (created_at)
  where status in ('pending', 'running');

-- Same columns as before; the counts are the kept ones, the age one index read.
create or replace view rolepass.role_job_queue_status
with (security_invoker = true)
as
select
  kept.pending,
  kept.failing,
  kept.failed,
  kept.running,
  oldest.oldest_open_at,
  now() - oldest.oldest_open_at as oldest_open_age
from (
  select
    coalesce(sum(c.pending), 0)::bigint as pending,
    coalesce(sum(c.failing), 0)::bigint as failing,
    coalesce(sum(c.failed), 0)::bigint as failed,
    coalesce(sum(c.running), 0)::bigint as running
  from rolepass.role_job_counts c
) kept
cross join (
  select min(j.created_at) as oldest_open_at
  from rolepass.role_jobs j
  where j.status in ('pending', 'running')
) oldest;

-- the close ----------------------------------------------------------------------------------------
-- The month's subscription ends, a few hundred among 100,000 paid invoices at 100,000 members.
create index money_ledger_subscription_ends_idx on rolepass.money_ledger (guild_id, occurred_at)
  where kind = 'subscription_ended';

-- The month's facts are read once, narrow; the cancellations look up the starts of this month's
-- subscription ends only (the hashed lookup of every start in the guild's history, 100,000 rows
-- at 100,000 members, is gone), and the statement is not JIT-compiled.
create or replace function rolepass.close_period(closing_guild_id text, closing_month date)
returns table(outcome text, detail text)
language plpgsql
security definer
set search_path = ''
-- One bounded statement over a month of facts: compiling it (about 0.3 s measured at 100,000
-- members) costs more than it saves. A generic plan (PL/pgSQL's choice after five calls in one
-- session) took 2 s where the month's own plan took 0.3 s; planning once a month is free.
set jit = off
set plan_cache_mode = force_custom_plan
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
  with facts as not materialized (
    -- Only the columns the figures need; not materialized, so the month's rows are aggregated as
    -- they are read (no copy spilled to disk) and `ended` reads its own index.
    select l.is_adjustment, l.fact_month, l.plan_id, l.currency, l.stripe_price_id, l.kind,
      l.amount, l.starts_subscription, l.stripe_object_id
    from rolepass.money_ledger l
    where l.guild_id = closing_guild_id
      and l.occurred_at >= month_start and l.occurred_at < month_end
      and l.period_month = closing_month
    union all
    select l.is_adjustment, l.fact_month, l.plan_id, l.currency, l.stripe_price_id, l.kind,
      l.amount, l.starts_subscription, l.stripe_object_id
    from rolepass.money_ledger l
    where l.guild_id = closing_guild_id and l.is_adjustment and l.period_month = closing_month
  ),
  sums as (
    select f.is_adjustment, f.fact_month, f.plan_id, f.currency,
      min(f.stripe_price_id) as stripe_price_id,
      coalesce(sum(f.amount) filter (where f.kind = 'invoice_paid'), 0) as gross,
      coalesce(sum(f.amount) filter (where f.kind = 'refund'), 0) as refunds,
      coalesce(sum(f.amount) filter (where f.kind = 'dispute'), 0)
        - coalesce(sum(f.amount) filter (where f.kind = 'dispute_won'), 0) as disputes,
      count(*) filter (where f.kind = 'invoice_paid' and f.starts_subscription)::integer
        as starts
    from facts f
    group by 1, 2, 3, 4
  ),
  -- A subscription end counts as a cancellation when its start is in the ledger: one index
  -- lookup per end of this month, rather than a hash of every start the guild ever had.
  ended as (
    select f.is_adjustment, f.fact_month, f.plan_id, f.currency, count(*)::integer as cancellations
    from facts f
    where f.kind = 'subscription_ended'
      and exists (
        select 1 from rolepass.money_ledger s
        where s.stripe_subscription_id = f.stripe_object_id and s.starts_subscription
        offset 0
      )
    group by 1, 2, 3, 4
  ),
  grouped as (
    select case when s.is_adjustment then 'adjustment' else 'period' end as row_kind,
      s.fact_month, s.plan_id, s.currency, s.stripe_price_id, s.gross, s.refunds, s.disputes,
      s.starts, coalesce(e.cancellations, 0) as cancellations
    from sums s
    left join ended e on e.is_adjustment = s.is_adjustment and e.fact_month = s.fact_month
      and e.plan_id = s.plan_id and e.currency = s.currency
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

-- membership history keeps what changed ------------------------------------------------------------
-- A history row kept two full copies of the membership (old_row, new_row) although an update
-- changes one or two columns; with about 12 rows per member a year and 7 years kept, the copies
-- were most of the table. `changes` keeps {column: [old, new]} for the columns that differ (an
-- insert's columns with null old values, a delete's with null new values); the status, entitlement
-- and plan columns stay, before and after, as the readers filter on them.
create function rolepass.membership_changes(old_row jsonb, new_row jsonb) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(k.key, jsonb_build_array(old_row -> k.key, new_row -> k.key)),
    '{}'::jsonb)
  from (
    select jsonb_object_keys(coalesce(old_row, '{}'::jsonb) || coalesce(new_row, '{}'::jsonb))
      as key
  ) k
  where coalesce(old_row -> k.key, 'null'::jsonb) <> coalesce(new_row -> k.key, 'null'::jsonb);
$$;
revoke execute on function rolepass.membership_changes(jsonb, jsonb)
  from public, anon, authenticated;

alter table rolepass.membership_history add column changes jsonb;
update rolepass.membership_history h
  set changes = rolepass.membership_changes(h.old_row, h.new_row);
alter table rolepass.membership_history
  alter column changes set not null,
  drop column old_row,
  drop column new_row;
comment on column rolepass.membership_history.changes is
  'The columns this change touched, as {column: [old, new]} (updated_at left out).';

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
  row_changes jsonb := rolepass.membership_changes(old_row, new_row);
begin
  if row_changes = '{}'::jsonb then
    return null;
  end if;
  insert into rolepass.membership_history (
    membership_id, guild_id, discord_user_id, operation, cause, stripe_event_id,
    old_status, new_status, old_entitled, new_entitled, old_plan_id, new_plan_id, changes
  ) values (
    changed.id, changed.guild_id, changed.discord_user_id, tg_op,
    case when tg_op = 'DELETE' then 'deleted' else changed.change_cause end,
    case when tg_op = 'DELETE' then null else changed.change_event_id end,
    old_row ->> 'status', new_row ->> 'status',
    (old_row ->> 'entitled')::boolean, (new_row ->> 'entitled')::boolean,
    (old_row ->> 'plan_id')::uuid, (new_row ->> 'plan_id')::uuid,
    row_changes
  );
  return null;
end;
$$;
