-- Live role jobs first (issue 16 item 1). A role job is live when one member's own change caused
-- it (a Stripe event, by webhook or its catch-up; the checkout success page; /subscribe's role
-- repair; an admin's resync, grant or revoke), bulk otherwise (plans:apply role swaps,
-- reconciliation repairs, the expiry sweeps, stripe:resync, imports, backfills). The claim takes
-- due live jobs first, oldest first, through a partial index over open live jobs only (its cost
-- does not grow with a bulk backlog), then fills the batch with the fair round-robin by guild
-- (20261202001500_private_schema.sql), so a member who just paid is not queued behind a turn of
-- every guild and behind their own guild's backlog. One job per member in flight holds for both.

alter table rolepass.role_jobs add column live boolean not null default false;
comment on column rolepass.role_jobs.live is
  'Whether one member''s own change caused the job (claimed before bulk work); set on insert from the cause (rolepass.role_job_cause_is_live) or by the writer.';

-- The causes of live jobs: a Stripe event id (the webhook, or the hourly catch-up of one it
-- missed), and the single-member paths that queue without one. Any other cause is bulk, as every
-- job was before: a new bulk path can never jump the queue by omission.
create function rolepass.role_job_cause_is_live(cause text) returns boolean
language sql
immutable
set search_path = ''
as $$
  select cause like 'evt\_%' or cause in ('checkout_success_page', 'admin_resync',
    'member_asked_role_missing', 'comp_granted', 'comp_revoked');
$$;
revoke execute on function rolepass.role_job_cause_is_live(text) from public, anon, authenticated;

create function rolepass.mark_live_role_job() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.live := new.live or rolepass.role_job_cause_is_live(new.cause);
  return new;
end;
$$;
revoke execute on function rolepass.mark_live_role_job() from public, anon, authenticated;

create trigger role_jobs_mark_live
  before insert on rolepass.role_jobs
  for each row execute function rolepass.mark_live_role_job();

-- Only open live jobs: a handful, whatever the bulk backlog.
create index role_jobs_live_due_idx on rolepass.role_jobs (next_attempt_at)
  where live and status in ('pending', 'running');

-- Reconciliation's repairs (20261202003300_plan_role_sets.sql), with `live` for a repair one
-- member's own request queues (an admin resync that finds the role missing in Discord).
create function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer,
  live boolean
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  repair record;
  membership rolepass.memberships;
  queued integer := 0;
  queue_live boolean := coalesce(enqueue_role_repairs.live, false);
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
      continue when not (membership.entitled
        and repair.role_id = any (membership.entitled_role_ids));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        role_ids, cause, next_attempt_at, live)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        membership.entitled_role_ids, 'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), queue_live);
    elsif repair.action = 'remove' then
      continue when membership.entitled
        and repair.role_id = any (membership.entitled_role_ids);
      continue when exists (
        select 1 from rolepass.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        previous_role_id, role_ids, previous_role_ids, cause, next_attempt_at, notice_status, live)
      values (membership.id, target_guild_id, repair.user_id,
        membership.entitled,
        membership.entitled_role_id,
        repair.role_id, membership.entitled_role_ids, array[repair.role_id],
        'reconciliation_unpaid_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), 'not_sent',
        queue_live);
    else
      continue;
    end if;
    queued := queued + 1;
  end loop;
  return queued;
end;
$$;
revoke execute on function rolepass.enqueue_role_repairs(text, jsonb, integer, integer, boolean)
  from public, anon, authenticated;
grant execute on function rolepass.enqueue_role_repairs(text, jsonb, integer, integer, boolean)
  to service_role;

-- Reconciliation's own call: bulk.
create or replace function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer
) returns integer
language sql
security definer
set search_path = ''
as $$
  select rolepass.enqueue_role_repairs(target_guild_id, repairs, max_jobs, spacing_ms, false);
$$;

-- Claims the newest open job of `member` when none of theirs is in flight and it is due, and
-- supersedes the member's older open jobs; null when another claimer has the member or the job
-- is not due. Held until the caller's transaction ends (claim_role_jobs).
create function rolepass.claim_member_role_job(member uuid, lease_seconds integer)
returns rolepass.role_jobs
language plpgsql
security definer
set search_path = ''
as $$
declare
  newest rolepass.role_jobs;
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
  update rolepass.role_jobs
    set status = 'done', outcome = 'superseded', done_at = now(), lease_expires_at = null,
      claim_id = null
    where membership_id = member and status in ('pending', 'running') and id < newest.id;
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
  -- Live jobs first, oldest due first, read through role_jobs_live_due_idx (open live jobs only).
  -- A guild whose role bucket is spent is left to the round-robin below, which puts it last.
  for candidate in
    select j.membership_id
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
    limit greatest(max_jobs, 1) + 32
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

  -- Then the bulk work, round-robin by guild from the cursor (unchanged but for the batch left).
  wanted := greatest(max_jobs - taken, 1) + 32;
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
