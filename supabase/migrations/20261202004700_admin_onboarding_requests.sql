-- `/rolepass onboarding` (issue 15): an operator asks for their guild's Stripe Express onboarding
-- link in Discord. The interactions function never loads the Stripe SDK, so the request is handed
-- to role-sync like resync and health. The link is a bearer credential to the community's Stripe
-- account: role-sync sends it straight into the deferred ephemeral answer and never keeps it, so
-- an onboarding request's `result` stays null (a retried answer makes a fresh link).

alter table rolepass.admin_requests drop constraint admin_requests_kind_check;
alter table rolepass.admin_requests add constraint admin_requests_kind_check
  check (kind in ('resync', 'health', 'onboarding'));
alter table rolepass.admin_requests add constraint admin_requests_onboarding_keeps_no_link
  check (kind <> 'onboarding' or result is null);

comment on table rolepass.admin_requests is
  'Deferred /rolepass work (resync, health, onboarding): written by discord-interactions through request_admin_work, done and answered by role-sync. The interaction token is erased when the request ends or expires; an onboarding link is never stored. service_role only.';
