-- Platform mode (Stripe Connect Express, destination charges; docs/DECISIONS.md): each guild sells
-- through its own connected account. This table keeps the account, what rolepass last read of it
-- from Stripe, and the guild's platform fee and refund policy.

create table rolepass.guild_stripe_accounts (
  guild_id rolepass.discord_snowflake primary key
    references rolepass.guilds (id) on delete restrict,
  -- One account per guild and one guild per account: a community's money never reaches another's.
  stripe_account_id text not null unique check (stripe_account_id ~ '^acct_[A-Za-z0-9]+$'),
  details_submitted boolean not null default false,
  charges_enabled boolean not null default false,
  payouts_enabled boolean not null default false,
  -- requirements.currently_due and requirements.disabled_reason as Stripe last said.
  requirements_due text[] not null default '{}',
  disabled_reason text check (length(disabled_reason) <= 200),
  -- Stripe's application_fee_percent: at most two decimals.
  platform_fee_percent numeric(5, 2) not null default 0
    check (platform_fee_percent between 0 and 100),
  -- Whether a refund gives the platform's fee back too (the transfer is always reversed).
  refund_application_fee boolean not null default true,
  -- The start number (rolepass.start_stripe_read) of the newest account read applied: a read
  -- that started earlier, delivered late, changes nothing.
  read_seq bigint,
  read_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table rolepass.guild_stripe_accounts is
  'Platform mode: each guild''s Stripe Connect Express account, its state as last read from Stripe (details submitted, charges and payouts enabled, requirements due), its platform fee and refund policy. Written by deno task connect (onboarding) and the stripe-webhook Connect endpoint (account.updated); read by checkout, the plan page''s checkout API, the refund task and the webhook. service_role only.';

alter table rolepass.guild_stripe_accounts enable row level security;
revoke all on rolepass.guild_stripe_accounts from public, anon, authenticated;
grant select, insert, update, delete on rolepass.guild_stripe_accounts to service_role;

-- Applies a read of a connected account (GET /v1/accounts/:id) begun at `read_seq`, unless a read
-- begun later was applied first. Returns the guild the account belongs to, or null when no guild
-- owns it (the caller records the event as ignored).
create function rolepass.apply_stripe_account_read(
  account_id text,
  read_seq bigint,
  details_submitted boolean,
  charges_enabled boolean,
  payouts_enabled boolean,
  requirements_due text[],
  disabled_reason text
) returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  owner text;
begin
  select a.guild_id into owner from rolepass.guild_stripe_accounts a
    where a.stripe_account_id = account_id
    for update;
  if not found then
    return null;
  end if;
  update rolepass.guild_stripe_accounts a set
      details_submitted = apply_stripe_account_read.details_submitted,
      charges_enabled = apply_stripe_account_read.charges_enabled,
      payouts_enabled = apply_stripe_account_read.payouts_enabled,
      requirements_due = apply_stripe_account_read.requirements_due,
      disabled_reason = apply_stripe_account_read.disabled_reason,
      read_seq = apply_stripe_account_read.read_seq,
      read_at = now(),
      updated_at = now()
    where a.stripe_account_id = account_id
      and (a.read_seq is null or a.read_seq < apply_stripe_account_read.read_seq);
  return owner;
end;
$$;
comment on function rolepass.apply_stripe_account_read(text, bigint, boolean, boolean, boolean, text[], text) is
  'Writes a connected account''s state read from Stripe unless a newer read was applied; returns the owning guild or null (service_role only).';
revoke execute on function rolepass.apply_stripe_account_read(text, bigint, boolean, boolean, boolean, text[], text)
  from public, anon, authenticated;
grant execute on function rolepass.apply_stripe_account_read(text, bigint, boolean, boolean, boolean, text[], text)
  to service_role;
