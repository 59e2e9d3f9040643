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
