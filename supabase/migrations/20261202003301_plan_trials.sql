-- Trials per plan (issue 14 item 1). A plan may start with a free trial of `trial_days` days,
-- during which it grants `trial_role_ids` (null: its paid roles; empty: no role until the first
-- payment; functions/_core/entitlement.ts rolesGrantedBy decides). `trial_payment_method` says
-- whether Checkout asks for a card up front ('required') or only when something is due
-- ('if_required'), and `trial_missing_payment_method` what Stripe does when a trial ends without
-- one ('cancel' or 'pause'; trial_settings.end_behavior.missing_payment_method). Written by
-- plans:apply, read by checkout and the Stripe sync.
--
-- One trial per member per guild: `memberships.trial_started_at` keeps when the member's first
-- trial in the guild began (the sync writes it from Stripe's trial_start and never clears it), and
-- checkout offers no trial once it is set (functions/_core/trial.ts trialOffer).

alter table rolepass.plans
  add column trial_days integer check (trial_days between 1 and 730),
  add column trial_role_ids rolepass.discord_snowflake[]
    check (cardinality(trial_role_ids) <= 25),
  add column trial_payment_method text not null default 'required'
    check (trial_payment_method in ('required', 'if_required')),
  add column trial_missing_payment_method text not null default 'cancel'
    check (trial_missing_payment_method in ('cancel', 'pause')),
  add constraint plans_trial_check
    check (trial_days is not null or trial_role_ids is null),
  add constraint plans_trial_subscription_check
    check (trial_days is null or access_kind = 'subscription');
comment on column rolepass.plans.trial_days is
  'Days of the free trial Checkout starts (null: no trial). Written by plans:apply, read by checkout.';
comment on column rolepass.plans.trial_role_ids is
  'Roles a trialing subscription grants: null for the paid roles, empty for none until the first payment. Written by plans:apply, read by the Stripe sync.';

alter table rolepass.memberships
  add column trial_started_at timestamptz;
comment on column rolepass.memberships.trial_started_at is
  'When the member''s first trial in this guild began (Stripe''s trial_start); never cleared, so a second Checkout gets no trial. Written by the Stripe sync, read by checkout.';
