-- The money ledger and the monthly close (seed 003: close a period, and closed data never changes).
--
-- money_ledger holds every paid invoice, refund, dispute and dispute reversal with Stripe's own
-- amount, currency and time, plus the end of every paid subscription (amount 0), written by the
-- stripe-webhook in the transaction of the event that brought it. Rows are never updated or
-- deleted, except a dispute's status, which only moves forward.
--
-- Each fact is placed in a period when it is inserted: its own month in the guild's accounting
-- time zone, or, when that month is already closed, the first open month after the latest closed
-- one, where it counts as an adjustment. close_period() freezes a month's figures into
-- closed_periods and closed_period_figures, which nobody can change afterwards.

-- guild settings ----------------------------------------------------------------------------------
create function public.is_time_zone(zone text) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
  perform timestamptz '2000-01-01 00:00+00' at time zone zone;
  return true;
exception when others then
  return false;
end;
$$;
revoke execute on function public.is_time_zone(text) from public, anon, authenticated;
grant execute on function public.is_time_zone(text) to service_role;

alter table public.guilds
  -- Months are closed in this zone (seed 003's accounting is Japanese, hence the default).
  add column accounting_time_zone text not null default 'Asia/Tokyo'
    check (public.is_time_zone(accounting_time_zone)),
  -- How long after a payment the operator may still refund it (seed 003 chose 24 hours, so a
  -- closed month is not changed by refunds from the system).
  add column refund_window interval not null default interval '24 hours'
    check (refund_window >= interval '0');

-- money ledger ------------------------------------------------------------------------------------
create table public.money_ledger (
  id bigint generated always as identity primary key,
  guild_id text not null references public.guilds (id) on delete restrict,
  plan_id uuid not null,
  stripe_price_id text not null,
  kind text not null
    check (kind in ('invoice_paid', 'refund', 'dispute', 'dispute_won', 'subscription_ended')),
  -- The invoice, refund or dispute (or, for subscription_ended, the subscription).
  stripe_object_id text not null check (length(stripe_object_id) between 3 and 255),
  stripe_customer_id text,
  stripe_subscription_id text,
  stripe_invoice_id text,
  stripe_charge_id text,
  -- A subscription's first invoice: the subscription started.
  starts_subscription boolean not null default false,
  -- Stripe's amount in the currency's smallest unit, always >= 0; the kind gives the sign.
  amount bigint not null check (amount >= 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  -- Stripe's time: the invoice's status_transitions.paid_at, the refund's or dispute's created,
  -- the reversal's balance transaction, the subscription's ended_at.
  occurred_at timestamptz not null,
  -- Set by the placing trigger, never by the writer.
  fact_month date not null,
  period_month date not null,
  is_adjustment boolean generated always as (period_month > fact_month) stored,
  dispute_status text,
  stripe_event_id text,
  recorded_at timestamptz not null default now(),
  unique (kind, stripe_object_id),
  check (period_month >= fact_month),
  check ((kind = 'dispute') = (dispute_status is not null))
);
-- The close reads one month of one guild through this index, never the guild's whole history.
create index money_ledger_guild_occurred_at_idx on public.money_ledger (guild_id, occurred_at);
create index money_ledger_adjustments_idx on public.money_ledger (guild_id, period_month)
  where is_adjustment;
create index money_ledger_subscription_starts_idx on public.money_ledger (stripe_subscription_id)
  where starts_subscription;
comment on table public.money_ledger is
  'Append-only money facts from Stripe (paid invoices, refunds, disputes, reversals, subscription ends), placed in accounting periods. Written by stripe-webhook as service_role; read by the close and the refund task as service_role.';

-- Dispute statuses in the order Stripe moves through them; an update may only move forward.
create function public.dispute_status_rank(status text) returns integer
language sql
immutable
set search_path = ''
as $$
  select case
    when status in ('warning_needs_response', 'needs_response') then 1
    when status in ('warning_under_review', 'under_review') then 2
    when status in ('warning_closed', 'won', 'lost', 'prevented') then 3
    else 0
  end;
$$;
revoke execute on function public.dispute_status_rank(text) from public, anon, authenticated;
grant execute on function public.dispute_status_rank(text) to service_role;

-- Places a new fact in its period. The guild row is locked (key share) so that a concurrent
-- close, which locks it for update, either sees this fact or closes before it is placed.
create function public.place_money_fact() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  zone text;
  latest_closed date;
begin
  select g.accounting_time_zone into zone
  from public.guilds g where g.id = new.guild_id
  for key share;
  if zone is null then
    raise exception 'Cannot record a money fact: guild % does not exist', new.guild_id
      using errcode = 'foreign_key_violation';
  end if;
  select max(c.month) into latest_closed
  from public.closed_periods c where c.guild_id = new.guild_id;
  new.fact_month := date_trunc('month', new.occurred_at at time zone zone)::date;
  new.period_month := greatest(new.fact_month, (latest_closed + interval '1 month')::date);
  new.recorded_at := now();
  return new;
end;
$$;
revoke execute on function public.place_money_fact() from public, anon, authenticated;

create trigger money_ledger_place before insert on public.money_ledger
  for each row execute function public.place_money_fact();

create function public.refuse_money_ledger_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- A BEFORE trigger sees generated columns not yet computed, so is_adjustment is left out.
  if tg_op = 'UPDATE'
    and (to_jsonb(new) - 'dispute_status' - 'is_adjustment')
      = (to_jsonb(old) - 'dispute_status' - 'is_adjustment')
    and public.dispute_status_rank(new.dispute_status)
      > public.dispute_status_rank(old.dispute_status) then
    return new;
  end if;
  raise exception 'money_ledger is append-only: % is refused (only a dispute''s status may move forward)',
    lower(tg_op)
    using errcode = 'restrict_violation';
end;
$$;
revoke execute on function public.refuse_money_ledger_change() from public, anon, authenticated;

create trigger money_ledger_refuse_change before update or delete on public.money_ledger
  for each row execute function public.refuse_money_ledger_change();

-- closed periods ----------------------------------------------------------------------------------
create table public.closed_periods (
  guild_id text not null references public.guilds (id) on delete restrict,
  month date not null check (month = date_trunc('month', month)::date),
  time_zone text not null,
  closed_at timestamptz not null default now(),
  primary key (guild_id, month)
);
comment on table public.closed_periods is
  'Months closed per guild; never changed once written. Written by close_period() as service_role; read by the close, the export and the money ledger''s placing trigger.';

create table public.closed_period_figures (
  guild_id text not null,
  month date not null,
  -- 'period': facts of the month itself; 'adjustment': late facts of fact_month, an earlier
  -- month that was already closed when they arrived.
  row_kind text not null check (row_kind in ('period', 'adjustment')),
  fact_month date not null,
  plan_id uuid not null,
  stripe_price_id text not null,
  plan_name text,
  currency text not null check (currency ~ '^[a-z]{3}$'),
  gross bigint not null,
  refunds bigint not null,
  disputes bigint not null,
  net bigint not null,
  starts integer not null,
  cancellations integer not null,
  -- Only on period rows: paid subscriptions not ended at the end of the month, and their MRR.
  active_at_month_end integer,
  mrr bigint,
  primary key (guild_id, month, row_kind, fact_month, plan_id, currency),
  foreign key (guild_id, month) references public.closed_periods (guild_id, month),
  check ((row_kind = 'period') = (fact_month = month)),
  check ((row_kind = 'period') = (active_at_month_end is not null))
);
comment on table public.closed_period_figures is
  'Frozen figures of a closed month per plan and currency (amounts in the currency''s smallest unit); never changed once written. Written by close_period() as service_role; read by the export and the next close.';

create function public.refuse_closed_period_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  raise exception 'A closed period never changes: % on % is refused', lower(tg_op), tg_table_name
    using errcode = 'restrict_violation';
end;
$$;
revoke execute on function public.refuse_closed_period_change() from public, anon, authenticated;

create trigger closed_periods_refuse_change before update or delete on public.closed_periods
  for each row execute function public.refuse_closed_period_change();
create trigger closed_periods_refuse_truncate before truncate on public.closed_periods
  for each statement execute function public.refuse_closed_period_change();
create trigger closed_period_figures_refuse_change
  before update or delete on public.closed_period_figures
  for each row execute function public.refuse_closed_period_change();
create trigger closed_period_figures_refuse_truncate before truncate on public.closed_period_figures
  for each statement execute function public.refuse_closed_period_change();
create trigger money_ledger_refuse_truncate before truncate on public.money_ledger
  for each statement execute function public.refuse_closed_period_change();

alter table public.money_ledger enable row level security;
alter table public.closed_periods enable row level security;
alter table public.closed_period_figures enable row level security;
revoke all on public.money_ledger, public.closed_periods, public.closed_period_figures
  from public, anon, authenticated;
-- service_role holds the same grants as on every other table: the triggers, not missing grants,
-- are what keep the ledger append-only and closed periods unchanged, also for the owner.
grant select, insert, update, delete on public.money_ledger, public.closed_periods,
  public.closed_period_figures to service_role;

-- the close ---------------------------------------------------------------------------------------
-- Closes `closing_month` (its first day) for a guild. Outcomes: 'closed', 'already_closed' (a
-- no-op: the month, or a later one, is closed already) or 'refused' with the reason.
create function public.close_period(closing_guild_id text, closing_month date)
returns table (outcome text, detail text)
language plpgsql
security definer
set search_path = ''
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
  from public.guilds g where g.id = closing_guild_id
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
  from public.closed_periods c where c.guild_id = closing_guild_id;
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
      from public.money_ledger l
      where l.guild_id = closing_guild_id
        and l.occurred_at < month_start
        and (latest_closed is null or l.occurred_at
          >= (latest_closed + interval '1 month')::timestamp at time zone zone)),
    (select min(l.period_month)
      from public.money_ledger l
      where l.guild_id = closing_guild_id and l.is_adjustment
        and l.period_month < closing_month
        and (latest_closed is null or l.period_month > latest_closed))
  ) into earliest_open_activity;
  if earliest_open_activity is not null then
    return query select 'refused', format(
      'Cannot close %s: %s has activity and is still open; close %s first', label,
      to_char(earliest_open_activity, 'YYYY-MM'), to_char(earliest_open_activity, 'YYYY-MM'));
    return;
  end if;

  insert into public.closed_periods (guild_id, month, time_zone)
  values (closing_guild_id, closing_month, zone);

  insert into public.closed_period_figures (guild_id, month, row_kind, fact_month, plan_id,
    stripe_price_id, plan_name, currency, gross, refunds, disputes, net, starts, cancellations,
    active_at_month_end, mrr)
  with facts as (
    select l.* from public.money_ledger l
    where l.guild_id = closing_guild_id
      and l.occurred_at >= month_start and l.occurred_at < month_end
      and l.period_month = closing_month
    union all
    select l.* from public.money_ledger l
    where l.guild_id = closing_guild_id and l.is_adjustment and l.period_month = closing_month
  ),
  grouped as (
    select case when f.is_adjustment then 'adjustment' else 'period' end as row_kind,
      f.fact_month, f.plan_id, f.currency, min(f.stripe_price_id) as stripe_price_id,
      coalesce(sum(f.amount) filter (where f.kind = 'invoice_paid'), 0) as gross,
      coalesce(sum(f.amount) filter (where f.kind = 'refund'), 0) as refunds,
      coalesce(sum(f.amount) filter (where f.kind = 'dispute'), 0)
        - coalesce(sum(f.amount) filter (where f.kind = 'dispute_won'), 0) as disputes,
      count(*) filter (where f.kind = 'invoice_paid' and f.starts_subscription)::integer
        as starts,
      count(*) filter (where f.kind = 'subscription_ended' and exists (
        select 1 from public.money_ledger s
        where s.stripe_subscription_id = f.stripe_object_id and s.starts_subscription
      ))::integer as cancellations
    from facts f
    group by 1, 2, 3, 4
  ),
  previous as (
    select p.plan_id, p.currency, p.stripe_price_id, p.active_at_month_end
    from public.closed_period_figures p
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
  left join public.plans pl on pl.id = r.plan_id;

  return query select 'closed', format('%s is closed in %s', label, zone);
end;
$$;
revoke execute on function public.close_period(text, date) from public, anon, authenticated;
grant execute on function public.close_period(text, date) to service_role;
