-- Platform mode: a lost dispute on a destination charge is debited from the platform; the guild's
-- policy says whether the platform takes it back from the guild's transfer (docs/DECISIONS.md).

-- none: the platform bears lost disputes; amount: the disputed amount is taken back;
-- amount_and_fee: Stripe's dispute fee too (as far as the charge's transfer reaches).
alter table rolepass.guild_stripe_accounts
  add column lost_dispute_recovery text not null default 'amount_and_fee'
    check (lost_dispute_recovery in ('none', 'amount', 'amount_and_fee'));
comment on column rolepass.guild_stripe_accounts.lost_dispute_recovery is
  'What the platform takes back from the guild''s transfer when a dispute is lost: none, amount, or amount_and_fee (Stripe''s dispute fee too).';

-- The dispute a transfer reversal recovered (null for a refund's reversal and other movements).
-- One recovery per dispute: a replayed charge.dispute.closed never records a second one.
alter table rolepass.connect_money_movements
  add column stripe_dispute_id text check (stripe_dispute_id ~ '^(dp|du)_[A-Za-z0-9]+$'),
  add constraint connect_money_movements_dispute_is_a_reversal
    check (stripe_dispute_id is null or kind = 'transfer_reversal');
create unique index connect_money_movements_one_recovery_per_dispute
  on rolepass.connect_money_movements (stripe_dispute_id) where stripe_dispute_id is not null;
comment on column rolepass.connect_money_movements.stripe_dispute_id is
  'The lost dispute this transfer reversal recovered from the guild, from the reversal''s rolepass_dispute_id metadata.';
