-- The member's timeline and the operator log, queued into the notices outbox by the changes that
-- call for them: triggers on memberships (failed payment, recovery, scheduled cancel and its undo,
-- plan change without a role change), on the money ledger (new subscription, renewal paid, refund,
-- dispute opened and won, subscription ended) and on stripe_events (an event failing repeatedly),
-- plus a cron reminder before a grace period ends. Role grants and revocations are told by the
-- role job that applies them (finish_role_job_with_notice), so each change has one message.

-- The plan's name in `locale`, else in English.
create function rolepass.plan_name(display jsonb, locale text) returns text
language sql
immutable
set search_path = ''
as $$
  select coalesce(display -> locale ->> 'name', display -> 'en' ->> 'name');
$$;
revoke execute on function rolepass.plan_name(jsonb, text) from public, anon, authenticated;
grant execute on function rolepass.plan_name(jsonb, text) to service_role;

create function rolepass.queue_membership_notices() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild rolepass.guilds;
  display jsonb;
  member_payload jsonb;
  operator_payload jsonb;
  -- Each change is told once: a replayed event leaves the row unchanged and fires nothing here.
  change text := coalesce(new.change_event_id, gen_random_uuid()::text);
  still_held boolean := old.entitled and new.entitled;
begin
  select * into guild from rolepass.guilds g where g.id = new.guild_id;
  select p.display into display from rolepass.plans p where p.id = new.plan_id;
  member_payload := jsonb_build_object('guildName', guild.name, 'plan', display);
  operator_payload := jsonb_build_object('memberId', new.discord_user_id,
    'planName', rolepass.plan_name(display, guild.default_locale));

  if new.status = 'past_due' and old.status is distinct from 'past_due' then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'payment_failed',
      new.locale, member_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'payment_failed:' || new.id || ':' || change);
    perform rolepass.enqueue_operator_notice(new.guild_id, 'payment_failed',
      operator_payload || jsonb_build_object('at',
        case when new.entitled then new.entitled_until end),
      'op:payment_failed:' || new.id || ':' || change);
  elsif old.status in ('past_due', 'unpaid') and new.status in ('active', 'trialing') then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id,
      'payment_recovered', new.locale, member_payload,
      'payment_recovered:' || new.id || ':' || change);
  end if;

  if still_held and old.cancel_at is null and new.cancel_at is not null then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'cancel_scheduled',
      new.locale, member_payload || jsonb_build_object('at', new.cancel_at),
      'cancel_scheduled:' || new.id || ':' || change);
    perform rolepass.enqueue_operator_notice(new.guild_id, 'cancellation_scheduled',
      operator_payload || jsonb_build_object('at', new.cancel_at),
      'op:cancellation_scheduled:' || new.id || ':' || change);
  elsif still_held and old.cancel_at is not null and new.cancel_at is null then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'cancel_undone',
      new.locale, member_payload, 'cancel_undone:' || new.id || ':' || change);
  end if;

  -- A plan change that swaps the role is told by the role job; one that keeps it, here.
  if still_held and old.plan_id is distinct from new.plan_id
    and old.entitled_role_id = new.entitled_role_id then
    perform rolepass.enqueue_member_notice(new.guild_id, new.discord_user_id, 'plan_changed',
      new.locale, member_payload, 'plan_changed:' || new.id || ':' || change);
  end if;
  return null;
end;
$$;
revoke execute on function rolepass.queue_membership_notices() from public, anon, authenticated;

create trigger memberships_queue_notices
  after update on rolepass.memberships
  for each row execute function rolepass.queue_membership_notices();

-- Money facts for the operator log: each ledger row is recorded once (unique kind and object).
create function rolepass.queue_money_notices() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild rolepass.guilds;
  member_id text;
  display jsonb;
  payload jsonb;
  log_kind text;
begin
  select * into guild from rolepass.guilds g where g.id = new.guild_id;
  select m.discord_user_id into member_id from rolepass.memberships m
    where m.guild_id = new.guild_id and m.stripe_customer_id = new.stripe_customer_id;
  select p.display into display from rolepass.plans p where p.id = new.plan_id;
  log_kind := case new.kind
    when 'invoice_paid' then
      case when new.starts_subscription then 'new_subscription' else 'renewal_paid' end
    when 'refund' then 'refund'
    when 'dispute' then 'dispute_opened'
    when 'dispute_won' then 'dispute_closed'
    when 'subscription_ended' then 'subscription_ended'
  end;
  payload := jsonb_strip_nulls(jsonb_build_object(
    'memberId', member_id,
    'planName', rolepass.plan_name(display, guild.default_locale),
    'amountMinor', case when new.kind <> 'subscription_ended' then new.amount end,
    'currency', new.currency,
    'reason', case new.kind
      when 'dispute' then new.dispute_status
      when 'dispute_won' then 'won'
      when 'subscription_ended' then 'canceled'
      when 'refund' then 'refund'
    end));
  perform rolepass.enqueue_operator_notice(new.guild_id, log_kind, payload,
    'ledger:' || new.kind || ':' || new.stripe_object_id);
  return null;
end;
$$;
revoke execute on function rolepass.queue_money_notices() from public, anon, authenticated;

create trigger money_ledger_queue_notices
  after insert on rolepass.money_ledger
  for each row execute function rolepass.queue_money_notices();

-- A Stripe event that failed three times is told to every guild's operators once (an event
-- names no guild until it is processed).
create function rolepass.queue_failing_event_notices() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  guild_id text;
begin
  if new.processed_at is null and new.attempts >= 3 and old.attempts < 3 then
    for guild_id in
      select g.id from rolepass.guilds g where g.operator_log_channel_id is not null
    loop
      perform rolepass.enqueue_operator_notice(guild_id, 'webhook_failing',
        jsonb_build_object('reason', new.type || ' ' || new.id),
        'webhook_failing:' || new.id || ':' || guild_id);
    end loop;
  end if;
  return null;
end;
$$;
revoke execute on function rolepass.queue_failing_event_notices()
  from public, anon, authenticated;

create trigger stripe_events_queue_notices
  after update of attempts on rolepass.stripe_events
  for each row execute function rolepass.queue_failing_event_notices();

-- Reminds members in a grace period that it is ending: when at most a day, or half of the grace
-- period, is left. Once per grace period (keyed by when it began). Returns how many it queued.
create function rolepass.remind_grace_ending(max_rows integer default 1000) returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  reminded integer := 0;
  member record;
begin
  for member in
    select m.id, m.guild_id, m.discord_user_id, m.locale, m.entitled_until, m.past_due_since,
      g.name as guild_name, p.display
    from rolepass.memberships m
    join rolepass.guilds g on g.id = m.guild_id
    left join rolepass.plans p on p.id = m.plan_id
    where m.entitled and m.status = 'past_due' and m.entitled_until is not null
      and m.entitled_until > now()
      and m.entitled_until - now() <= least(interval '24 hours',
        (m.entitled_until - coalesce(m.past_due_since, now())) / 2)
    order by m.entitled_until
    limit greatest(max_rows, 0)
  loop
    if rolepass.enqueue_member_notice(member.guild_id, member.discord_user_id, 'grace_ending',
      member.locale, jsonb_build_object('guildName', member.guild_name, 'plan', member.display,
        'at', member.entitled_until),
      'grace_ending:' || member.id || ':' || coalesce(member.past_due_since::text, '')) is not null
    then
      reminded := reminded + 1;
    end if;
  end loop;
  return reminded;
end;
$$;
revoke execute on function rolepass.remind_grace_ending(integer) from public, anon, authenticated;
grant execute on function rolepass.remind_grace_ending(integer) to service_role;

select cron.schedule('rolepass-grace-reminders', '*/10 * * * *',
  'select rolepass.remind_grace_ending()');
