-- Facts the core decides, stored by the sync and read here instead of being decided again
-- (functions/_core/subscription_state.ts and entitlement.ts):
-- - memberships.subscription_live: whether the member holds a subscription to manage rather than
--   buy again; /subscribe's choice between the manage and the join link reads it.
-- - memberships.cancel_at: when a scheduled cancel takes effect in either billing mode (the sync
--   already folds cancel_at_period_end into it), so nothing here folds it again.
-- - memberships.deleted_at goes: nothing ever wrote it. A membership is the anchor of the one
--   Stripe customer of a (guild, member), reused after a cancel (DESIGN.md invariant 2), and its
--   history table keeps every change, so there is no delete to record.

alter table rolepass.memberships
  add column subscription_live boolean not null default false;

comment on column rolepass.memberships.subscription_live is
  'Whether the member holds a subscription to manage rather than buy again, as the core decides '
  'it (functions/_core/subscription_state.ts holdsLiveSubscription); written by the sync only.';

-- A one-time backfill of rows the sync wrote before it stored the fact, with the rule the
-- subscribe link applied until now; from here on only the sync writes the column.
update rolepass.memberships m
  set subscription_live = true,
    change_cause = 'subscription_facts_backfill',
    change_event_id = null
  where not m.subscription_live
    and (m.entitled or (m.stripe_subscription_id is not null
      and m.status in ('active', 'trialing', 'past_due', 'unpaid', 'paused')));

update rolepass.memberships m
  set cancel_at = m.current_period_end,
    change_cause = 'subscription_facts_backfill',
    change_event_id = null
  where m.cancel_at is null and m.cancel_at_period_end and m.current_period_end is not null;

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
      'interval_count', p.interval_count
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
  end if;

  if purpose = 'manage' and membership.entitled then
    -- The interaction's roles are the truth when Discord sent them; without them, a member whose
    -- last role job found them gone from the server is the one case known to lack the role.
    role_missing := case
      when member_role_ids is not null
        then not (membership.entitled_role_id = any (member_role_ids))
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
        cause)
      values (membership.id, membership.guild_id, membership.discord_user_id, true,
        membership.entitled_role_id, 'member_asked_role_missing');
    end if;
  end if;

  insert into rolepass.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale, expires_at)
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
    'membership', case when purpose = 'manage' then jsonb_build_object(
      'entitled', membership.entitled,
      'status', membership.status,
      'plan', membership_plan,
      'current_period_end', membership.current_period_end,
      'cancel_at', membership.cancel_at
    ) end
  );
end;
$$;

create or replace function rolepass.enqueue_role_repairs(
  target_guild_id text,
  repairs jsonb,
  max_jobs integer,
  spacing_ms integer
)
returns integer
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
        and membership.entitled_role_id = repair.role_id);
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        cause, next_attempt_at)
      values (membership.id, target_guild_id, repair.user_id, true, repair.role_id,
        'reconciliation_missing_role',
        now() + make_interval(secs => (queued + 1) * spacing_ms / 1000.0));
    elsif repair.action = 'remove' then
      continue when membership.entitled
        and membership.entitled_role_id = repair.role_id;
      continue when exists (
        select 1 from rolepass.role_comps c
        where c.guild_id = target_guild_id and c.discord_user_id = repair.user_id
          and c.discord_role_id = repair.role_id
          and (c.expires_at is null or c.expires_at > now()));
      insert into rolepass.role_jobs (membership_id, guild_id, discord_user_id, entitled, role_id,
        previous_role_id, cause, next_attempt_at, notice_status)
      values (membership.id, target_guild_id, repair.user_id,
        membership.entitled,
        membership.entitled_role_id,
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

alter table rolepass.memberships drop column deleted_at;
