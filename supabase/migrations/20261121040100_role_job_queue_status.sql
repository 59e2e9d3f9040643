-- The role-job queue at a glance, for operators and for the role-sync health check:
--   pending  = due or waiting jobs that have not failed yet;
--   failing  = jobs still being retried after at least one failure (last_error is set);
--   failed   = jobs that gave up (a permanent Discord error or too many attempts);
--   running  = jobs claimed by role-sync right now (a subset of pending + failing);
--   oldest_open_age = how long the oldest open (pending or running) job has waited.
-- security_invoker, so reading the view checks the caller's rights on role_jobs: only
-- service_role, which bypasses RLS, sees anything.

create view public.role_job_queue_status
with (security_invoker = true)
as
select
  count(*) filter (where status in ('pending', 'running') and last_error is null) as pending,
  count(*) filter (where status in ('pending', 'running') and last_error is not null) as failing,
  count(*) filter (where status = 'failed') as failed,
  count(*) filter (where status = 'running') as running,
  min(created_at) filter (where status in ('pending', 'running')) as oldest_open_at,
  now() - min(created_at) filter (where status in ('pending', 'running')) as oldest_open_age
from public.role_jobs;

comment on view public.role_job_queue_status is
  'Counts of pending, failing, failed and running role jobs and the age of the oldest open one. Read by service_role only.';

revoke all on public.role_job_queue_status from public, anon, authenticated;
grant select on public.role_job_queue_status to service_role;
