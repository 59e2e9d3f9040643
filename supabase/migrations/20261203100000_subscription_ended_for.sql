-- Why a subscription ended is Stripe's word, stored as a fact the core decided (issue 11 item 3).
-- Until now role-sync told a member whose subscription ended that the payment failed when the
-- status before the end (read from membership_history on every role job) was a failed renewal's:
-- a history lookup on role-sync's path, and wrong for a member who cancels while a renewal is past
-- due, who asked for the end. Stripe says why it ended (`subscription.cancellation_details.reason`:
-- cancellation_requested, payment_failed or payment_disputed); the core reads it
-- (functions/_core/entitlement.ts subscriptionEndedFor) and the sync stores it on the membership:
-- - ended_for: 'requested' (the member or an operator cancelled), 'payment_failed' (the renewal's
--   retries ran out), 'dispute' (Stripe ended it for a dispute); null while the subscription has
--   not ended, and when Stripe gave no reason (a trial that ended without a card, say).
-- Memberships that ended before this migration keep null: Stripe's reason was never read for them,
-- and a role job that tells one of them about its end says it ended, as any other end.

alter table rolepass.memberships
  add column ended_for text
    check (ended_for in ('requested', 'payment_failed', 'dispute'));
comment on column rolepass.memberships.ended_for is
  'Why Stripe ended the membership''s subscription, from its cancellation_details.reason as the '
  'core decides it (functions/_core/entitlement.ts subscriptionEndedFor): ''requested'', '
  '''payment_failed'' or ''dispute''; null while it has not ended or when Stripe gave no reason. '
  'Written by the sync only; role-sync reads it to tell the member why the role ended.';

-- The sync reads the fact back, so an unchanged membership is still left unwritten (newest
-- before: 20261203000200_status_facts_stored.sql; otherwise as it was).
create or replace function rolepass.stripe_sync_inputs(
  p_membership_id uuid,
  p_subscription_ids text[]
)
returns jsonb
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
begin
  return (
    select jsonb_build_object(
      'id', m.id, 'guild_id', m.guild_id, 'stripe_customer_id', m.stripe_customer_id,
      'stripe_subscription_id', m.stripe_subscription_id, 'plan_id', m.plan_id,
      'status', m.status, 'current_period_end', m.current_period_end, 'cancel_at', m.cancel_at,
      'cancel_at_period_end', m.cancel_at_period_end, 'past_due_since', m.past_due_since,
      'entitled', m.entitled, 'entitled_role_ids', m.entitled_role_ids,
      'entitled_until', m.entitled_until, 'revoked_reason', m.revoked_reason,
      'subscription_live', m.subscription_live, 'trial_started_at', m.trial_started_at,
      'plan_role_set', m.plan_role_set, 'payment_standing', m.payment_standing,
      'ended_for', m.ended_for,
      'past_due_grace_ms', (extract(epoch from g.past_due_grace) * 1000)::float8,
      'refund_policy', g.refund_policy, 'dispute_policy', g.dispute_policy,
      'plans', coalesce((
        select jsonb_agg(jsonb_build_object('id', p.id, 'stripe_price_id', p.stripe_price_id,
          'discord_role_ids', p.discord_role_ids, 'trial_role_ids', p.trial_role_ids)
          order by p.id)
        from rolepass.plans p where p.guild_id = m.guild_id
      ), '[]'::jsonb),
      'revocations', coalesce((
        select jsonb_agg(jsonb_build_object('stripe_subscription_id', r.stripe_subscription_id,
          'reason', r.reason, 'stripe_object_id', r.stripe_object_id,
          'covers_period_end', r.covers_period_end)
          order by r.reason, r.stripe_object_id)
        from rolepass.stripe_subscription_revocations r
        where r.stripe_subscription_id = any(p_subscription_ids) and r.status = 'in_force'
      ), '[]'::jsonb),
      'passes', coalesce((
        select jsonb_agg(jsonb_build_object('plan_id', x.plan_id, 'role_ids', p.discord_role_ids,
          'status', x.status, 'access_until', x.access_until)
          order by x.plan_id, x.access_until)
        from rolepass.member_passes x join rolepass.plans p on p.id = x.plan_id
        where x.membership_id = m.id
      ), '[]'::jsonb))
    from rolepass.memberships m
    join rolepass.guilds g on g.id = m.guild_id
    where m.id = p_membership_id
  );
end;
$$;

-- The webhook's one-statement apply writes the fact with the rest (newest before:
-- 20261203000200_status_facts_stored.sql; otherwise as it was).
create or replace function rolepass.apply_stripe_customer_read(
  p_event jsonb,
  p_customer_id text,
  p_read_seq bigint,
  p_subscription_ids text[],
  p_membership_ids uuid[],
  p_inputs_md5 text,
  p_next jsonb,
  p_trial_started_at timestamptz
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_membership_id uuid;
  v_inputs jsonb;
  v_next rolepass.memberships;
begin
  perform pg_advisory_xact_lock(hashtextextended('stripe_customer:' || p_customer_id, 0));
  -- Each statement below sees what committed before the lock was granted (read committed), so a
  -- delivery of the same event that finished while this one waited is seen as done.
  if exists (select from rolepass.stripe_events e
      where e.id = p_event->>'id' and e.status in ('processed', 'ignored')) then
    return jsonb_build_object('result', 'duplicate');
  end if;

  v_membership_id := rolepass.lock_stripe_sync_membership(p_customer_id, p_membership_ids);
  v_inputs := rolepass.stripe_sync_inputs(v_membership_id, p_subscription_ids);
  if md5(v_inputs::text) is distinct from p_inputs_md5 then
    return jsonb_build_object('result', 'conflict', 'inputs', v_inputs,
      'inputs_md5', md5(v_inputs::text));
  end if;
  if v_membership_id is null then
    return jsonb_build_object('result', 'not_rolepass');
  end if;

  insert into rolepass.stripe_events as e
    (id, type, api_version, livemode, status, processed_at, attempts, last_error)
  values (p_event->>'id', p_event->>'type', p_event->>'api_version',
    (p_event->>'livemode')::boolean, 'processed', now(), 1, null)
  on conflict (id) do update set status = 'processed', processed_at = excluded.processed_at,
    attempts = e.attempts + 1, last_error = null
  where e.status in ('received', 'failed');

  insert into rolepass.stripe_customer_reads as r (stripe_customer_id, read_seq)
  values (p_customer_id, p_read_seq)
  on conflict (stripe_customer_id) do update
    set read_seq = excluded.read_seq, applied_at = now()
  where r.read_seq <= excluded.read_seq;
  if not found then
    return jsonb_build_object('result', 'stale');
  end if;

  if p_next is not null then
    v_next := jsonb_populate_record(null::rolepass.memberships, p_next);
    update rolepass.memberships m set
      stripe_customer_id = p_customer_id,
      stripe_subscription_id = v_next.stripe_subscription_id,
      plan_id = v_next.plan_id,
      status = v_next.status,
      current_period_end = v_next.current_period_end,
      cancel_at = v_next.cancel_at,
      cancel_at_period_end = v_next.cancel_at_period_end,
      past_due_since = v_next.past_due_since,
      entitled = v_next.entitled,
      entitled_role_ids = v_next.entitled_role_ids,
      entitled_until = v_next.entitled_until,
      revoked_reason = v_next.revoked_reason,
      subscription_live = v_next.subscription_live,
      plan_role_set = v_next.plan_role_set,
      payment_standing = v_next.payment_standing,
      ended_for = v_next.ended_for,
      trial_started_at = coalesce(p_trial_started_at, m.trial_started_at),
      change_cause = v_next.change_cause,
      change_event_id = v_next.change_event_id,
      stripe_synced_at = now()
    where m.id = v_membership_id;
  end if;
  return jsonb_build_object('result', 'applied');
end;
$$;
