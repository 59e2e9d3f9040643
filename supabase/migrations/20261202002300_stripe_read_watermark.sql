-- The webhook re-reads Stripe before its transaction (no connection waits on Stripe), so two
-- re-reads of one customer can finish in either order. Each re-read takes a number from a sequence
-- when it starts; the apply records the number it applied and refuses an older one. Read-your-writes
-- at Stripe makes a re-read started after an event reflect that event, so a refused (older) read is
-- always covered by the newer one already applied.
create sequence rolepass.stripe_read_seq as bigint;
comment on sequence rolepass.stripe_read_seq is
  'Orders Stripe re-reads by when they started. Advanced by rolepass.start_stripe_read only.';
revoke all on sequence rolepass.stripe_read_seq from public, anon, authenticated;

create table rolepass.stripe_customer_reads (
  stripe_customer_id text primary key,
  read_seq bigint not null,
  applied_at timestamptz not null default now()
);
comment on table rolepass.stripe_customer_reads is
  'Per Stripe customer, the start number of the newest re-read applied to its membership; an apply whose read started earlier changes nothing. Read and written by the webhook and the checkout sync (service_role only).';
alter table rolepass.stripe_customer_reads enable row level security;
revoke all on rolepass.stripe_customer_reads from public, anon, authenticated;
grant select, insert, update, delete on rolepass.stripe_customer_reads to service_role;

create function rolepass.start_stripe_read()
returns bigint
language sql
security definer
set search_path = ''
as $$
  select nextval('rolepass.stripe_read_seq');
$$;
comment on function rolepass.start_stripe_read() is
  'The start number of a Stripe re-read, taken just before it is sent (service_role only).';
revoke execute on function rolepass.start_stripe_read() from public, anon, authenticated;
grant execute on function rolepass.start_stripe_read() to service_role;
