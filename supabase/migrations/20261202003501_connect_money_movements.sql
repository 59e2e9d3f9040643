-- Platform mode's other side of the money (docs/DECISIONS.md): for each destination charge, the
-- transfer to the guild's connected account and the platform's application fee taken back; for
-- each refund or dispute recovery, the transfer reversal and the fee refund. Beside money_ledger
-- (what the member paid and got back), these rows say who ended up with it.

create table rolepass.connect_money_movements (
  id bigint generated always as identity primary key,
  guild_id rolepass.discord_snowflake not null references rolepass.guilds (id) on delete restrict,
  stripe_account_id text not null check (stripe_account_id ~ '^acct_[A-Za-z0-9]+$'),
  -- transfer: platform -> community; transfer_reversal: community -> platform;
  -- application_fee: community -> platform; application_fee_refund: platform -> community.
  kind text not null check (kind in ('transfer', 'transfer_reversal', 'application_fee',
    'application_fee_refund')),
  -- The transfer (tr_), reversal (trr_), fee (fee_) or fee refund (fr_).
  stripe_object_id text not null check (length(stripe_object_id) between 3 and 255),
  -- The transfer or fee a reversal or refund belongs to; the charge a transfer or fee came from.
  stripe_parent_id text,
  stripe_charge_id text,
  -- Stripe's amount in the currency's smallest unit, always >= 0; the kind gives the direction.
  amount bigint not null check (amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  occurred_at timestamptz not null,
  stripe_event_id text,
  recorded_at timestamptz not null default now(),
  unique (kind, stripe_object_id)
);
create index connect_money_movements_guild_occurred_at_idx
  on rolepass.connect_money_movements (guild_id, occurred_at);
comment on table rolepass.connect_money_movements is
  'Append-only platform-mode money between the platform and each guild''s connected account (transfers, reversals, application fees and their refunds), as Stripe re-read them. Written by stripe-webhook as service_role; read by operators and the close as service_role.';

alter table rolepass.connect_money_movements enable row level security;
revoke all on rolepass.connect_money_movements from public, anon, authenticated;
grant select, insert on rolepass.connect_money_movements to service_role;
