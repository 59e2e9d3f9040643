-- rolepass.end_pass reads the facts the sync stored instead of deciding again which subscription
-- statuses entitle (functions/_core/subscription_state.ts decides that, once). Behaviour is as in
-- 20261202004203_pass_end.sql: the sync writes a subscription's plan on an entitled membership only
-- while that subscription entitles with roles (functions/_shared/one_time_passes.ts foldPasses:
-- otherwise the longest live pass's plan), so the status list and subscription_live it read were
-- always true there; past_due_since is the core's fact, set only while a renewal is past due. It
-- still reads 'trialing' to pick a plan's trial roles, as the plan role swap does
-- (20261202004201_plan_role_swap_every_member.sql).

create or replace function rolepass.end_pass(ended_pass_id uuid) returns boolean
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
    -- The subscription's roles while it entitles: an entitled membership names a subscription's
    -- plan only when that subscription gives roles (a pass names its own plan otherwise), and the
    -- subscription stops at its scheduled cancel or at the end of its grace period.
    select unnest(case when membership.status = 'trialing' and q.trial_role_ids is not null
      then q.trial_role_ids else q.discord_role_ids end)::text
    from rolepass.plans q
    where q.id = membership.plan_id and q.access_kind = 'subscription'
      and (membership.past_due_since is null
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
