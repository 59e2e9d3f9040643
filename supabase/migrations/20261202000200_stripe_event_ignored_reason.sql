-- Stripe deliveries the webhook acknowledges without acting on them say why (another mode than
-- the key's, a Connect account the deployment does not serve, an object Stripe no longer has, a
-- type it does not handle), in a column of their own rather than in last_error, which is kept for
-- the failures Stripe retries.
alter table public.stripe_events
  add column ignored_reason text
    check (ignored_reason is null or (ignored and length(ignored_reason) <= 500));

update public.stripe_events
  set ignored_reason = left(last_error, 500), last_error = null
  where ignored and last_error is not null;

comment on column public.stripe_events.ignored_reason is
  'Why an ignored event was acknowledged without being applied; null for applied events.';

-- Stripe counts adding or removing an id prefix (such as ch_ on charge ids) as a
-- backwards-compatible change, and charges paid by some methods are py_...: the charge or dispute
-- behind a revocation is any Stripe id.
alter table public.stripe_subscription_revocations
  drop constraint stripe_subscription_revocations_stripe_object_id_check,
  add constraint stripe_subscription_revocations_stripe_object_id_check
    check (stripe_object_id ~ '^[A-Za-z0-9_]{1,255}$');
