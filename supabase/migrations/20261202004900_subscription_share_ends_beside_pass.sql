-- A subscription's share of the roles ends at the minute's sweep when its deadline passes without
-- Stripe's event (a scheduled cancel, the end of the guild's grace) while a pass keeps the
-- membership entitled: the membership's end is the latest of its grants' (none for a lifetime
-- pass), so the whole expiry of the sweep never came for it and the subscription's roles (a trial
-- role, a paid role no pass gives) stayed for good. The facts read are the ones the sync stores
-- (cancel_at, past_due_since, the plan an entitled membership names), as rolepass.end_pass reads
-- them (20261202004800_end_pass_reads_stored_facts.sql).

create index memberships_cancel_due_idx on rolepass.memberships (cancel_at)
  where entitled and cancel_at is not null;
create index memberships_past_due_since_idx on rolepass.memberships (past_due_since)
  where entitled and past_due_since is not null;

-- The roles of the membership's passes that still run.
create function rolepass.live_pass_role_ids(p_membership_id uuid) returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(distinct r), '{}')
  from rolepass.member_passes x
  join rolepass.plans p on p.id = x.plan_id
  cross join unnest(p.discord_role_ids::text[]) as r
  where x.membership_id = p_membership_id and x.status = 'active'
    and (x.access_until is null or x.access_until > now());
$$;
revoke execute on function rolepass.live_pass_role_ids(uuid) from public, anon, authenticated;

-- Keeps of membership `p_membership_id`'s roles only those its live passes give. Returns whether
-- the membership changed.
create function rolepass.end_subscription_share(p_membership_id uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
  kept text[];
  remaining text[];
begin
  select * into membership from rolepass.memberships m
    where m.id = p_membership_id and m.entitled
    for update;
  if not found then
    return false;
  end if;
  kept := rolepass.live_pass_role_ids(membership.id);
  remaining := array(
    select r from unnest(membership.entitled_role_ids::text[]) with ordinality as h (r, position)
    where r = any (kept)
    order by position
  );
  if cardinality(remaining) = cardinality(membership.entitled_role_ids) then
    return false;
  end if;
  update rolepass.memberships m
    set entitled_role_ids = remaining::rolepass.discord_snowflake[],
      entitled = cardinality(remaining) > 0,
      entitled_until = case when cardinality(remaining) > 0 then m.entitled_until end,
      change_cause = case when m.cancel_at is not null and m.cancel_at <= now()
        then 'scheduled_cancel_took_effect' else 'grace_period_ended' end,
      change_event_id = null
    where m.id = membership.id;
  return true;
end;
$$;
revoke execute on function rolepass.end_subscription_share(uuid) from public, anon, authenticated;

create or replace function rolepass.expire_entitlements(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended_pass_id uuid;
  ended_share_id uuid;
  expired integer := 0;
  whole integer;
begin
  for ended_pass_id in
    update rolepass.member_passes x set ended_at = now()
      where x.id in (
        select due.id from rolepass.member_passes due
        where due.ended_at is null and due.access_until <= now()
        order by due.access_until
        limit greatest(max_rows, 0)
        for update skip locked
      )
      returning x.id
  loop
    if rolepass.end_pass(ended_pass_id) then
      expired := expired + 1;
    end if;
  end loop;

  -- A subscription past its deadline beside a pass that still runs: the pass keeps its roles.
  for ended_share_id in
    select due.id from rolepass.memberships due
    join rolepass.guilds g on g.id = due.guild_id
    join rolepass.plans q on q.id = due.plan_id and q.access_kind = 'subscription'
    where due.entitled
      and (due.cancel_at <= now() or due.past_due_since + g.past_due_grace <= now())
      and (due.entitled_until is null or due.entitled_until > now())
      and exists (
        select from unnest(due.entitled_role_ids::text[]) as r
        where not r = any (rolepass.live_pass_role_ids(due.id)))
      and cardinality(rolepass.live_pass_role_ids(due.id)) > 0
    order by due.id
    limit greatest(max_rows, 0)
    for update of due skip locked
  loop
    if rolepass.end_subscription_share(ended_share_id) then
      expired := expired + 1;
    end if;
  end loop;

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
  get diagnostics whole = row_count;
  return expired + whole;
end;
$$;
