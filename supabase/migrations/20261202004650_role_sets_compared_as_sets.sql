-- A membership's roles are a set (issue 11): the order of `entitled_role_ids` only says which role
-- messages name first, and Discord sees no order. A change that only reordered them (the named
-- role moving from a pass's role to the subscription's) queued a role job, and a plan change that
-- kept the roles in another order was told neither as a plan change nor as a role change. Both
-- triggers now compare the sets, with one helper, as the core does (role_plan.ts sameRoleSet).

-- Whether two role lists hold the same roles, whatever their order or repeats.
create function rolepass.same_role_set(a text[], b text[]) returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(a, '{}') <@ coalesce(b, '{}') and coalesce(b, '{}') <@ coalesce(a, '{}');
$$;
revoke execute on function rolepass.same_role_set(text[], text[])
  from public, anon, authenticated;

-- 20261202003300_plan_role_sets.sql, with the roles compared as sets.
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
    and rolepass.same_role_set(old.entitled_role_ids::text[], new.entitled_role_ids::text[]) then
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

-- 20261202003300_plan_role_sets.sql, with the roles compared as sets.
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
    and rolepass.same_role_set(old.entitled_role_ids::text[], new.entitled_role_ids::text[]) then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'plan_changed',
      new.locale, member_payload, 'plan_changed:' || new.id || ':' || change);
  end if;
  return null;
end;
$$;
