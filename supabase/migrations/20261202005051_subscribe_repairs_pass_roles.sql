-- /subscribe repairs a pass holder's missing role too (issue 14): a member who holds only a
-- one-time pass gets the join link (a pass is no subscription to manage), and the repair ran
-- only beside the manage link, so a pass's role lost on Discord stayed lost. The repair now
-- follows the membership's entitlement, whichever link the member gets. Otherwise the newest
-- definition (20261202004200_subscribe_repair_role_sets.sql).

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
        where x.membership_id = membership.id and x.status = 'active'
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
