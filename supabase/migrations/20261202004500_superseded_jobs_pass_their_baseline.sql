-- A member's entitlement that flips twice before role-sync runs (revoke then grant, or grant then
-- revoke) leaves two open jobs; the claim supersedes the older one and does the newest. The newest
-- job's previous roles were those of the flip just before it, not what Discord last saw, so the
-- member was told of a change Discord never saw ("granted" again, or "removed" for a role never
-- held). The claim now gives the newest job the baseline of the oldest job it supersedes: the roles
-- that job's recorded calls left, or else the roles it said the member had before it.
create or replace function rolepass.claim_member_role_job(member uuid, lease_seconds integer)
returns rolepass.role_jobs
language plpgsql
security definer
set search_path = ''
as $$
declare
  newest rolepass.role_jobs;
  oldest rolepass.role_jobs;
  baseline text[];
begin
  -- Held until this transaction ends; a concurrent claimer of the same member skips it.
  if not pg_try_advisory_xact_lock(20261121, hashtext(member::text)) then
    return null;
  end if;
  -- Each statement sees a fresh snapshot: a claim committed after the caller's query shows here.
  if exists (
    select 1 from rolepass.role_jobs r
    where r.membership_id = member and r.status = 'running' and r.lease_expires_at > now()
  ) then
    return null;
  end if;
  select * into newest from rolepass.role_jobs r
    where r.membership_id = member and r.status in ('pending', 'running')
    order by r.id desc limit 1
    for update;
  if not found or newest.next_attempt_at > now() then
    return null;
  end if;
  select * into oldest from rolepass.role_jobs r
    where r.membership_id = member and r.status in ('pending', 'running') and r.id < newest.id
    order by r.id asc limit 1;
  if found then
    baseline := case
      when oldest.roles_applied_at is not null then coalesce(oldest.roles_applied_role_ids::text[],
        case when oldest.roles_applied_role_id is null then '{}'::text[]
          else array[oldest.roles_applied_role_id::text] end)
      when cardinality(oldest.previous_role_ids) > 0 then oldest.previous_role_ids::text[]
      when oldest.previous_role_id is not null then array[oldest.previous_role_id::text]
      else '{}'::text[]
    end;
    update rolepass.role_jobs
      set status = 'done', outcome = 'superseded', done_at = now(), lease_expires_at = null,
        claim_id = null
      where membership_id = member and status in ('pending', 'running') and id < newest.id;
    update rolepass.role_jobs
      set previous_role_ids = baseline, previous_role_id = baseline[1]
      where id = newest.id;
  end if;
  update rolepass.role_jobs
    set status = 'running', attempts = attempts + 1, claim_id = gen_random_uuid(),
      lease_expires_at = now() + make_interval(secs => lease_seconds)
    where id = newest.id
    returning * into newest;
  return newest;
end;
$$;
revoke execute on function rolepass.claim_member_role_job(uuid, integer)
  from public, anon, authenticated, service_role;
