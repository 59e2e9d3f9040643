-- What a Stripe subscription status means is decided once, in the core
-- (functions/_core/subscription_state.ts, read by entitlement.ts), and the database reads the
-- facts the core decided and the sync stored instead of naming statuses again (issue 17). Until
-- now the plan role swap and a pass's end read `status = 'trialing'` to pick a plan's trial roles,
-- the notices read the status's transitions to tell a failed and a recovered renewal, and the
-- sweep, the grace reminder and the trial-ending message named 'past_due' or 'trialing'. Two facts
-- are stored on the membership beside subscription_live and past_due_since:
-- - plan_role_set: which of its plan's role sets the membership's subscription gives, 'trial'
--   while it is in its trial and 'paid' otherwise (also with no subscription);
-- - payment_standing: 'good' (paid up, or in a trial), 'failed' (a renewal failed and is still
--   unpaid) or 'none' (neither, or no subscription).
-- A failed renewal is read from past_due_since, which the core sets while a renewal is past due,
-- and only then. A one-time pass taken back by a refund or dispute is read from taken_back, a
-- column generated from the pass's own status (its vocabulary shares the word 'active' with
-- Stripe's). Behaviour does not change.

alter table rolepass.memberships
  add column plan_role_set text not null default 'paid'
    check (plan_role_set in ('paid', 'trial')),
  add column payment_standing text not null default 'none'
    check (payment_standing in ('good', 'failed', 'none'));
comment on column rolepass.memberships.plan_role_set is
  'Which of its plan''s role sets the membership''s subscription gives: ''trial'' while it is in '
  'its trial, ''paid'' otherwise, as the core decides it (functions/_core/subscription_state.ts '
  'storedStatusFacts); written by the sync only. The default is what no subscription means.';
comment on column rolepass.memberships.payment_standing is
  'Where the member''s payments stand: ''good'' (paid up or in a trial), ''failed'' (a renewal '
  'failed and is still unpaid) or ''none'', as the core decides it '
  '(functions/_core/subscription_state.ts storedStatusFacts); written by the sync only.';

alter table rolepass.member_passes
  add column taken_back boolean generated always as (status <> 'active') stored;
comment on column rolepass.member_passes.taken_back is
  'Whether a refund or dispute took the pass back (its status is ''refunded'' or ''disputed''): '
  'such a pass gives no role.';

-- A one-time backfill of the rows written before the facts were stored, with the core's meaning
-- of each status (subscription_state.ts STATUS_MEANINGS); from here on only the sync writes them.
-- past_due_since is made to follow the status where an old row disagrees (none is known to).
update rolepass.memberships m
  set plan_role_set = case when m.status = 'trialing' then 'trial' else 'paid' end,
    payment_standing = case when m.status in ('active', 'trialing') then 'good'
      when m.status in ('past_due', 'unpaid') then 'failed' else 'none' end,
    past_due_since = case when m.status = 'past_due'
      then coalesce(m.past_due_since, m.updated_at) end,
    change_cause = 'status_facts_backfill',
    change_event_id = null
  where m.plan_role_set is distinct from
      case when m.status = 'trialing' then 'trial' else 'paid' end
    or m.payment_standing is distinct from
      case when m.status in ('active', 'trialing') then 'good'
        when m.status in ('past_due', 'unpaid') then 'failed' else 'none' end
    or (m.status = 'past_due') is distinct from (m.past_due_since is not null);

-- The sync reads the two facts back, so an unchanged membership is still left unwritten (newest
-- before: 20261203000100_sync_inputs_cached_plans.sql; otherwise as it was).
create or replace function rolepass.stripe_sync_inputs(
  p_membership_id uuid,
  p_subscription_ids text[]
)
returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
    select jsonb_build_object(
      'id', m.id, 'guild_id', m.guild_id, 'stripe_customer_id', m.stripe_customer_id,
      'stripe_subscription_id', m.stripe_subscription_id, 'plan_id', m.plan_id,
      'status', m.status, 'current_period_end', m.current_period_end, 'cancel_at', m.cancel_at,
      'cancel_at_period_end', m.cancel_at_period_end, 'past_due_since', m.past_due_since,
      'entitled', m.entitled, 'entitled_role_ids', m.entitled_role_ids,
      'entitled_until', m.entitled_until, 'revoked_reason', m.revoked_reason,
      'subscription_live', m.subscription_live, 'trial_started_at', m.trial_started_at,
      'plan_role_set', m.plan_role_set, 'payment_standing', m.payment_standing,
      'past_due_grace_ms', (extract(epoch from g.past_due_grace) * 1000)::float8,
      'refund_policy', g.refund_policy, 'dispute_policy', g.dispute_policy,
      'plans', coalesce((
        select jsonb_agg(jsonb_build_object('id', p.id, 'stripe_price_id', p.stripe_price_id,
          'discord_role_ids', p.discord_role_ids, 'trial_role_ids', p.trial_role_ids)
          order by p.id)
        from rolepass.plans p where p.guild_id = m.guild_id
      ), '[]'::jsonb),
      'revocations', coalesce((
        select jsonb_agg(jsonb_build_object('stripe_subscription_id', r.stripe_subscription_id,
          'reason', r.reason, 'stripe_object_id', r.stripe_object_id,
          'covers_period_end', r.covers_period_end)
          order by r.reason, r.stripe_object_id)
        from rolepass.stripe_subscription_revocations r
        where r.stripe_subscription_id = any(p_subscription_ids) and r.status = 'in_force'
      ), '[]'::jsonb),
      'passes', coalesce((
        select jsonb_agg(jsonb_build_object('plan_id', x.plan_id, 'role_ids', p.discord_role_ids,
          'status', x.status, 'access_until', x.access_until)
          order by x.plan_id, x.access_until)
        from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
        where x.membership_id = m.id
      ), '[]'::jsonb))
    from rolepass.memberships m
    join rolepass.guilds g on g.id = m.guild_id
    where m.id = p_membership_id
  );
end;
$$;

-- The webhook's one-statement apply writes the two facts with the rest, a first trial's start still
-- in the same update (newest before: 20261202005900_trial_start_recorded_with_its_cause.sql;
-- otherwise as it was).
create or replace function rolepass.apply_stripe_customer_read(
  p_event jsonb,
  p_customer_id text,
  p_read_seq bigint,
  p_subscription_ids text[],
  p_membership_ids uuid[],
  p_inputs_md5 text,
  p_next jsonb,
  p_trial_started_at timestamptz
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_membership_id uuid;
  v_inputs jsonb;
  v_next rolepass.memberships;
begin
  perform pg_advisory_xact_lock(hashtextextended('stripe_customer:' || p_customer_id, 0));
  -- Each statement below sees what committed before the lock was granted (read committed), so a
  -- delivery of the same event that finished while this one waited is seen as done.
  if exists (select from rolepass.stripe_events e
      where e.id = p_event->>'id' and e.status in ('processed', 'ignored')) then
    return jsonb_build_object('result', 'duplicate');
  end if;

  v_membership_id := rolepass.lock_stripe_sync_membership(p_customer_id, p_membership_ids);
  v_inputs := rolepass.stripe_sync_inputs(v_membership_id, p_subscription_ids);
  if md5(v_inputs::text) is distinct from p_inputs_md5 then
    return jsonb_build_object('result', 'conflict', 'inputs', v_inputs,
      'inputs_md5', md5(v_inputs::text));
  end if;
  if v_membership_id is null then
    return jsonb_build_object('result', 'not_rolepass');
  end if;

  insert into rolepass.stripe_events as e
    (id, type, api_version, livemode, status, processed_at, attempts, last_error)
  values (p_event->>'id', p_event->>'type', p_event->>'api_version',
    (p_event->>'livemode')::boolean, 'processed', now(), 1, null)
  on conflict (id) do update set status = 'processed', processed_at = excluded.processed_at,
    attempts = e.attempts + 1, last_error = null
  where e.status in ('received', 'failed');

  insert into rolepass.stripe_customer_reads as r (stripe_customer_id, read_seq)
  values (p_customer_id, p_read_seq)
  on conflict (stripe_customer_id) do update
    set read_seq = excluded.read_seq, applied_at = now()
  where r.read_seq <= excluded.read_seq;
  if not found then
    return jsonb_build_object('result', 'stale');
  end if;

  if p_next is not null then
    v_next := jsonb_populate_record(null::rolepass.memberships, p_next);
    update rolepass.memberships m set
      stripe_customer_id = p_customer_id,
      stripe_subscription_id = v_next.stripe_subscription_id,
      plan_id = v_next.plan_id,
      status = v_next.status,
      current_period_end = v_next.current_period_end,
      cancel_at = v_next.cancel_at,
      cancel_at_period_end = v_next.cancel_at_period_end,
      past_due_since = v_next.past_due_since,
      entitled = v_next.entitled,
      entitled_role_ids = v_next.entitled_role_ids,
      entitled_until = v_next.entitled_until,
      revoked_reason = v_next.revoked_reason,
      subscription_live = v_next.subscription_live,
      plan_role_set = v_next.plan_role_set,
      payment_standing = v_next.payment_standing,
      trial_started_at = coalesce(p_trial_started_at, m.trial_started_at),
      change_cause = v_next.change_cause,
      change_event_id = v_next.change_event_id,
      stripe_synced_at = now()
    where m.id = v_membership_id;
  end if;
  return jsonb_build_object('result', 'applied');
end;
$$;

-- The plan role swap picks a trial's roles by the stored role set (newest before:
-- 20261202005050_plan_trial_roles_reach_roleless_trials.sql; otherwise as it was).
create or replace function rolepass.swap_plan_role()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  with affected as (
    select m.id, m.plan_id = new.id as names_plan, m.entitled_role_ids::text[] as held,
      case when m.plan_id = new.id and m.plan_role_set = 'trial' and old.trial_role_ids is not null
        then old.trial_role_ids else old.discord_role_ids end::text[] as given_before,
      case when m.plan_id = new.id and m.plan_role_set = 'trial' and new.trial_role_ids is not null
        then new.trial_role_ids else new.discord_role_ids end::text[] as given_after,
      array(
        select unnest(p.discord_role_ids)::text
        from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
        where x.membership_id = m.id and x.plan_id <> new.id and not x.taken_back
          and (x.access_until is null or x.access_until > now())
        union
        select unnest(case when m.plan_role_set = 'trial' and q.trial_role_ids is not null
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
        or (m.plan_id = new.id and m.plan_role_set = 'trial' and m.subscription_live
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
          where x.membership_id = m.id and x.plan_id = new.id and not x.taken_back
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

-- A pass's end picks a trial's roles by the stored role set (newest before:
-- 20261202004800_end_pass_reads_stored_facts.sql; otherwise as it was).
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
  if pass.taken_back then
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
    where x.membership_id = membership.id and x.id <> pass.id and not x.taken_back
      and (x.access_until is null or x.access_until > now())
    union
    -- The subscription's roles while it entitles: an entitled membership names a subscription's
    -- plan only when that subscription gives roles (a pass names its own plan otherwise), and the
    -- subscription stops at its scheduled cancel or at the end of its grace period.
    select unnest(case when membership.plan_role_set = 'trial' and q.trial_role_ids is not null
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

-- A pass that was taken back gives nothing (newest before:
-- 20261202004900_subscription_share_ends_beside_pass.sql; otherwise as it was).
create or replace function rolepass.live_pass_role_ids(p_membership_id uuid) returns text[]
language sql
stable
set search_path = ''
as $$
  select coalesce(array_agg(distinct r), '{}')
  from rolepass.member_passes x
  join rolepass.plans p on p.id = x.plan_id
  cross join unnest(p.discord_role_ids::text[]) as r
  where x.membership_id = p_membership_id and not x.taken_back
    and (x.access_until is null or x.access_until > now());
$$;

-- The notices tell a failed and a recovered renewal from the stored facts (newest before:
-- 20261202004650_role_sets_compared_as_sets.sql; otherwise as it was).
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

  -- A renewal failed: the core sets past_due_since while a renewal is past due, and only then.
  if new.past_due_since is not null and old.past_due_since is null then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'payment_failed',
      new.locale, member_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'payment_failed:' || new.id || ':' || change);
    perform rolepass.enqueue_operator_notice(new.guild_id, 'payment_failed',
      operator_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'op:payment_failed:' || new.id || ':' || change);
  elsif old.payment_standing = 'failed' and new.payment_standing = 'good' then
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

-- The grace reminder finds a renewal past due by past_due_since (newest before:
-- 20261202002201_timeline_notices.sql; otherwise as it was).
create or replace function rolepass.remind_grace_ending(max_rows integer default 1000)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  reminded integer := 0;
  member record;
begin
  for member in
    select m.id, m.guild_id, m.discord_user_id, m.locale, m.entitled_until, m.past_due_since,
      g.name as guild_name, p.display
    from rolepass.memberships m
    join rolepass.guilds g on g.id = m.guild_id
    left join rolepass.plans p on p.id = m.plan_id
    where m.entitled and m.past_due_since is not null and m.entitled_until is not null
      and m.entitled_until > now()
      and m.entitled_until - now() <= least(interval '24 hours',
        (m.entitled_until - coalesce(m.past_due_since, now())) / 2)
    order by m.entitled_until
    limit greatest(max_rows, 0)
  loop
    if rolepass.enqueue_member_notice(member.guild_id, member.discord_user_id, 'grace_ending',
      member.locale, jsonb_build_object('guildName', member.guild_name, 'plan', member.display,
        'at', member.entitled_until),
      'grace_ending:' || member.id || ':' || coalesce(member.past_due_since::text, '')) is not null
    then
      reminded := reminded + 1;
    end if;
  end loop;
  return reminded;
end;
$$;

-- The trial-ending message goes to a membership in its trial (newest before:
-- 20261202002203_trial_ending_notice.sql; otherwise as it was).
create or replace function rolepass.queue_trial_ending_notice(
  target_membership_id uuid,
  event_id text
)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  membership rolepass.memberships;
  guild_name text;
  display jsonb;
begin
  select * into membership from rolepass.memberships m where m.id = target_membership_id;
  if not found or membership.plan_role_set <> 'trial' then
    return null;
  end if;
  select g.name into guild_name from rolepass.guilds g where g.id = membership.guild_id;
  select p.display into display from rolepass.plans p where p.id = membership.plan_id;
  return rolepass.enqueue_member_notice(membership.guild_id, membership.discord_user_id,
    'trial_ending', membership.locale,
    jsonb_build_object('guildName', guild_name, 'plan', display,
      'at', membership.current_period_end),
    'trial_ending:' || event_id);
end;
$$;

-- The sweep names the grace's end by past_due_since (newest before:
-- 20261202004900_subscription_share_ends_beside_pass.sql; otherwise as it was).
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
      change_cause = case when m.past_due_since is not null
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

-- /subscribe names a pass that was not taken back (newest before:
-- 20261202005051_subscribe_repairs_pass_roles.sql; otherwise as it was).
create or replace function rolepass.open_subscribe_link(
  interaction_id text,
  guild_id text,
  discord_user_id text,
  locale text,
  link_token_hash bytea,
  link_token_ttl_seconds integer,
  application_id text,
  interaction_token text,
  member_role_ids text[]
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild_name text;
  active_plans jsonb;
  membership rolepass.memberships;
  membership_plan jsonb;
  live_pass jsonb;
  purpose text;
  role_missing boolean := false;
  link_expires_at timestamptz := now() + make_interval(secs => link_token_ttl_seconds);
begin
  -- Claimed first, in the same transaction as everything stored below: of two copies of one
  -- interaction, even racing each other, only the first gets a link or stores its token.
  insert into rolepass.handled_interactions (id) values (open_subscribe_link.interaction_id)
    on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'already_handled');
  end if;

  select g.name into guild_name from rolepass.guilds g where g.id = open_subscribe_link.guild_id;
  if not found then
    return jsonb_build_object('outcome', 'no_plan', 'guild_name', null);
  end if;

  select coalesce(jsonb_agg(jsonb_build_object(
      'id', p.id,
      'display', p.display,
      'unit_amount', p.unit_amount,
      'currency', p.currency,
      'billing_interval', p.billing_interval,
      'interval_count', p.interval_count,
      'access_kind', p.access_kind,
      'access_seconds', extract(epoch from p.access_duration)
    ) order by p.sort_order, p.created_at, p.id), '[]'::jsonb)
    into active_plans
    from rolepass.plans p
    where p.guild_id = open_subscribe_link.guild_id and p.active;
  if jsonb_array_length(active_plans) = 0 then
    return jsonb_build_object('outcome', 'no_plan', 'guild_name', guild_name);
  end if;

  select * into membership from rolepass.memberships m
    where m.guild_id = open_subscribe_link.guild_id
      and m.discord_user_id = open_subscribe_link.discord_user_id;

  -- Whether the member holds a live subscription is decided once, in the core, and stored by the
  -- sync (functions/_core/subscription_state.ts, holdsLiveSubscription).
  if found and membership.subscription_live then
    purpose := 'manage';
    select jsonb_build_object('id', p.id, 'display', p.display) into membership_plan
      from rolepass.plans p where p.id = membership.plan_id;
  else
    purpose := 'join';
    -- A pass holder buys again from the join link: the reply says what they hold and until when.
    if found then
      select jsonb_build_object('display', p.display, 'access_until', x.access_until)
        into live_pass
        from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
        where x.membership_id = membership.id and not x.taken_back
          and (x.access_until is null or x.access_until > now())
        order by x.access_until desc nulls first
        limit 1;
    end if;
  end if;

  -- A pass holder's membership entitles too (purpose 'join'): their missing role is repaired
  -- alike. `membership` is all nulls when the member has none.
  if membership.entitled then
    -- The interaction's roles are the truth when Discord sent them; without them, a member whose
    -- last role job found them gone from the server is the one case known to lack the role.
    role_missing := case
      when member_role_ids is not null
        then not (membership.entitled_role_ids::text[] <@ member_role_ids)
      else coalesce((
        select j.outcome = 'member_not_in_guild' from rolepass.role_jobs j
        where j.membership_id = membership.id and j.status = 'done'
          and j.outcome is distinct from 'superseded'
        order by j.id desc limit 1), false)
    end;
    -- An open job re-reads the membership when it runs and gives the role anyway.
    if role_missing and not exists (
      select 1 from rolepass.role_jobs j
      where j.membership_id = membership.id and j.status in ('pending', 'running')
    ) then
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        role_ids, cause)
      values (membership.id, membership.guild_id, membership.discord_user_id, true,
        membership.entitled_role_id, membership.entitled_role_ids, 'member_asked_role_missing');
    end if;
  end if;

  insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale,
    expires_at)
  values (link_token_hash, purpose, open_subscribe_link.guild_id,
    open_subscribe_link.discord_user_id, open_subscribe_link.locale, link_expires_at);

  -- Discord interaction tokens live 15 minutes; role-sync uses the latest one for its follow-up.
  insert into rolepass.interaction_tokens (guild_id, discord_user_id, application_id, token,
    expires_at)
  values (open_subscribe_link.guild_id, open_subscribe_link.discord_user_id,
    open_subscribe_link.application_id, interaction_token, now() + interval '15 minutes')
  on conflict on constraint interaction_tokens_pkey do update
    set application_id = excluded.application_id, token = excluded.token,
      expires_at = excluded.expires_at, created_at = now();

  return jsonb_build_object(
    'outcome', purpose,
    'guild_name', guild_name,
    'plans', active_plans,
    'link_expires_at', link_expires_at,
    'role_repair', role_missing,
    'pass', live_pass,
    'membership', case when purpose = 'manage' then jsonb_build_object(
      'entitled', membership.entitled,
      'revoked_reason', membership.revoked_reason,
      'entitled_until', membership.entitled_until,
      'status', membership.status,
      'plan', membership_plan,
      'current_period_end', membership.current_period_end,
      'cancel_at', membership.cancel_at
    ) end
  );
end;
$$;
