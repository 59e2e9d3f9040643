-- Several roles per plan (issue 14 item 4). A plan grants a set of roles, granted and revoked
-- together; a membership stores the set of roles its subscriptions give now (decided by the core,
-- functions/_core/entitlement.ts rolesGrantedBy and unionOfRoles), and each role job names the sets
-- before and after the change, so role-sync adds what the member should hold and removes only the
-- managed roles they should not: a role two plans share, or a plan and a comp, is never removed
-- while one of them still gives it.
--
-- `plans.discord_role_id` and `memberships.entitled_role_id` stay, as the first role of each set
-- (the role messages name): a BEFORE trigger keeps each equal to its set's first element, and a
-- writer that still writes only the single role (the entitlement sweep) sets a set of one.

alter table rolepass.plans
  add column discord_role_ids rolepass.discord_snowflake[];
update rolepass.plans set discord_role_ids = array[discord_role_id];
alter table rolepass.plans
  alter column discord_role_ids set not null,
  add constraint plans_discord_role_ids_check
    check (cardinality(discord_role_ids) between 1 and 25
      and discord_role_ids[1] = discord_role_id);
comment on column rolepass.plans.discord_role_ids is
  'Every role the plan grants while paid, the first one named in messages (= discord_role_id). Written by plans:apply.';

alter table rolepass.memberships
  add column entitled_role_ids rolepass.discord_snowflake[] not null default '{}';
update rolepass.memberships set entitled_role_ids = array[entitled_role_id]
  where entitled_role_id is not null;
alter table rolepass.memberships
  add constraint memberships_entitled_role_ids_check
    check (entitled_role_id is not distinct from entitled_role_ids[1]);
comment on column rolepass.memberships.entitled_role_ids is
  'The roles the member''s subscriptions give now, as the core decided (empty when none); the first is entitled_role_id. Written by the Stripe sync.';

alter table rolepass.role_jobs
  add column role_ids text[] not null default '{}',
  add column previous_role_ids text[] not null default '{}',
  add column roles_applied_role_ids text[];
comment on column rolepass.role_jobs.role_ids is
  'The roles the membership gave when the job was queued; role_id is the first.';
comment on column rolepass.role_jobs.previous_role_ids is
  'The roles it gave before the change; previous_role_id is the first.';

-- Keeps a plan's named role and its role set in step, whichever of the two a writer sets.
create function rolepass.keep_plan_role_set() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if new.discord_role_ids is null or cardinality(new.discord_role_ids) = 0 then
      new.discord_role_ids := array[new.discord_role_id];
    end if;
  elsif new.discord_role_ids is not distinct from old.discord_role_ids
    and new.discord_role_id is distinct from old.discord_role_id then
    new.discord_role_ids := array[new.discord_role_id];
  end if;
  new.discord_role_id := new.discord_role_ids[1];
  return new;
end;
$$;
revoke execute on function rolepass.keep_plan_role_set() from public, anon, authenticated;

create trigger plans_keep_role_set
  before insert or update on rolepass.plans
  for each row execute function rolepass.keep_plan_role_set();

-- Keeps a membership's named role and its role set in step, whichever of the two a writer sets.
create function rolepass.keep_membership_role_set() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    if cardinality(new.entitled_role_ids) = 0 and new.entitled_role_id is not null then
      new.entitled_role_ids := array[new.entitled_role_id];
    end if;
  elsif new.entitled_role_ids is not distinct from old.entitled_role_ids
    and new.entitled_role_id is distinct from old.entitled_role_id then
    new.entitled_role_ids := case when new.entitled_role_id is null then '{}'
      else array[new.entitled_role_id] end;
  end if;
  new.entitled_role_id := new.entitled_role_ids[1];
  return new;
end;
$$;
revoke execute on function rolepass.keep_membership_role_set()
  from public, anon, authenticated;

create trigger memberships_keep_role_set
  before insert or update on rolepass.memberships
  for each row execute function rolepass.keep_membership_role_set();

-- Every role rolepass may have given a member: each role any of the membership's role jobs named.
create function rolepass.managed_role_ids(target_membership_id uuid) returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(distinct r order by r), '{}') from (
    select j.role_id as r from rolepass.role_jobs j where j.membership_id = target_membership_id
    union all select j.previous_role_id from rolepass.role_jobs j
      where j.membership_id = target_membership_id
    union all select unnest(j.role_ids) from rolepass.role_jobs j
      where j.membership_id = target_membership_id
    union all select unnest(j.previous_role_ids) from rolepass.role_jobs j
      where j.membership_id = target_membership_id
  ) roles where r is not null;
$$;
revoke execute on function rolepass.managed_role_ids(uuid) from public, anon, authenticated;
grant execute on function rolepass.managed_role_ids(uuid) to service_role;

-- A job is queued whenever the entitlement or the role set changes, naming both sets.
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
    and old.entitled_role_ids is not distinct from new.entitled_role_ids then
    return null;
  end if;
  insert into rolepass.role_jobs (
    membership_id, guild_id, discord_user_id, entitled, role_id, previous_role_id, role_ids,
    previous_role_ids, cause
  ) values (
    new.id, new.guild_id, new.discord_user_id, new.entitled, new.entitled_role_id,
    case when tg_op = 'UPDATE' then old.entitled_role_id end,
    new.entitled_role_ids,
    case when tg_op = 'UPDATE' then old.entitled_role_ids else '{}' end,
    coalesce(new.change_event_id, new.change_cause)
  );
  return null;
end;
$$;

drop trigger memberships_enqueue_role_job on rolepass.memberships;
create trigger memberships_enqueue_role_job
  after insert or update of entitled, entitled_role_id, entitled_role_ids
  on rolepass.memberships
  for each row execute function rolepass.enqueue_role_job();

-- Records that a job's role calls succeeded, leaving the member with `applied_role_ids`.
create function rolepass.record_role_job_role_set_applied(
  job_id bigint,
  claim uuid,
  applied_role_ids text[]
) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.role_jobs
    set roles_applied_at = now(), roles_applied_role_ids = applied_role_ids,
      roles_applied_role_id = applied_role_ids[1]
    where id = job_id and claim_id = claim and status = 'running';
  return found;
end;
$$;
revoke execute on function rolepass.record_role_job_role_set_applied(bigint, uuid, text[])
  from public, anon, authenticated;
grant execute on function rolepass.record_role_job_role_set_applied(bigint, uuid, text[])
  to service_role;

-- A plan whose roles change moves the members it entitles to the new set at once (see
-- 20261202000902_plan_role_swap.sql); members whose set is not the plan's (a trial's, or a union
-- with another subscription's) move at their next Stripe event or reconciliation.
create or replace function rolepass.swap_plan_role()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update rolepass.memberships m
    set entitled_role_ids = new.discord_role_ids,
      change_cause = 'plan_role_changed',
      change_event_id = null
    where m.plan_id = new.id and m.entitled
      and m.entitled_role_ids = old.discord_role_ids;
  return null;
end;
$$;

drop trigger plans_swap_role on rolepass.plans;
create trigger plans_swap_role
  after update of discord_role_id, discord_role_ids on rolepass.plans
  for each row when (old.discord_role_ids is distinct from new.discord_role_ids)
  execute function rolepass.swap_plan_role();

-- Reconciliation's repairs, with sets: a grant only of a role the membership gives now, a removal
-- never of one it gives or a comp holds.
create or replace function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer
) returns integer
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
      continue when not (membership.entitled
        and repair.role_id = any (membership.entitled_role_ids));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        role_ids, cause, next_attempt_at)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        membership.entitled_role_ids, 'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0));
    elsif repair.action = 'remove' then
      continue when membership.entitled
        and repair.role_id = any (membership.entitled_role_ids);
      continue when exists (
        select 1 from rolepass.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        previous_role_id, role_ids, previous_role_ids, cause, next_attempt_at, notice_status)
      values (membership.id, target_guild_id, repair.user_id,
        membership.entitled,
        membership.entitled_role_id,
        repair.role_id, membership.entitled_role_ids, array[repair.role_id],
        'reconciliation_unpaid_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0), 'not_sent');
    else
      continue;
    end if;
    queued := queued + 1;
  end loop;
  return queued;
end;
$$;

-- The member's timeline (20261202002201_timeline_notices.sql), with sets: a plan change that keeps
-- the same roles is told here, one that changes them by the role job.
create or replace function rolepass.queue_membership_notices() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild rolepass.guilds;
  display jsonb;
  member_payload jsonb;
  operator_payload jsonb;
  -- Each change is told once: a replayed event leaves the row unchanged and fires nothing here.
  change text := coalesce(new.change_event_id, gen_random_uuid()::text);
  still_held boolean := old.entitled and new.entitled;
begin
  select * into guild from rolepass.guilds g where g.id = new.guild_id;
  select p.display into display from rolepass.plans p where p.id = new.plan_id;
  member_payload := jsonb_build_object('guildName', guild.name, 'plan', display);
  operator_payload := jsonb_build_object('memberId', new.discord_user_id,
    'planName', rolepass.plan_name(display, guild.default_locale));

  if new.status = 'past_due' and old.status is distinct from 'past_due' then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'payment_failed',
      new.locale, member_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'payment_failed:' || new.id || ':' || change);
    perform rolepass.enqueue_operator_notice(new.guild_id, 'payment_failed',
      operator_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'op:payment_failed:' || new.id || ':' || change);
  elsif old.status in ('past_due', 'unpaid') and new.status in ('active', 'trialing') then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id,
      'payment_recovered', new.locale, member_payload,
      'payment_recovered:' || new.id || ':' || change);
  end if;

  if still_held and old.cancel_at is null and new.cancel_at is not null then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'cancel_scheduled',
      new.locale, member_payload || jsonb_build_object('at', new.cancel_at),
      'cancel_scheduled:' || new.id || ':' || change);
    perform rolepass.enqueue_operator_notice(new.guild_id, 'cancellation_scheduled',
      operator_payload || jsonb_build_object('at', new.cancel_at),
      'op:cancellation_scheduled:' || new.id || ':' || change);
  elsif still_held and old.cancel_at is not null and new.cancel_at is null then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'cancel_undone',
      new.locale, member_payload, 'cancel_undone:' || new.id || ':' || change);
  end if;

  -- A plan change that changes the roles is told by the role job; one that keeps them, here.
  if still_held and old.plan_id is distinct from new.plan_id
    and old.entitled_role_ids = new.entitled_role_ids then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'plan_changed',
      new.locale, member_payload, 'plan_changed:' || new.id || ':' || change);
  end if;
  return null;
end;
$$;
