-- The onboarding return page answers only the holder of the link Stripe sends back: each Account
-- Link that `deno task connect -- onboard` makes returns to a URL carrying a fresh random token.
-- Only its SHA-256 is kept, beside the guild's account, with when it stops working; a new link
-- replaces the last one's token.

alter table rolepass.guild_stripe_accounts
  add column return_token_hash bytea check (length(return_token_hash) = 32),
  add column return_token_expires_at timestamptz,
  add constraint guild_stripe_accounts_return_token_whole
    check ((return_token_hash is null) = (return_token_expires_at is null));

comment on column rolepass.guild_stripe_accounts.return_token_hash is
  'SHA-256 of the token in the return URL of the guild''s latest onboarding Account Link: the plan page''s return page answers only with it, until return_token_expires_at.';
