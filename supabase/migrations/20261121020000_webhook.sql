-- Stripe webhook support: refunds and disputes recorded per subscription, and the expiry of
-- time-limited entitlements (a past_due grace period, a scheduled cancel) by the cron sweep.

-- subscription revocations ------------------------------------------------------------------------
-- A full refund or a dispute takes the role away at once (when the guild says so) while Stripe may
-- still report the subscription as active. The webhook records it here, per subscription, so every
-- later re-read of the subscription keeps it revoked whatever order the events arrive in.
create table public.stripe_subscription_revocations (
  stripe_subscription_id text primary key check (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
  membership_id uuid not null references public.memberships (id) on delete cascade,
  reason text not null check (reason in ('refund', 'dispute')),
  -- The charge refunded or the dispute opened.
  stripe_object_id text not null check (stripe_object_id ~ '^(ch|dp)_[A-Za-z0-9]+$'),
  stripe_event_id text not null check (stripe_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  revoked_at timestamptz not null default now()
);
create index stripe_subscription_revocations_membership_id_idx
  on public.stripe_subscription_revocations (membership_id);
comment on table public.stripe_subscription_revocations is
  'Subscriptions whose role was revoked by a full refund or a dispute. Read and written by service_role only.';

alter table public.stripe_subscription_revocations enable row level security;
revoke all on public.stripe_subscription_revocations from public, anon, authenticated;
grant select, insert, update, delete on public.stripe_subscription_revocations to service_role;

-- entitlement expiry ------------------------------------------------------------------------------
-- Revokes every entitlement whose time has run out without another event: the end of a past_due
-- grace period, or a scheduled cancel taking effect before Stripe's customer.subscription.deleted
-- arrived. The triggers write the history and queue the role jobs. Returns how many it revoked.
create function public.expire_entitlements() returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  expired integer;
begin
  update public.memberships
    set entitled = false,
      entitled_role_id = null,
      entitled_until = null,
      change_cause = case when status = 'past_due'
        then 'grace_period_ended' else 'scheduled_cancel_took_effect' end,
      change_event_id = null
    where entitled and entitled_until is not null and entitled_until <= now();
  get diagnostics expired = row_count;
  return expired;
end;
$$;
revoke execute on function public.expire_entitlements() from public, anon, authenticated;
grant execute on function public.expire_entitlements() to service_role;
