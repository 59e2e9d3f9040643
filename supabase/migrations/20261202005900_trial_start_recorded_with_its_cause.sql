-- A first trial's start was written by an update of its own after the membership's, which kept
-- the change cause of the change before it: the history said a trial's start was caused by, say,
-- "pass_ended". The webhook now sends the membership's columns whenever a trial start is new, and
-- the start is written in the same update, so the history row names the event that recorded it.
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
      trial_started_at = coalesce(p_trial_started_at, m.trial_started_at),
      change_cause = v_next.change_cause,
      change_event_id = v_next.change_event_id,
      stripe_synced_at = now()
    where m.id = v_membership_id;
  end if;
  return jsonb_build_object('result', 'applied');
end;
$$;
