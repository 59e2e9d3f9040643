-- `/rolepass dashboard` (issue 15): an operator asks for a login link to their guild's own Stripe
-- Express Dashboard (payouts, statements, exports) in Discord. Like onboarding, it is handed to
-- role-sync, which has the Stripe key. A login link is a bearer credential to the community's
-- Stripe account: role-sync sends it straight into the deferred ephemeral answer and never keeps
-- it, so neither an onboarding nor a dashboard request ever has a `result`.

alter table rolepass.admin_requests drop constraint admin_requests_kind_check;
alter table rolepass.admin_requests add constraint admin_requests_kind_check
  check (kind in ('resync', 'health', 'onboarding', 'dashboard'));
alter table rolepass.admin_requests drop constraint admin_requests_onboarding_keeps_no_link;
alter table rolepass.admin_requests add constraint admin_requests_stripe_links_kept_nowhere
  check (kind not in ('onboarding', 'dashboard') or result is null);

comment on table rolepass.admin_requests is
  'Deferred /rolepass work (resync, health, onboarding, dashboard): written by discord-interactions through request_admin_work, done and answered by role-sync. The interaction token is erased when the request ends or expires; an onboarding or dashboard link is never stored. service_role only.';
