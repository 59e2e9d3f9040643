-- The end of a one-time pass (issue 14 item 3), at the minute's sweep:
-- - Its roles that no other grant of the member holds go at once, also beside a subscription that
--   renews (whose entitlement has no end, so until now the pass's extra roles stayed until the
--   member's next Stripe event). The other grants: the member's other live passes (a renewal of
--   the same pass among them), the subscription while it entitles (its trial roles while it
--   trials with some), and a second subscription the membership does not name, read from the roles
--   held as plan role swaps read it (20261202004201_plan_role_swap_every_member.sql).
-- - The member is told that the pass ended and how to buy it again (member notice 'pass_ended',
--   once per pass), not that a subscription ended: the role job the change queues says nothing.
-- The rest of the sweep is as before (20261202001500_private_schema.sql): an entitlement whose end
-- passed without a pass ending it (a scheduled cancel, a grace period) ends whole.

alter table rolepass.member_passes add column ended_at timestamptz;
comment on column rolepass.member_passes.ended_at is
  'When the sweep took the pass''s roles out of its membership after access_until; null while it lasts. Written by rolepass.expire_entitlements.';
-- Passes that ended before the sweep knew of them were ended by the entitlement's end: no message.
update rolepass.member_passes set ended_at = access_until where access_until <= now();
create index member_passes_running_out_idx on rolepass.member_passes (access_until)
  where ended_at is null and access_until is not null;

-- Takes the roles of the pass `ended_pass_id`, which just ran out, out of its membership unless
-- another grant holds them, and tells the member. Returns whether the membership changed.
create function rolepass.end_pass(ended_pass_id uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  pass rolepass.member_passes;
  membership rolepass.memberships;
  guild rolepass.guilds;
  pass_plan rolepass.plans;
  held text[];
  kept text[];
  released text[];
  remaining text[];
begin
  select * into strict pass from rolepass.member_passes x where x.id = ended_pass_id;
  -- A refunded or disputed pass gave its roles up when Stripe said so.
  if pass.status <> 'active' then
    return false;
  end if;
  select * into strict pass_plan from rolepass.plans p where p.id = pass.plan_id;
  select * into membership from rolepass.memberships m
    where m.id = pass.membership_id and m.entitled
    for update;
  if not found then
    return false;
  end if;
  select * into strict guild from rolepass.guilds g where g.id = membership.guild_id;
  held := membership.entitled_role_ids::text[];
  kept := array(
    select unnest(p.discord_role_ids)::text
    from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
    where x.membership_id = membership.id and x.id <> pass.id and x.status = 'active'
      and (x.access_until is null or x.access_until > now())
    union
    select unnest(case when membership.status = 'trialing' and q.trial_role_ids is not null
      then q.trial_role_ids else q.discord_role_ids end)::text
    from rolepass.plans q
    where q.id = membership.plan_id and q.access_kind = 'subscription'
      and membership.subscription_live
      and membership.status in ('active', 'trialing', 'past_due')
      and (membership.status <> 'past_due'
        or membership.past_due_since + guild.past_due_grace > now())
      and (membership.cancel_at is null or membership.cancel_at > now())
    union
    select unnest(q.discord_role_ids)::text
    from rolepass.plans q
    where q.guild_id = membership.guild_id and q.access_kind = 'subscription'
      and q.id is distinct from membership.plan_id
      and q.discord_role_ids::text[] <@ held
      and not q.discord_role_ids::text[] <@ pass_plan.discord_role_ids::text[]
  );
  released := array(
    select r from unnest(pass_plan.discord_role_ids::text[]) as r
    where r = any (held) and not r = any (kept)
  );
  if cardinality(released) = 0 then
    return false;
  end if;
  remaining := array(
    select r from unnest(held) with ordinality as h (r, position)
    where not r = any (released)
    order by position
  );
  update rolepass.memberships m
    set entitled_role_ids = remaining::rolepass.discord_snowflake[],
      entitled = cardinality(remaining) > 0,
      entitled_until = case when cardinality(remaining) > 0 then m.entitled_until end,
      change_cause = 'pass_ended',
      change_event_id = null
    where m.id = membership.id;
  -- The change's role job tells nothing: the pass's own message below says what ended.
  update rolepass.role_jobs j set notice_status = 'not_sent'
    where j.membership_id = membership.id and j.cause = 'pass_ended'
      and j.status = 'pending' and j.notice_status is null;
  perform rolepass.enqueue_member_notice(membership.guild_id, membership.discord_user_id,
    'pass_ended', membership.locale, jsonb_build_object('guildName', guild.name,
      'plan', pass_plan.display, 'at', pass.access_until, 'roleIds', to_jsonb(released)),
    'pass_ended:' || pass.id);
  return true;
end;
$$;
revoke execute on function rolepass.end_pass(uuid) from public, anon, authenticated;

create or replace function rolepass.expire_entitlements(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  ended_pass_id uuid;
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
