-- More ways to sell (issue 14 items 2, 3 and 6): one-time passes, promotion codes at Checkout and
-- Stripe Tax.
--
-- A plan backed by a one-time Stripe price sells a pass: for life, or for a fixed duration after
-- the payment. It has no billing interval. Each paid pass is a row of rolepass.member_passes,
-- written by the webhook (and the thank-you page) from Stripe's re-read of the completed Checkout
-- Session under the customer's lock; the sync folds the live passes into the membership's
-- entitlement (functions/_core/one_time_pass.ts), so entitled_until carries a pass's end and the
-- minute's sweep (expire_entitlements) ends the role when the pass does.

alter table rolepass.plans
  alter column billing_interval drop not null,
  -- 'subscription' for a recurring price; 'lifetime' or 'duration' for a one-time price.
  add column access_kind text not null default 'subscription'
    check (access_kind in ('subscription', 'lifetime', 'duration')),
  add column access_duration interval check (access_duration > interval '0'),
  -- Whether Checkout takes Stripe promotion codes for this plan (the plans file's plan or guild
  -- setting, resolved by plans:apply).
  add column allow_promotion_codes boolean not null default false,
  -- The Stripe price's tax_behavior: whether unit_amount includes tax.
  add column tax_behavior text not null default 'unspecified'
    check (tax_behavior in ('inclusive', 'exclusive', 'unspecified')),
  add constraint plans_access_matches_price check (
    (access_kind = 'subscription') = (billing_interval is not null)
    and (access_kind = 'duration') = (access_duration is not null)
  );

alter table rolepass.guilds
  -- Stripe Tax at Checkout, with the address collection it needs.
  add column automatic_tax boolean not null default false,
  add column billing_address_collection text
    check (billing_address_collection in ('auto', 'required')),
  add constraint guilds_tax_collects_address
    check (not automatic_tax or billing_address_collection is not null);

create table rolepass.member_passes (
  id uuid primary key default gen_random_uuid(),
  membership_id uuid not null references rolepass.memberships (id) on delete cascade,
  plan_id uuid not null references rolepass.plans (id) on delete restrict,
  stripe_customer_id text not null check (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
  stripe_checkout_session_id text not null unique check (stripe_checkout_session_id ~ '^cs_'),
  stripe_payment_intent_id text not null unique,
  -- The charge a refund or dispute names; null only while Stripe has not said.
  stripe_charge_id text unique,
  -- What the member paid, after discounts and with tax, in the currency's smallest unit.
  amount bigint not null check (amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  paid_at timestamptz not null,
  -- Null: for life. A renewal bought while a pass of the plan is live starts where it ends.
  access_until timestamptz,
  -- 'refunded' and 'disputed': the guild's policy took the pass back (a won dispute restores it).
  status text not null default 'active' check (status in ('active', 'refunded', 'disputed')),
  status_event_id text,
  stripe_event_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (access_until is null or access_until > paid_at)
);
create index member_passes_membership_id_idx on rolepass.member_passes (membership_id);
comment on table rolepass.member_passes is
  'One row per paid one-time pass (Checkout in payment mode): the payment, until when it grants its plan''s role, and whether a refund or dispute took it back. Written by stripe-webhook and checkout (the thank-you page) as service_role under the customer''s lock; read by them, /subscribe and the sweep''s membership as service_role.';

alter table rolepass.member_passes enable row level security;
revoke all on rolepass.member_passes from public, anon, authenticated;
grant select, insert, update, delete on rolepass.member_passes to service_role;
