-- Checkout: how the checkout function finds the sessions a link opened, and the database's own
-- guarantee that a member has at most one open Checkout session (so two tabs or two links can
-- never lead to two live subscriptions through rolepass).
--
-- The checkout function expires a member's earlier open session on Stripe and marks it here
-- before it records a new one; this index makes any path that forgets fail instead.

create index checkout_attempts_link_token_id_idx on public.checkout_attempts (link_token_id);

create unique index checkout_attempts_one_open_checkout_per_membership
  on public.checkout_attempts (membership_id)
  where kind = 'checkout' and status = 'open';

comment on index public.checkout_attempts_one_open_checkout_per_membership is
  'A member has at most one open Checkout session; written by the checkout function.';
