-- rolepass core schema: operator configuration, memberships, link tokens, checkout attempts,
-- Stripe events, membership history and the role-job outbox.
--
-- Every table is written only by the Edge Functions (service_role over a direct connection) and by
-- the triggers below. Row level security is enabled on all of them with no policy, and anon and
-- authenticated get no grant at all, so the Data API exposes nothing.

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

-- guilds ------------------------------------------------------------------------------------------
create table public.guilds (
  id text primary key check (id ~ '^[0-9]{17,20}$'),
  name text not null check (length(name) between 1 and 100),
  default_locale text not null default 'ja' check (default_locale in ('ja', 'en')),
  -- 特定商取引法に基づく表記, shown on the plan page; validated by the plans configuration task.
  seller_notice jsonb not null default '{}'::jsonb check (jsonb_typeof(seller_notice) = 'object'),
  -- How long a past_due subscription keeps the role; 0 = revoke as soon as a renewal fails.
  past_due_grace interval not null default interval '0' check (past_due_grace >= interval '0'),
  revoke_on_refund boolean not null default true,
  revoke_on_dispute boolean not null default true,
  operator_log_channel_id text check (operator_log_channel_id ~ '^[0-9]{17,20}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.guilds is
  'Discord servers that sell roles, with their operator settings. Read and written by service_role only.';

-- plans -------------------------------------------------------------------------------------------
create table public.plans (
  id uuid primary key default gen_random_uuid(),
  guild_id text not null references public.guilds (id) on delete cascade,
  stripe_price_id text not null unique check (stripe_price_id ~ '^price_[A-Za-z0-9_]+$'),
  discord_role_id text not null check (discord_role_id ~ '^[0-9]{17,20}$'),
  -- Display text per language: {"ja": {"name": .., "description": ..}, "en": {...}}.
  display jsonb not null check (jsonb_typeof(display) = 'object' and display ? 'en'),
  unit_amount integer not null check (unit_amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  billing_interval text not null check (billing_interval in ('day', 'week', 'month', 'year')),
  interval_count integer not null default 1 check (interval_count between 1 and 365),
  sort_order integer not null default 0,
  active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index plans_guild_id_idx on public.plans (guild_id) where active;
comment on table public.plans is
  'Subscription plans: a Stripe price that grants a Discord role. Read and written by service_role only.';

-- memberships -------------------------------------------------------------------------------------
create table public.memberships (
  id uuid primary key default gen_random_uuid(),
  guild_id text not null references public.guilds (id) on delete cascade,
  discord_user_id text not null check (discord_user_id ~ '^[0-9]{17,20}$'),
  locale text not null default 'ja' check (locale in ('ja', 'en')),
  stripe_customer_id text unique check (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
  -- One subscription per membership; the unique index keeps a subscription from serving two.
  stripe_subscription_id text unique check (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
  plan_id uuid references public.plans (id) on delete set null,
  status text check (status in (
    'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid',
    'paused'
  )),
  current_period_end timestamptz,
  cancel_at timestamptz,
  cancel_at_period_end boolean not null default false,
  past_due_since timestamptz,
  -- Entitlement as decided by the pure core (functions/_core/entitlement.ts).
  entitled boolean not null default false,
  entitled_role_id text check (entitled_role_id ~ '^[0-9]{17,20}$'),
  -- When a time-limited entitlement (a past_due grace period) runs out without another event.
  entitled_until timestamptz,
  revoked_reason text check (revoked_reason in ('refund', 'dispute')),
  -- What caused the latest change, copied into membership_history by the trigger.
  change_cause text not null default 'created',
  change_event_id text,
  stripe_synced_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (guild_id, discord_user_id),
  check (not entitled or entitled_role_id is not null),
  check (stripe_subscription_id is null or stripe_customer_id is not null)
);
create index memberships_entitled_until_idx on public.memberships (entitled_until)
  where entitled and entitled_until is not null;
comment on table public.memberships is
  'One row per (guild, member): the Stripe customer and subscription and whether they entitle the role now. Read and written by service_role only.';

-- link tokens -------------------------------------------------------------------------------------
create table public.link_tokens (
  id uuid primary key default gen_random_uuid(),
  -- SHA-256 of the token; the token itself exists only in the member's link.
  token_hash bytea not null unique check (length(token_hash) = 32),
  purpose text not null check (purpose in ('join', 'manage')),
  guild_id text not null references public.guilds (id) on delete cascade,
  discord_user_id text not null check (discord_user_id ~ '^[0-9]{17,20}$'),
  locale text not null check (locale in ('ja', 'en')),
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  check (expires_at > created_at)
);
create index link_tokens_expires_at_idx on public.link_tokens (expires_at);
comment on table public.link_tokens is
  'One-time links to the plan page or the portal; only hashes. Read and written by service_role only.';

-- interaction tokens ------------------------------------------------------------------------------
create table public.interaction_tokens (
  guild_id text not null references public.guilds (id) on delete cascade,
  discord_user_id text not null check (discord_user_id ~ '^[0-9]{17,20}$'),
  application_id text not null check (application_id ~ '^[0-9]{17,20}$'),
  -- Discord interaction tokens live 15 minutes; kept only that long, for the follow-up message.
  token text not null,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  primary key (guild_id, discord_user_id)
);
create index interaction_tokens_expires_at_idx on public.interaction_tokens (expires_at);
comment on table public.interaction_tokens is
  'The latest live Discord interaction token per member, deleted once expired. Read and written by service_role only.';

-- checkout attempts -------------------------------------------------------------------------------
create table public.checkout_attempts (
  id uuid primary key default gen_random_uuid(),
  membership_id uuid not null references public.memberships (id) on delete cascade,
  link_token_id uuid references public.link_tokens (id) on delete set null,
  plan_id uuid references public.plans (id) on delete set null,
  kind text not null check (kind in ('checkout', 'portal')),
  -- Recorded after Stripe created the session (create on Stripe first, record second).
  stripe_session_id text not null unique,
  status text not null default 'open' check (status in ('open', 'completed', 'expired')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index checkout_attempts_membership_id_idx on public.checkout_attempts (membership_id);
comment on table public.checkout_attempts is
  'One row per Checkout or Portal session opened for a member. Read and written by service_role only.';

-- stripe events -----------------------------------------------------------------------------------
create table public.stripe_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9_]+$'),
  type text not null,
  api_version text,
  livemode boolean not null default false,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  ignored boolean not null default false,
  attempts integer not null default 0,
  last_error text
);
create index stripe_events_unprocessed_idx on public.stripe_events (received_at)
  where processed_at is null;
comment on table public.stripe_events is
  'Every Stripe event received, by id; a processed event is never applied again. Read and written by service_role only.';

-- membership history ------------------------------------------------------------------------------
create table public.membership_history (
  id bigint generated always as identity primary key,
  membership_id uuid not null,
  guild_id text not null,
  discord_user_id text not null,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  cause text not null,
  stripe_event_id text,
  old_status text,
  new_status text,
  old_entitled boolean,
  new_entitled boolean,
  old_plan_id uuid,
  new_plan_id uuid,
  old_row jsonb,
  new_row jsonb,
  changed_at timestamptz not null default now()
);
create index membership_history_membership_id_idx on public.membership_history (membership_id);
create index membership_history_changed_at_idx on public.membership_history (changed_at);
comment on table public.membership_history is
  'Append-only contract history, written by trigger on every membership change. Read by service_role; written only by the trigger.';

-- role jobs ---------------------------------------------------------------------------------------
create table public.role_jobs (
  id bigint generated always as identity primary key,
  membership_id uuid not null references public.memberships (id) on delete cascade,
  guild_id text not null,
  discord_user_id text not null,
  -- The entitlement that caused the job; the job re-reads the membership when it runs.
  entitled boolean not null,
  role_id text,
  previous_role_id text,
  cause text not null,
  status text not null default 'pending'
    check (status in ('pending', 'running', 'done', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  lease_expires_at timestamptz,
  outcome text,
  last_error text,
  notified_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  done_at timestamptz
);
create index role_jobs_due_idx on public.role_jobs (next_attempt_at)
  where status in ('pending', 'running');
create index role_jobs_membership_id_idx on public.role_jobs (membership_id);
comment on table public.role_jobs is
  'Outbox of Discord role changes, written by trigger when entitlement changes; claimed by role-sync. Read and written by service_role only.';

-- row level security and grants -------------------------------------------------------------------
alter table public.guilds enable row level security;
alter table public.plans enable row level security;
alter table public.memberships enable row level security;
alter table public.link_tokens enable row level security;
alter table public.interaction_tokens enable row level security;
alter table public.checkout_attempts enable row level security;
alter table public.stripe_events enable row level security;
alter table public.membership_history enable row level security;
alter table public.role_jobs enable row level security;

revoke all on public.guilds, public.plans, public.memberships, public.link_tokens,
  public.interaction_tokens, public.checkout_attempts, public.stripe_events,
  public.membership_history, public.role_jobs
  from public, anon, authenticated;

grant select, insert, update, delete on public.guilds, public.plans, public.memberships,
  public.link_tokens, public.interaction_tokens, public.checkout_attempts, public.stripe_events,
  public.role_jobs
  to service_role;
grant select on public.membership_history to service_role;
grant usage, select on all sequences in schema public to service_role;

-- Functions are not executable by anyone but their owner unless granted below.
alter default privileges in schema public revoke execute on functions from public, anon, authenticated;

-- triggers ----------------------------------------------------------------------------------------
create function public.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
revoke execute on function public.touch_updated_at() from public, anon, authenticated;

create trigger guilds_touch before update on public.guilds
  for each row execute function public.touch_updated_at();
create trigger plans_touch before update on public.plans
  for each row execute function public.touch_updated_at();
create trigger memberships_touch before update on public.memberships
  for each row execute function public.touch_updated_at();
create trigger checkout_attempts_touch before update on public.checkout_attempts
  for each row execute function public.touch_updated_at();
create trigger role_jobs_touch before update on public.role_jobs
  for each row execute function public.touch_updated_at();

-- Writes a history row for every real change of a membership (not for no-op updates), as the
-- table owner, so service_role never needs write access to the history.
create function public.record_membership_history() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_row jsonb := case when tg_op = 'INSERT' then null else to_jsonb(old) - 'updated_at' end;
  new_row jsonb := case when tg_op = 'DELETE' then null else to_jsonb(new) - 'updated_at' end;
  changed public.memberships := case when tg_op = 'DELETE' then old else new end;
begin
  if tg_op = 'UPDATE' and old_row = new_row then
    return null;
  end if;
  insert into public.membership_history (
    membership_id, guild_id, discord_user_id, operation, cause, stripe_event_id,
    old_status, new_status, old_entitled, new_entitled, old_plan_id, new_plan_id, old_row, new_row
  ) values (
    changed.id, changed.guild_id, changed.discord_user_id, tg_op,
    case when tg_op = 'DELETE' then 'deleted' else changed.change_cause end,
    case when tg_op = 'DELETE' then null else changed.change_event_id end,
    old_row ->> 'status', new_row ->> 'status',
    (old_row ->> 'entitled')::boolean, (new_row ->> 'entitled')::boolean,
    (old_row ->> 'plan_id')::uuid, (new_row ->> 'plan_id')::uuid,
    old_row, new_row
  );
  return null;
end;
$$;
revoke execute on function public.record_membership_history() from public, anon, authenticated;

create trigger memberships_record_history
  after insert or update or delete on public.memberships
  for each row execute function public.record_membership_history();

-- Queues a role job whenever what Discord should show changes: the entitlement or the role.
create function public.enqueue_role_job() returns trigger
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
    and old.entitled_role_id is not distinct from new.entitled_role_id then
    return null;
  end if;
  insert into public.role_jobs (
    membership_id, guild_id, discord_user_id, entitled, role_id, previous_role_id, cause
  ) values (
    new.id, new.guild_id, new.discord_user_id, new.entitled, new.entitled_role_id,
    case when tg_op = 'UPDATE' then old.entitled_role_id end,
    coalesce(new.change_event_id, new.change_cause)
  );
  return null;
end;
$$;
revoke execute on function public.enqueue_role_job() from public, anon, authenticated;

create trigger memberships_enqueue_role_job
  after insert or update of entitled, entitled_role_id on public.memberships
  for each row execute function public.enqueue_role_job();
