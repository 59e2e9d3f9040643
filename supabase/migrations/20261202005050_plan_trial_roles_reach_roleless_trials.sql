-- A plan whose trial roles change reaches the members trialing it who held no role (issue 14):
-- a trial that granted none until the first payment leaves the membership not entitled, so the
-- swap (20261202004201_plan_role_swap_every_member.sql), which moved entitled members only,
-- passed them by when the plan's trial came to grant roles (its own, or the paid ones). They are
-- moved now like any trialing member, and the membership's end follows what it holds.

create or replace function rolepass.swap_plan_role()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  with affected as (
    select m.id, m.plan_id = new.id as names_plan, m.entitled_role_ids::text[] as held,
      case when m.plan_id = new.id and m.status = 'trialing' and old.trial_role_ids is not null
        then old.trial_role_ids else old.discord_role_ids end::text[] as given_before,
      case when m.plan_id = new.id and m.status = 'trialing' and new.trial_role_ids is not null
        then new.trial_role_ids else new.discord_role_ids end::text[] as given_after,
      array(
        select unnest(p.discord_role_ids)::text
        from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
        where x.membership_id = m.id and x.plan_id <> new.id and x.status = 'active'
          and (x.access_until is null or x.access_until > now())
        union
        select unnest(case when m.status = 'trialing' and q.trial_role_ids is not null
          then q.trial_role_ids else q.discord_role_ids end)::text
        from rolepass.plans q
        where q.id = m.plan_id and q.id <> new.id and q.access_kind = 'subscription'
          and m.subscription_live
        union
        select unnest(q.discord_role_ids)::text
        from rolepass.plans q
        where q.guild_id = m.guild_id and q.id <> new.id and q.access_kind = 'subscription'
          and q.discord_role_ids::text[] <@ m.entitled_role_ids::text[]
      ) as kept
    from rolepass.memberships m
    where m.guild_id = new.guild_id
      and (m.entitled
        -- Trialing this plan with a live subscription that entitles but gave no role (a trial
        -- that grants none until the first payment): the new trial roles reach it too.
        or (m.plan_id = new.id and m.status = 'trialing' and m.subscription_live
          and m.revoked_reason is null and (m.cancel_at is null or m.cancel_at > now())))
      and (
        (m.plan_id = new.id and new.access_kind = 'subscription')
        -- A second subscription, to this plan, that the membership does not name: the member
        -- holds all of the plan's roles and the membership's own plan does not give them.
        or (new.access_kind = 'subscription'
          and old.discord_role_ids::text[] <@ m.entitled_role_ids::text[]
          and not exists (
            select 1 from rolepass.plans q
            where q.id = m.plan_id
              and old.discord_role_ids::text[] <@ q.discord_role_ids::text[]))
        or exists (
          select 1 from rolepass.member_passes x
          where x.membership_id = m.id and x.plan_id = new.id and x.status = 'active'
            and (x.access_until is null or x.access_until > now()))
      )
  ),
  moved as (
    select a.id, array(
      select role_id from unnest(
        case when a.names_plan then a.given_after || kept_held.roles
          else kept_held.roles || a.given_after end
      ) with ordinality as r (role_id, position)
      group by role_id
      order by min(position)
    ) as role_ids
    from affected a
    cross join lateral (
      select coalesce(array_agg(h.role_id order by h.position), '{}') as roles
      from unnest(a.held) with ordinality as h (role_id, position)
      where h.role_id = any (a.given_after) or h.role_id = any (a.kept)
        or not h.role_id = any (a.given_before)
    ) kept_held
  )
  update rolepass.memberships m
    set entitled_role_ids = moved.role_ids::rolepass.discord_snowflake[],
      entitled = cardinality(moved.role_ids) > 0,
      -- As the core stores it (entitlement.ts membershipRolesOf): a trial entitles until its
      -- scheduled cancel, and a membership that holds no role has no end.
      entitled_until = case when cardinality(moved.role_ids) = 0 then null
        when m.entitled then m.entitled_until else m.cancel_at end,
      change_cause = 'plan_role_changed',
      change_event_id = null
    from moved
    where m.id = moved.id and m.entitled_role_ids::text[] is distinct from moved.role_ids;
  return null;
end;
$$;
