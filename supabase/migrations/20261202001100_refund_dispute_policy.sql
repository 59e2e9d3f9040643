-- Refund and dispute policy per guild (functions/_core/refund_dispute_policy.ts decides what each
-- one does): revocations that hold for the refunded or disputed period only and that a won dispute
-- lifts, and a record of every refund and dispute and what the policy did about it.

-- guild policies ----------------------------------------------------------------------------------
-- 'revoke_and_cancel' (the default) | 'revoke_only' | 'keep'. The older switches revoke_on_refund
-- and revoke_on_dispute stay as mirrors for the writers that still set them: the trigger below
-- keeps each switch and its policy in step, and the policy is what the webhook reads.
alter table public.guilds
  add column refund_policy text
    check (refund_policy in ('revoke_and_cancel', 'revoke_only', 'keep')),
  add column dispute_policy text
    check (dispute_policy in ('revoke_and_cancel', 'revoke_only', 'keep'));

update public.guilds set
  refund_policy = case when revoke_on_refund then 'revoke_and_cancel' else 'keep' end,
  dispute_policy = case when revoke_on_dispute then 'revoke_and_cancel' else 'keep' end;

-- A guild inserted without a policy takes it from its switch (true by default), so the default
-- policy is revoke_and_cancel; the not-null check runs after the trigger has filled it in.
alter table public.guilds
  alter column refund_policy set not null,
  alter column dispute_policy set not null;

comment on column public.guilds.refund_policy is
  'What a full refund does: revoke_and_cancel (take the role, cancel the subscription on Stripe), revoke_only (take the role for the refunded period), keep (record it only).';
comment on column public.guilds.dispute_policy is
  'What a dispute does: revoke_and_cancel (take the role while open, give it back when won, cancel the subscription when lost), revoke_only (the same without cancelling), keep (record it only).';

create function public.guilds_mirror_reversal_policies() returns trigger
  language plpgsql
  set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    new.refund_policy := coalesce(new.refund_policy,
      case when new.revoke_on_refund then 'revoke_and_cancel' else 'keep' end);
    new.dispute_policy := coalesce(new.dispute_policy,
      case when new.revoke_on_dispute then 'revoke_and_cancel' else 'keep' end);
  else
    if new.refund_policy is not distinct from old.refund_policy
        and new.revoke_on_refund is distinct from old.revoke_on_refund then
      new.refund_policy := case when new.revoke_on_refund then 'revoke_and_cancel' else 'keep' end;
    end if;
    if new.dispute_policy is not distinct from old.dispute_policy
        and new.revoke_on_dispute is distinct from old.revoke_on_dispute then
      new.dispute_policy := case when new.revoke_on_dispute then 'revoke_and_cancel' else 'keep' end;
    end if;
  end if;
  new.revoke_on_refund := new.refund_policy is distinct from 'keep';
  new.revoke_on_dispute := new.dispute_policy is distinct from 'keep';
  return new;
end;
$$;
revoke execute on function public.guilds_mirror_reversal_policies() from public, anon, authenticated;

create trigger guilds_mirror_reversal_policies
  before insert or update on public.guilds
  for each row execute function public.guilds_mirror_reversal_policies();

-- revocations per period --------------------------------------------------------------------------
-- A subscription can now carry several revocations over its life (a refunded month, later a
-- disputed one), each keyed by the charge refunded or the dispute opened. A revocation holds while
-- the subscription is still in the period it covers; a won dispute lifts its own.
alter table public.stripe_subscription_revocations
  drop constraint stripe_subscription_revocations_pkey,
  add primary key (reason, stripe_object_id),
  add column covers_period_end timestamptz,
  add column status text not null default 'in_force' check (status in ('in_force', 'lifted')),
  add column lifted_at timestamptz,
  add column lifted_event_id text check (lifted_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  add constraint stripe_subscription_revocations_lifted_check
    check ((status = 'lifted') = (lifted_at is not null));

create index stripe_subscription_revocations_subscription_idx
  on public.stripe_subscription_revocations (stripe_subscription_id) where status = 'in_force';

comment on column public.stripe_subscription_revocations.covers_period_end is
  'End of the period the refunded or disputed charge paid for; a later period is not revoked. Null (rows from before periods were kept): the whole subscription.';
comment on table public.stripe_subscription_revocations is
  'Refunds and disputes that took the role, per charge or dispute, until the period they cover ends or a won dispute lifts them. Read and written by service_role only.';

-- what each refund and dispute did ---------------------------------------------------------------
-- One row per refunded charge or dispute and stage, written in the webhook's transaction: what
-- happened, the guild's policy at the time and what it did, so the operator can be shown every
-- refund and dispute, including the ones that kept the role (a partial refund, the keep policy).
create table public.refund_dispute_outcomes (
  -- The charge refunded, or the dispute.
  stripe_object_id text not null check (stripe_object_id ~ '^[A-Za-z0-9_]{1,255}$'),
  stage text not null check (stage in (
    'full_refund', 'partial_refund', 'dispute_opened', 'dispute_won', 'dispute_lost'
  )),
  membership_id uuid not null references public.memberships (id) on delete cascade,
  guild_id text not null references public.guilds (id) on delete cascade,
  stripe_subscription_id text check (stripe_subscription_id ~ '^sub_[A-Za-z0-9]+$'),
  stripe_charge_id text not null check (stripe_charge_id ~ '^[A-Za-z0-9_]{1,255}$'),
  policy text not null check (policy in ('revoke_and_cancel', 'revoke_only', 'keep')),
  role_effect text not null check (role_effect in ('revoked', 'kept', 'restored')),
  subscription_canceled boolean not null,
  -- Refunded or disputed so far, in the currency's smallest unit.
  amount bigint not null check (amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  stripe_event_id text not null check (stripe_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  decided_at timestamptz not null default now(),
  primary key (stage, stripe_object_id)
);
create index refund_dispute_outcomes_guild_idx
  on public.refund_dispute_outcomes (guild_id, decided_at);
create index refund_dispute_outcomes_membership_idx
  on public.refund_dispute_outcomes (membership_id);
comment on table public.refund_dispute_outcomes is
  'Every refunded charge and dispute, per stage, with the guild policy applied and what it did to the role and subscription. Read and written by service_role only.';

alter table public.refund_dispute_outcomes enable row level security;
revoke all on public.refund_dispute_outcomes from public, anon, authenticated;
grant select, insert, update, delete on public.refund_dispute_outcomes to service_role;
