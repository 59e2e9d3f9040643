-- Discord-side reconciliation (invariant 10): a periodic pass per guild compares the roles
-- members really hold with their entitlement and queues the role jobs that repair the
-- difference. An HTTP-only bot hears of no rejoin and no role edited by hand, so reading the
-- guild is the only way to see them.
--
-- * guilds say how often (`reconcile_interval`, default 30 minutes) and what to do with a paid
--   role held without paying (`role_drift_policy`: 'report', the default, or 'remove');
-- * role_comps lists roles an operator gave by hand, which 'remove' never takes;
-- * guild_reconciliations keeps, per guild, when the pass runs next, where a pass that ran out
--   of time stopped, what the last pass found, and whether the operator was told it stopped;
-- * pg_cron wakes role-sync's /reconcile route for each guild that is due, with start times
--   spread over the interval so guilds do not all start at once.

-- guild settings ----------------------------------------------------------------------------------
alter table public.guilds
  add column reconcile_interval interval not null default interval '30 minutes'
    check (reconcile_interval >= interval '5 minutes'),
  add column role_drift_policy text not null default 'report'
    check (role_drift_policy in ('report', 'remove'));

-- comps -------------------------------------------------------------------------------------------
create table public.role_comps (
  guild_id text not null references public.guilds (id) on delete cascade,
  discord_user_id text not null check (discord_user_id ~ '^[0-9]{17,20}$'),
  discord_role_id text not null check (discord_role_id ~ '^[0-9]{17,20}$'),
  -- Why the operator gave it (shown in the drift report), e.g. 'moderator', 'prize'.
  reason text not null check (length(reason) between 1 and 200),
  -- Null: until the operator deletes the row.
  expires_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (guild_id, discord_user_id, discord_role_id)
);
comment on table public.role_comps is
  'Paid roles an operator gave a member by hand; reconciliation never removes them while they last. Read and written by service_role only.';

-- reconciliation state ----------------------------------------------------------------------------
create table public.guild_reconciliations (
  guild_id text primary key references public.guilds (id) on delete cascade,
  next_run_at timestamptz not null,
  -- idle: never ran; in_progress: a pass stopped for time and resumes from resume_after;
  -- completed: the last pass read every member; deferred: the guild's live role jobs were due,
  -- so the pass waited; stopped: Discord refused to show the guild's members (the bot lost its
  -- access or permissions), the operator was told once, and the next pass tries again.
  status text not null default 'idle'
    check (status in ('idle', 'in_progress', 'completed', 'deferred', 'stopped')),
  -- list: every member read in pages (Server Members intent); known_members: without the
  -- intent, only the members rolepass knows, one by one (roles given to strangers go unseen).
  mode text check (mode in ('list', 'known_members')),
  resume_after text check (resume_after ~ '^[0-9]{1,20}$'),
  started_at timestamptz,
  finished_at timestamptz,
  members_checked integer not null default 0 check (members_checked >= 0),
  missing_roles integer not null default 0 check (missing_roles >= 0),
  unpaid_roles integer not null default 0 check (unpaid_roles >= 0),
  comped integer not null default 0 check (comped >= 0),
  repairs_queued integer not null default 0 check (repairs_queued >= 0),
  -- Up to 100 of the differences found, for the operator: [{kind, userId, roleId, ...}].
  findings jsonb not null default '[]'::jsonb check (jsonb_typeof(findings) = 'array'),
  last_error text,
  -- Set when the operator is told the pass stopped; cleared when a pass completes again.
  alerted_at timestamptz,
  updated_at timestamptz not null default now()
);
create index guild_reconciliations_next_run_at_idx on public.guild_reconciliations (next_run_at);
comment on table public.guild_reconciliations is
  'Per guild: when the reconciliation pass runs next, where it stopped and what it found. Read and written by service_role only.';

create trigger guild_reconciliations_touch before update on public.guild_reconciliations
  for each row execute function public.touch_updated_at();

alter table public.role_comps enable row level security;
alter table public.guild_reconciliations enable row level security;
revoke all on public.role_comps, public.guild_reconciliations from public, anon, authenticated;
grant select, insert, update, delete on public.role_comps, public.guild_reconciliations
  to service_role;

-- queueing repairs --------------------------------------------------------------------------------
-- Queues the role jobs of `repairs` ([{action: 'grant'|'remove', userId, roleId}]) for
-- `target_guild_id`, at most `max_jobs`, and returns how many it queued. Each is checked again
-- against the membership as it is now (the pass read Discord a moment ago). A member with an open
-- job is skipped: that job re-reads the membership and a repair behind it would hold it up.
-- Repairs are due one `spacing_ms` after another, so a live job, due now, is claimed before every
-- repair not yet due: live jobs first, repairs with what is left of the guild's role budget.
-- A removal tells nobody (notice 'not_sent'): the member never paid, or was told at the revoke.
-- Role jobs belong to a membership, so someone who never paid gets one (no customer, not
-- entitled) for their removal.
create function public.enqueue_role_repairs(
  target_guild_id text, repairs jsonb, max_jobs integer, spacing_ms integer
) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  repair record;
  membership public.memberships;
  queued integer := 0;
begin
  for repair in
    select r.action, r."userId" as user_id, r."roleId" as role_id
    from jsonb_to_recordset(repairs) as r (action text, "userId" text, "roleId" text)
  loop
    exit when queued >= max_jobs;
    continue when repair.user_id !~ '^[0-9]{17,20}$' or repair.role_id !~ '^[0-9]{17,20}$';
    if repair.action = 'remove' then
      insert into public.memberships (guild_id, discord_user_id, change_cause)
        values (target_guild_id, repair.user_id, 'reconciliation')
        on conflict (guild_id, discord_user_id) do nothing;
    end if;
    select * into membership from public.memberships m
      where m.guild_id = target_guild_id and m.discord_user_id = repair.user_id;
    continue when not found;
    continue when exists (
      select 1 from public.role_jobs j
      where j.membership_id = membership.id and j.status in ('pending', 'running'));
    if repair.action = 'grant' then
      continue when not (membership.entitled and membership.deleted_at is null
        and membership.entitled_role_id = repair.role_id);
      insert into public.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        cause, next_attempt_at)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0));
    elsif repair.action = 'remove' then
      continue when membership.entitled and membership.deleted_at is null
        and membership.entitled_role_id = repair.role_id;
      continue when exists (
        select 1 from public.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into public.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
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
revoke execute on function public.enqueue_role_repairs(text, jsonb, integer, integer)
  from public, anon, authenticated;
grant execute on function public.enqueue_role_repairs(text, jsonb, integer, integer)
  to service_role;

-- waking the pass ---------------------------------------------------------------------------------
-- Posts {guild_id} to role-sync's /reconcile route (Vault's role_sync_url plus '/reconcile', the
-- same shared secret). Like request_role_sync, a missing configuration or a failure to queue the
-- request never fails the caller. Returns the pg_net request id, or null.
create function public.request_reconciliation(target_guild_id text) returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  target_url text;
  shared_secret text;
  request_id bigint;
begin
  select decrypted_secret into target_url
    from vault.decrypted_secrets where name = 'role_sync_url';
  select decrypted_secret into shared_secret
    from vault.decrypted_secrets where name = 'role_sync_secret';
  if coalesce(target_url, '') = '' or coalesce(shared_secret, '') = '' then
    raise log 'rolepass: role_sync_url or role_sync_secret missing from Vault; no reconciliation';
    return null;
  end if;
  select net.http_post(
    url := rtrim(target_url, '/') || '/reconcile',
    body := jsonb_build_object('guild_id', target_guild_id),
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'x-rolepass-secret', shared_secret
    ),
    timeout_milliseconds := 5000
  ) into request_id;
  return request_id;
exception when others then
  raise warning 'rolepass: could not queue the reconciliation request: %', sqlerrm;
  return null;
end;
$$;
revoke execute on function public.request_reconciliation(text) from public, anon, authenticated;

-- What pg_cron runs every minute: gives each guild a state row whose first run falls at a point
-- of its interval that depends on its id (so guilds are spread over the interval), then wakes
-- the pass for at most `max_guilds` guilds that are due, pushing their next run one interval on
-- (a pass that stops early brings it forward itself). Returns how many guilds it woke.
create function public.schedule_reconciliations(max_guilds integer default 20) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  due record;
  woken integer := 0;
begin
  insert into public.guild_reconciliations (guild_id, next_run_at)
    select g.id, now() + make_interval(secs =>
        mod(abs(hashtext(g.id))::bigint, greatest(extract(epoch from g.reconcile_interval), 1)::bigint))
    from public.guilds g
    on conflict (guild_id) do nothing;
  for due in
    select r.guild_id, g.reconcile_interval
    from public.guild_reconciliations r
    join public.guilds g on g.id = r.guild_id
    where r.next_run_at <= now()
    order by r.next_run_at
    limit greatest(max_guilds, 0)
    for update of r skip locked
  loop
    update public.guild_reconciliations
      set next_run_at = now() + due.reconcile_interval
      where guild_id = due.guild_id;
    perform public.request_reconciliation(due.guild_id);
    woken := woken + 1;
  end loop;
  return woken;
end;
$$;
revoke execute on function public.schedule_reconciliations(integer)
  from public, anon, authenticated;
grant execute on function public.schedule_reconciliations(integer) to service_role;

select cron.schedule('rolepass-reconcile', '* * * * *',
  'select public.schedule_reconciliations()');
