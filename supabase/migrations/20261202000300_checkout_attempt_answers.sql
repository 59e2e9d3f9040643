-- Checkout attempts remember what the thank-you page was told, when Stripe was last asked about
-- the session, and the language the session was opened in.
--
-- POST /checkout/checkout-complete takes no credential: anyone holding a Checkout session id (their
-- own) can send it in a loop, and each call used to cost two Stripe API calls. Now a session that
-- completed is answered from `completion` without asking Stripe again, and an open one is re-read
-- at most once per short window (`stripe_checked_at`, claimed by one request at a time).
--
-- `locale` is the language the member chose on the plan page. A repeated request for the same
-- session (double click, back button) must send Stripe the same parameters under the same
-- idempotency key, so it reuses the recorded language rather than the one asked for this time.
-- Rows from before this migration have none; the link's language applies to them.

alter table public.checkout_attempts
  add column locale text check (locale in ('ja', 'en')),
  add column stripe_checked_at timestamptz,
  add column completion text check (completion in ('granting', 'processing'));

comment on column public.checkout_attempts.locale is
  'Language of the Stripe page and of the pages it returns to; null on rows older than the column (the link''s language applies). Written by the checkout function.';
comment on column public.checkout_attempts.stripe_checked_at is
  'When the thank-you page last had Stripe re-read this session; a request claims it before asking Stripe. Written by the checkout function.';
comment on column public.checkout_attempts.completion is
  'What the thank-you page was told once this session completed and its membership was synced; later requests are answered from it. Written by the checkout function.';
