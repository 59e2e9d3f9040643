-- A signed Discord interaction is good once (invariant 9). The discord-interactions function
-- refuses a timestamp more than 5 minutes from its clock; inside that window a captured /subscribe
-- could still be sent again, and would yield a fresh manage link (a Customer Portal session on the
-- member's Stripe customer) and overwrite the member's live interaction token with its own.
-- Discord sends each interaction once, so /subscribe now claims the interaction's id before it
-- stores anything, in the same round trip.

-- handled interactions ----------------------------------------------------------------------------
create table public.handled_interactions (
  id text primary key check (id ~ '^[0-9]{17,20}$'),
  handled_at timestamptz not null default now()
);
create index handled_interactions_handled_at_idx on public.handled_interactions (handled_at);
comment on table public.handled_interactions is
  'Ids of the Discord interactions that stored something, kept while a copy could still pass the timestamp check. Read and written by service_role only.';

alter table public.handled_interactions enable row level security;
revoke all on public.handled_interactions from public, anon, authenticated;
grant select, insert, update, delete on public.handled_interactions to service_role;

-- /subscribe, claiming the interaction first ------------------------------------------------------
drop function public.open_subscribe_link(text, text, text, bytea, integer, text, text);

create function public.open_subscribe_link(
  interaction_id text,
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
  -- Claimed first, in the same transaction as everything stored below: of two copies of one
  -- interaction, even racing each other, only the first gets a link or stores its token.
  insert into public.handled_interactions (id) values (open_subscribe_link.interaction_id)
    on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('outcome', 'already_handled');
  end if;

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
revoke execute on function
  public.open_subscribe_link(text, text, text, text, bytea, integer, text, text)
  from public, anon, authenticated;
grant execute on function
  public.open_subscribe_link(text, text, text, text, bytea, integer, text, text)
  to service_role;

-- cleanup -----------------------------------------------------------------------------------------
-- An accepted timestamp is at most 5 minutes ahead of the function's clock, so 10 minutes after an
-- interaction was handled every copy of it is refused by the timestamp check; 5 more minutes cover
-- a difference between the function's clock and the database's.
create or replace function public.delete_expired_tokens() returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.interaction_tokens where expires_at <= now();
  delete from public.link_tokens where expires_at <= now() - interval '7 days';
  delete from public.handled_interactions where handled_at <= now() - interval '15 minutes';
end;
$$;
