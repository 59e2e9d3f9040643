-- /subscribe in one database round trip, and the cleanup that keeps interaction tokens only while
-- they live.
--
-- Discord gives an interaction 3 seconds for its initial response, cold start included, so the
-- discord-interactions function asks the database exactly once: this function reads the guild's
-- active plans and the member's membership, decides which link the member gets, stores the hash of
-- the link token and keeps the interaction token for the role-sync follow-up.

-- Which link a member gets: the Customer Portal ("manage") when they are entitled or still hold a
-- live Stripe subscription (a failed renewal, a paused or refunded one is fixed in the portal, and a
-- second Checkout would start a second live subscription); the plan page ("join") otherwise.
-- Returns {outcome: 'no_plan' | 'join' | 'manage', guild_name, plans, membership, link_expires_at}.
create function public.open_subscribe_link(
  guild_id text,
  discord_user_id text,
  locale text,
  link_token_hash bytea,
  link_token_ttl_seconds integer,
  application_id text,
  interaction_token text
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild_name text;
  active_plans jsonb;
  membership public.memberships;
  membership_plan jsonb;
  purpose text;
  link_expires_at timestamptz := now() + make_interval(secs => link_token_ttl_seconds);
begin
  select g.name into guild_name from public.guilds g where g.id = open_subscribe_link.guild_id;
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
    from public.plans p
    where p.guild_id = open_subscribe_link.guild_id and p.active;
  if jsonb_array_length(active_plans) = 0 then
    return jsonb_build_object('outcome', 'no_plan', 'guild_name', guild_name);
  end if;

  select * into membership from public.memberships m
    where m.guild_id = open_subscribe_link.guild_id
      and m.discord_user_id = open_subscribe_link.discord_user_id
      and m.deleted_at is null;

  if found and (membership.entitled or (membership.stripe_subscription_id is not null
      and membership.status in ('active', 'trialing', 'past_due', 'unpaid', 'paused'))) then
    purpose := 'manage';
    select jsonb_build_object('id', p.id, 'display', p.display) into membership_plan
      from public.plans p where p.id = membership.plan_id;
  else
    purpose := 'join';
  end if;

  insert into public.link_tokens (token_hash, purpose, guild_id, discord_user_id, locale, expires_at)
  values (link_token_hash, purpose, open_subscribe_link.guild_id,
    open_subscribe_link.discord_user_id, open_subscribe_link.locale, link_expires_at);

  -- Discord interaction tokens live 15 minutes; role-sync uses the latest one for its follow-up.
  insert into public.interaction_tokens (guild_id, discord_user_id, application_id, token,
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
    'membership', case when purpose = 'manage' then jsonb_build_object(
      'entitled', membership.entitled,
      'status', membership.status,
      'plan', membership_plan,
      'current_period_end', membership.current_period_end,
      'cancel_at', coalesce(membership.cancel_at, case when membership.cancel_at_period_end
        then membership.current_period_end end)
    ) end
  );
end;
$$;
revoke execute on function public.open_subscribe_link(text, text, text, bytea, integer, text, text)
  from public, anon, authenticated;
grant execute on function public.open_subscribe_link(text, text, text, bytea, integer, text, text)
  to service_role;

-- Interaction tokens are deleted as soon as they expire (they are credentials for 15 minutes);
-- link tokens are kept a week after expiry so the plan page can still say "expired" rather than
-- "unknown", then deleted.
create function public.delete_expired_tokens() returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.interaction_tokens where expires_at <= now();
  delete from public.link_tokens where expires_at <= now() - interval '7 days';
end;
$$;
revoke execute on function public.delete_expired_tokens() from public, anon, authenticated;

select cron.schedule('rolepass-delete-expired-tokens', '* * * * *',
  'select public.delete_expired_tokens()');
