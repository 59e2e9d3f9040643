-- Monthly close, read from the contract history (public.membership_history), per month and plan:
--   starts       subscriptions that first became active or trialing that month
--   cancellations started subscriptions that first became canceled or unpaid that month
--   refunds      subscriptions revoked by a full refund that month (history cause 'refund')
--   disputes     subscriptions revoked by a dispute that month (history cause 'dispute')
--   active_at_month_end  memberships entitled to the plan's role at the end of the month
--
-- Months are calendar months in the accounting time zone set in `settings` (Asia/Tokyo by
-- default). Each history row carries the Stripe event that caused it, so every figure can be
-- traced back to Stripe. Stripe lets refunds happen at any time, so a month that was already
-- closed can still gain a refund later: run the close after the refund window the business allows
-- (see the accounting note in the seeds) and keep the output as the closed figures.
--
-- Run it as service_role or the postgres role, e.g.
--   psql "$DATABASE_URL" -f sql/reports/monthly_close.sql
with settings as (
  select 'Asia/Tokyo'::text as time_zone
),
history as (
  select h.id, h.membership_id, h.operation, h.cause, h.new_status, h.new_entitled,
    h.new_plan_id, h.changed_at,
    h.new_row ->> 'stripe_subscription_id' as subscription_id,
    date_trunc('month', h.changed_at at time zone s.time_zone) as month
  from public.membership_history h
  cross join settings s
),
months as (
  select generate_series(
    (select min(month) from history),
    date_trunc('month', now() at time zone (select time_zone from settings)),
    interval '1 month'
  ) as month
),
starts as (
  select distinct on (subscription_id) subscription_id, new_plan_id as plan_id, month
  from history
  where subscription_id is not null and new_status in ('active', 'trialing')
  order by subscription_id, changed_at, id
),
cancellations as (
  select distinct on (h.subscription_id) h.subscription_id, h.new_plan_id as plan_id, h.month
  from history h
  join starts s on s.subscription_id = h.subscription_id
  where h.new_status in ('canceled', 'unpaid')
  order by h.subscription_id, h.changed_at, h.id
),
revocations as (
  select distinct on (subscription_id, cause) subscription_id, cause, new_plan_id as plan_id,
    month
  from history
  where subscription_id is not null and cause in ('refund', 'dispute')
  order by subscription_id, cause, changed_at, id
),
month_end as (
  select m.month, latest.plan_id
  from months m
  cross join lateral (
    select distinct on (h.membership_id) h.membership_id, h.new_entitled,
      h.new_plan_id as plan_id
    from history h
    where h.month <= m.month
    order by h.membership_id, h.changed_at desc, h.id desc
  ) latest
  where latest.new_entitled
),
figures as (
  select month, plan_id, 1 as starts, 0 as cancellations, 0 as refunds, 0 as disputes,
    0 as active_at_month_end
  from starts
  union all
  select month, plan_id, 0, 1, 0, 0, 0 from cancellations
  union all
  select month, plan_id, 0, 0, 1, 0, 0 from revocations where cause = 'refund'
  union all
  select month, plan_id, 0, 0, 0, 1, 0 from revocations where cause = 'dispute'
  union all
  select month, plan_id, 0, 0, 0, 0, 1 from month_end
)
select to_char(f.month, 'YYYY-MM') as month,
  f.plan_id,
  p.guild_id,
  p.stripe_price_id,
  p.display -> 'en' ->> 'name' as plan_name,
  sum(f.starts)::integer as starts,
  sum(f.cancellations)::integer as cancellations,
  sum(f.refunds)::integer as refunds,
  sum(f.disputes)::integer as disputes,
  sum(f.active_at_month_end)::integer as active_at_month_end
from figures f
left join public.plans p on p.id = f.plan_id
group by f.month, f.plan_id, p.guild_id, p.stripe_price_id, p.display
order by f.month, p.guild_id, p.stripe_price_id;
