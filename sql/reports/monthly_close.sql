-- Monthly close report, per guild, month, plan and currency, from the money ledger:
--   status 'closed'  the frozen figures of a closed month (rolepass.closed_period_figures), exactly
--                    as `deno task close` recorded them; they never change afterwards
--   status 'open'    the months not closed yet, summed from rolepass.money_ledger as they stand now
--                    (provisional: no members at month end or MRR until the month is closed)
--   row_kind         'period' for the month's own facts, 'adjustment' for late facts of an
--                    earlier, already closed month (fact_month), counted in this month instead
--
-- Amounts are in the currency's smallest unit (JPY in yen, USD in cents); currencies are never
-- added together. Months are calendar months in the guild's accounting time zone
-- (guilds.accounting_time_zone), and every fact is dated by Stripe's own time: an invoice by
-- when it was paid, a refund or dispute by when Stripe created it, a subscription's end by its
-- ended_at.
--
-- This replaces the earlier report, which recounted starts, cancellations, refunds, disputes and
-- members at month end from membership_history on every run: starts are now paid first invoices
-- (billing_reason subscription_create), cancellations are subscription ends in the ledger,
-- refunds and disputes are amounts (partial refunds included, whatever revoke_on_refund says),
-- and members at month end and MRR are recorded once, when the month is closed.
--
-- Run it as service_role or the postgres role, e.g.
--   psql "$DATABASE_URL" -f sql/reports/monthly_close.sql
with closed as (
  select f.guild_id, to_char(f.month, 'YYYY-MM') as month, 'closed' as status, f.row_kind,
    to_char(f.fact_month, 'YYYY-MM') as fact_month, f.plan_id, f.stripe_price_id, f.plan_name,
    f.currency, f.gross, f.refunds, f.disputes, f.net, f.starts, f.cancellations,
    f.active_at_month_end, f.mrr
  from rolepass.closed_period_figures f
),
open_months as (
  select l.guild_id, to_char(l.period_month, 'YYYY-MM') as month, 'open' as status,
    case when l.is_adjustment then 'adjustment' else 'period' end as row_kind,
    to_char(l.fact_month, 'YYYY-MM') as fact_month, l.plan_id, l.stripe_price_id,
    p.display -> 'en' ->> 'name' as plan_name, l.currency,
    coalesce(sum(l.amount) filter (where l.kind = 'invoice_paid'), 0) as gross,
    coalesce(sum(l.amount) filter (where l.kind = 'refund'), 0) as refunds,
    coalesce(sum(l.amount) filter (where l.kind = 'dispute'), 0)
      - coalesce(sum(l.amount) filter (where l.kind = 'dispute_won'), 0) as disputes,
    count(*) filter (where l.kind = 'invoice_paid' and l.starts_subscription)::integer as starts,
    count(*) filter (where l.kind = 'subscription_ended' and exists (
      select 1 from rolepass.money_ledger s
      where s.stripe_subscription_id = l.stripe_object_id and s.starts_subscription
    ))::integer as cancellations
  from rolepass.money_ledger l
  left join rolepass.plans p on p.id = l.plan_id
  where not exists (
    select 1 from rolepass.closed_periods c
    where c.guild_id = l.guild_id and c.month = l.period_month
  )
  group by l.guild_id, l.period_month, l.is_adjustment, l.fact_month, l.plan_id,
    l.stripe_price_id, p.display, l.currency
)
select guild_id, month, status, row_kind, fact_month, plan_id, stripe_price_id, plan_name,
  currency, gross, refunds, disputes, net, starts, cancellations, active_at_month_end, mrr
from closed
union all
select guild_id, month, status, row_kind, fact_month, plan_id, stripe_price_id, plan_name,
  currency, gross, refunds, disputes, gross - refunds - disputes, starts, cancellations,
  null::integer, null::bigint
from open_months
order by guild_id, month, row_kind desc, fact_month, stripe_price_id, currency;
