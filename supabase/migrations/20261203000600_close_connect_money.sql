-- Platform mode: the monthly close freezes each guild's side of the money too (issue 15 item 5).
--
-- connect_money_movements (transfers, transfer reversals, application fees, fee refunds) are
-- placed in periods exactly as money_ledger's facts are: a movement's month is its Stripe
-- `created` (occurred_at) in the guild's accounting time zone or, when that month is already
-- closed, the first open month after the latest closed one, where it counts as an adjustment.
-- close_period() freezes them per currency into closed_period_connect_figures, which nobody can
-- change afterwards. A standalone guild has no movements, so its close is what it was.

-- placing movements in periods -------------------------------------------------------------------
alter table rolepass.connect_money_movements
  add column fact_month date,
  add column period_month date;

update rolepass.connect_money_movements m
set fact_month = date_trunc('month', m.occurred_at at time zone g.accounting_time_zone)::date
from rolepass.guilds g
where g.id = m.guild_id;
update rolepass.connect_money_movements m
set period_month = greatest(m.fact_month, (
  select (max(c.month) + interval '1 month')::date
  from rolepass.closed_periods c where c.guild_id = m.guild_id
));

alter table rolepass.connect_money_movements
  alter column fact_month set not null,
  alter column period_month set not null,
  add constraint connect_money_movements_period_not_before_fact check (period_month >= fact_month),
  add column is_adjustment boolean generated always as (period_month > fact_month) stored;
comment on column rolepass.connect_money_movements.fact_month is
  'The month of the movement''s Stripe created in the guild''s accounting time zone; set by the placing trigger, never by the writer.';
comment on column rolepass.connect_money_movements.period_month is
  'The period the movement counts in: fact_month, or the first open month when fact_month was already closed (an adjustment); set by the placing trigger.';
create index connect_money_movements_adjustments_idx
  on rolepass.connect_money_movements (guild_id, period_month) where is_adjustment;

-- Places a new movement in its period. The guild row is locked (key share) so that a concurrent
-- close, which locks it for update, either sees this movement or closes before it is placed.
create function rolepass.place_connect_money_movement() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  zone text;
  latest_closed date;
begin
  select g.accounting_time_zone into zone
  from rolepass.guilds g where g.id = new.guild_id
  for key share;
  if zone is null then
    raise exception 'Cannot record a Connect money movement: guild % does not exist', new.guild_id
      using errcode = 'foreign_key_violation';
  end if;
  select max(c.month) into latest_closed
  from rolepass.closed_periods c where c.guild_id = new.guild_id;
  new.fact_month := date_trunc('month', new.occurred_at at time zone zone)::date;
  new.period_month := greatest(new.fact_month, (latest_closed + interval '1 month')::date);
  new.recorded_at := now();
  return new;
end;
$$;
revoke execute on function rolepass.place_connect_money_movement()
  from public, anon, authenticated;

create trigger connect_money_movements_place before insert on rolepass.connect_money_movements
  for each row execute function rolepass.place_connect_money_movement();

create function rolepass.refuse_connect_money_movement_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  raise exception 'connect_money_movements is append-only: % is refused', lower(tg_op)
    using errcode = 'restrict_violation';
end;
$$;
revoke execute on function rolepass.refuse_connect_money_movement_change()
  from public, anon, authenticated;

create trigger connect_money_movements_refuse_change
  before update or delete on rolepass.connect_money_movements
  for each row execute function rolepass.refuse_connect_money_movement_change();
create trigger connect_money_movements_refuse_truncate
  before truncate on rolepass.connect_money_movements
  for each statement execute function rolepass.refuse_connect_money_movement_change();

-- frozen figures ----------------------------------------------------------------------------------
create table rolepass.closed_period_connect_figures (
  guild_id text not null,
  month date not null,
  -- 'period': movements of the month itself; 'adjustment': late movements of fact_month, an
  -- earlier month that was already closed when they arrived.
  row_kind text not null check (row_kind in ('period', 'adjustment')),
  fact_month date not null,
  currency text not null check (currency ~ '^[a-z]{3}$'),
  -- Platform -> community, and back: net_transfers = transfers - transfer_reversals.
  transfers bigint not null,
  transfer_reversals bigint not null,
  net_transfers bigint not null,
  -- Community -> platform, and back: net_application_fees = application_fees - fee refunds.
  application_fees bigint not null,
  application_fee_refunds bigint not null,
  net_application_fees bigint not null,
  primary key (guild_id, month, row_kind, fact_month, currency),
  foreign key (guild_id, month) references rolepass.closed_periods (guild_id, month),
  check ((row_kind = 'period') = (fact_month = month)),
  check (net_transfers = transfers - transfer_reversals),
  check (net_application_fees = application_fees - application_fee_refunds)
);
comment on table rolepass.closed_period_connect_figures is
  'Platform mode: the guild''s side of a closed month per currency (transfers net of reversals, application fees net of fee refunds, in the currency''s smallest unit); never changed once written. Written by close_period() as service_role; read by the close''s output and export.';

create trigger closed_period_connect_figures_refuse_change
  before update or delete on rolepass.closed_period_connect_figures
  for each row execute function rolepass.refuse_closed_period_change();
create trigger closed_period_connect_figures_refuse_truncate
  before truncate on rolepass.closed_period_connect_figures
  for each statement execute function rolepass.refuse_closed_period_change();

alter table rolepass.closed_period_connect_figures enable row level security;
revoke all on rolepass.closed_period_connect_figures from public, anon, authenticated;
grant select, insert, update, delete on rolepass.closed_period_connect_figures to service_role;

-- the close ---------------------------------------------------------------------------------------
-- From 20261202002700_kept_counts.sql: the same close, which now also refuses a month while an
-- earlier open month has Connect money movements, and freezes the month's movements per currency.
create or replace function rolepass.close_period(closing_guild_id text, closing_month date)
returns table(outcome text, detail text)
language plpgsql
security definer
set search_path = ''
-- One bounded statement over a month of facts: compiling it (about 0.3 s measured at 100,000
-- members) costs more than it saves. A generic plan (PL/pgSQL's choice after five calls in one
-- session) took 2 s where the month's own plan took 0.3 s; planning once a month is free.
set jit = off
set plan_cache_mode = force_custom_plan
as $$
declare
  zone text;
  month_start timestamptz;
  month_end timestamptz;
  latest_closed date;
  earliest_open_activity date;
  label text := to_char(closing_month, 'YYYY-MM');
begin
  select g.accounting_time_zone into zone
  from rolepass.guilds g where g.id = closing_guild_id
  for update;
  if zone is null then
    return query select 'refused', format('No guild %s is configured', closing_guild_id);
    return;
  end if;
  if closing_month is null or closing_month <> date_trunc('month', closing_month)::date then
    return query select 'refused', 'The month to close must be given as its first day';
    return;
  end if;
  month_start := closing_month::timestamp at time zone zone;
  month_end := (closing_month + interval '1 month')::timestamp at time zone zone;
  if month_end > now() then
    return query select 'refused', format('Cannot close %s: it has not ended yet in %s', label, zone);
    return;
  end if;

  select max(c.month) into latest_closed
  from rolepass.closed_periods c where c.guild_id = closing_guild_id;
  if latest_closed is not null and closing_month <= latest_closed then
    return query select 'already_closed', case when closing_month = latest_closed
      then format('%s is already closed; nothing changed', label)
      else format('%s is closed already: %s, a later month, is closed; nothing changed', label,
        to_char(latest_closed, 'YYYY-MM')) end;
    return;
  end if;

  -- Facts between the latest closed month and this one belong to an earlier open month.
  select least(
    (select date_trunc('month', min(l.occurred_at) at time zone zone)::date
      from rolepass.money_ledger l
      where l.guild_id = closing_guild_id
        and l.occurred_at < month_start
        and (latest_closed is null or l.occurred_at
          >= (latest_closed + interval '1 month')::timestamp at time zone zone)),
    (select min(l.period_month)
      from rolepass.money_ledger l
      where l.guild_id = closing_guild_id and l.is_adjustment
        and l.period_month < closing_month
        and (latest_closed is null or l.period_month > latest_closed)),
    (select date_trunc('month', min(m.occurred_at) at time zone zone)::date
      from rolepass.connect_money_movements m
      where m.guild_id = closing_guild_id
        and m.occurred_at < month_start
        and (latest_closed is null or m.occurred_at
          >= (latest_closed + interval '1 month')::timestamp at time zone zone)),
    (select min(m.period_month)
      from rolepass.connect_money_movements m
      where m.guild_id = closing_guild_id and m.is_adjustment
        and m.period_month < closing_month
        and (latest_closed is null or m.period_month > latest_closed))
  ) into earliest_open_activity;
  if earliest_open_activity is not null then
    return query select 'refused', format(
      'Cannot close %s: %s has activity and is still open; close %s first', label,
      to_char(earliest_open_activity, 'YYYY-MM'), to_char(earliest_open_activity, 'YYYY-MM'));
    return;
  end if;

  insert into rolepass.closed_periods (guild_id, month, time_zone)
  values (closing_guild_id, closing_month, zone);

  insert into rolepass.closed_period_figures (guild_id, month, row_kind, fact_month, plan_id,
    stripe_price_id, plan_name, currency, gross, refunds, disputes, net, starts, cancellations,
    active_at_month_end, mrr)
  with facts as not materialized (
    -- Only the columns the figures need; not materialized, so the month's rows are aggregated as
    -- they are read (no copy spilled to disk) and `ended` reads its own index.
    select l.is_adjustment, l.fact_month, l.plan_id, l.currency, l.stripe_price_id, l.kind,
      l.amount, l.starts_subscription, l.stripe_object_id
    from rolepass.money_ledger l
    where l.guild_id = closing_guild_id
      and l.occurred_at >= month_start and l.occurred_at < month_end
      and l.period_month = closing_month
    union all
    select l.is_adjustment, l.fact_month, l.plan_id, l.currency, l.stripe_price_id, l.kind,
      l.amount, l.starts_subscription, l.stripe_object_id
    from rolepass.money_ledger l
    where l.guild_id = closing_guild_id and l.is_adjustment and l.period_month = closing_month
  ),
  sums as (
    select f.is_adjustment, f.fact_month, f.plan_id, f.currency,
      min(f.stripe_price_id) as stripe_price_id,
      coalesce(sum(f.amount) filter (where f.kind = 'invoice_paid'), 0) as gross,
      coalesce(sum(f.amount) filter (where f.kind = 'refund'), 0) as refunds,
      coalesce(sum(f.amount) filter (where f.kind = 'dispute'), 0)
        - coalesce(sum(f.amount) filter (where f.kind = 'dispute_won'), 0) as disputes,
      count(*) filter (where f.kind = 'invoice_paid' and f.starts_subscription)::integer
        as starts
    from facts f
    group by 1, 2, 3, 4
  ),
  -- A subscription end counts as a cancellation when its start is in the ledger: one index
  -- lookup per end of this month, rather than a hash of every start the guild ever had.
  ended as (
    select f.is_adjustment, f.fact_month, f.plan_id, f.currency, count(*)::integer as cancellations
    from facts f
    where f.kind = 'subscription_ended'
      and exists (
        select 1 from rolepass.money_ledger s
        where s.stripe_subscription_id = f.stripe_object_id and s.starts_subscription
        offset 0
      )
    group by 1, 2, 3, 4
  ),
  grouped as (
    select case when s.is_adjustment then 'adjustment' else 'period' end as row_kind,
      s.fact_month, s.plan_id, s.currency, s.stripe_price_id, s.gross, s.refunds, s.disputes,
      s.starts, coalesce(e.cancellations, 0) as cancellations
    from sums s
    left join ended e on e.is_adjustment = s.is_adjustment and e.fact_month = s.fact_month
      and e.plan_id = s.plan_id and e.currency = s.currency
  ),
  previous as (
    select p.plan_id, p.currency, p.stripe_price_id, p.active_at_month_end
    from rolepass.closed_period_figures p
    where p.guild_id = closing_guild_id and p.month = latest_closed and p.row_kind = 'period'
  ),
  movement as (
    select g.plan_id, g.currency, min(g.stripe_price_id) as stripe_price_id,
      sum(g.starts - g.cancellations)::integer as net_starts
    from grouped g group by 1, 2
  ),
  active as (
    select coalesce(m.plan_id, p.plan_id) as plan_id,
      coalesce(m.currency, p.currency) as currency,
      coalesce(m.stripe_price_id, p.stripe_price_id) as stripe_price_id,
      greatest(coalesce(p.active_at_month_end, 0) + coalesce(m.net_starts, 0), 0) as members
    from movement m
    full join previous p on p.plan_id = m.plan_id and p.currency = m.currency
  ),
  period_rows as (
    select 'period'::text as row_kind, closing_month as fact_month, a.plan_id, a.currency,
      coalesce(g.stripe_price_id, a.stripe_price_id) as stripe_price_id,
      coalesce(g.gross, 0) as gross, coalesce(g.refunds, 0) as refunds,
      coalesce(g.disputes, 0) as disputes, coalesce(g.starts, 0) as starts,
      coalesce(g.cancellations, 0) as cancellations, a.members
    from active a
    left join grouped g
      on g.row_kind = 'period' and g.plan_id = a.plan_id and g.currency = a.currency
  )
  select closing_guild_id, closing_month, r.row_kind, r.fact_month, r.plan_id,
    r.stripe_price_id, pl.display -> 'en' ->> 'name', r.currency, r.gross, r.refunds,
    r.disputes, r.gross - r.refunds - r.disputes, r.starts, r.cancellations, r.members,
    case when r.members is null then null
      when pl.currency = r.currency then round(r.members * pl.unit_amount
        * case pl.billing_interval when 'day' then 365.0 / 12 when 'week' then 52.0 / 12
            when 'month' then 1.0 else 1.0 / 12 end
        / pl.interval_count)::bigint
      else 0 end
  from (
    select p.row_kind, p.fact_month, p.plan_id, p.currency, p.stripe_price_id, p.gross,
      p.refunds, p.disputes, p.starts, p.cancellations, p.members
    from period_rows p
    union all
    select g.row_kind, g.fact_month, g.plan_id, g.currency, g.stripe_price_id, g.gross,
      g.refunds, g.disputes, g.starts, g.cancellations, null::integer
    from grouped g where g.row_kind = 'adjustment'
  ) r
  left join rolepass.plans pl on pl.id = r.plan_id;

  -- Platform mode: the guild's side of the month's money, per currency. A movement of this month
  -- is read through its (guild, occurred_at) index, a late one through the adjustments index.
  insert into rolepass.closed_period_connect_figures (guild_id, month, row_kind, fact_month,
    currency, transfers, transfer_reversals, net_transfers, application_fees,
    application_fee_refunds, net_application_fees)
  select closing_guild_id, closing_month, s.row_kind, s.fact_month, s.currency, s.transfers,
    s.transfer_reversals, s.transfers - s.transfer_reversals, s.application_fees,
    s.application_fee_refunds, s.application_fees - s.application_fee_refunds
  from (
    select case when m.is_adjustment then 'adjustment' else 'period' end as row_kind,
      m.fact_month, m.currency,
      coalesce(sum(m.amount) filter (where m.kind = 'transfer'), 0) as transfers,
      coalesce(sum(m.amount) filter (where m.kind = 'transfer_reversal'), 0)
        as transfer_reversals,
      coalesce(sum(m.amount) filter (where m.kind = 'application_fee'), 0) as application_fees,
      coalesce(sum(m.amount) filter (where m.kind = 'application_fee_refund'), 0)
        as application_fee_refunds
    from (
      select m.is_adjustment, m.fact_month, m.currency, m.kind, m.amount
      from rolepass.connect_money_movements m
      where m.guild_id = closing_guild_id
        and m.occurred_at >= month_start and m.occurred_at < month_end
        and m.period_month = closing_month
      union all
      select m.is_adjustment, m.fact_month, m.currency, m.kind, m.amount
      from rolepass.connect_money_movements m
      where m.guild_id = closing_guild_id and m.is_adjustment and m.period_month = closing_month
    ) m
    group by 1, 2, 3
  ) s;

  return query select 'closed', format('%s is closed in %s', label, zone);
end;
$$;
