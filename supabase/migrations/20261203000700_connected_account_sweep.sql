-- Platform mode: role-sync's hourly Stripe catch-up re-reads the connected accounts whose recorded
-- state is oldest first (functions/role-sync/account_sweep.ts), a bounded number per pass; this
-- index hands it that order without sorting every guild's account. An account never read since
-- onboarding recorded it counts from when it was recorded.
create index guild_stripe_accounts_state_age_idx
  on rolepass.guild_stripe_accounts ((coalesce(read_at, created_at)));
