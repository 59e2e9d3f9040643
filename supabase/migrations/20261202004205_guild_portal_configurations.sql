-- One Customer Portal configuration per guild (issue 14 item 5). A Stripe account has one default
-- portal configuration, and Checkout and the portal used it for every guild the account sells in,
-- so a member could switch to another guild's price (a role in another server). plans:apply now
-- saves a configuration of the guild's own (switching between exactly its subscription prices)
-- and stores its id here, for the portal sessions and the doctor.

alter table rolepass.guilds
  add column stripe_portal_configuration_id text
    check (stripe_portal_configuration_id ~ '^bpc_[A-Za-z0-9]+$');
comment on column rolepass.guilds.stripe_portal_configuration_id is
  'The guild''s own Stripe Customer Portal configuration (null: none saved yet, the account''s default serves). Written by plans:apply, read by checkout and the doctor.';
