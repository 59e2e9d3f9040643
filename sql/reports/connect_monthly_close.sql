-- Platform mode: the community's side of each month, per guild and currency, beside
-- monthly_close.sql (what the members paid):
--   status 'closed'  the frozen figures of a closed month (rolepass.closed_period_connect_figures),
--                    exactly as `deno task close` recorded them; they never change afterwards
--   status 'open'    the months not closed yet, summed from rolepass.connect_money_movements as
--                    they stand now
--   row_kind         'period' for the month's own movements, 'adjustment' for late movements of an
--                    earlier, already closed month (fact_month), counted in this month instead
--
-- transfers: platform -> community; transfer_reversals: taken back (refunds, lost disputes);
-- application_fees: the platform's fee; application_fee_refunds: fees given back. Amounts are in
-- the currency's smallest unit; currencies are never added together. A movement's month is its
-- Stripe `created` in the guild's accounting time zone. Standalone guilds have no rows.
--
-- Run it as service_role or the postgres role, e.g.
--   psql "$DATABASE_URL" -f sql/reports/connect_monthly_close.sql
with open_months as (
  select m.guild_id, to_char(m.period_month, 'YYYY-MM') as month, 'open' as status,
    case when m.is_adjustment then 'adjustment' else 'period' end as row_kind,
    to_char(m.fact_month, 'YYYY-MM') as fact_month, m.currency,
    coalesce(sum(m.amount) filter (where m.kind = 'transfer'), 0) as transfers,
    coalesce(sum(m.amount) filter (where m.kind = 'transfer_reversal'), 0) as transfer_reversals,
    coalesce(sum(m.amount) filter (where m.kind = 'application_fee'), 0) as application_fees,
    coalesce(sum(m.amount) filter (where m.kind = 'application_fee_refund'), 0)
      as application_fee_refunds
  from rolepass.connect_money_movements m
  where not exists (
    select 1 from rolepass.closed_periods c
    where c.guild_id = m.guild_id and c.month = m.period_month
  )
  group by m.guild_id, m.period_month, m.is_adjustment, m.fact_month, m.currency
)
select f.guild_id, to_char(f.month, 'YYYY-MM') as month, 'closed' as status, f.row_kind,
  to_char(f.fact_month, 'YYYY-MM') as fact_month, f.currency, f.transfers, f.transfer_reversals,
  f.net_transfers, f.application_fees, f.application_fee_refunds, f.net_application_fees
from rolepass.closed_period_connect_figures f
union all
select guild_id, month, status, row_kind, fact_month, currency, transfers, transfer_reversals,
  transfers - transfer_reversals, application_fees, application_fee_refunds,
  application_fees - application_fee_refunds
from open_months
order by guild_id, month, row_kind desc, fact_month, currency;
