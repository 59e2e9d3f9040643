-- The webhook's apply in one statement (issue 16 item 2). The function reads what the membership
-- decision needs (rolepass.stripe_sync_inputs) without a transaction, decides in the pure core,
-- then sends the decision to rolepass.apply_stripe_customer_read, which takes the customer's lock,
-- checks that the inputs are still what the decision was made from, claims the event, records the
-- read and writes the membership: one round trip and one short transaction, in which no
-- connection waits on JavaScript. When the inputs moved meanwhile, it changes nothing and answers
-- the current inputs, and the function decides again.

-- The membership a read of customer `p_customer_id` applies to: the customer's, else one that
-- rolepass's Checkout metadata names and no customer holds yet (when the checkout function's
-- write of the customer was lost). A membership tied to another customer is never taken over.
create function rolepass.stripe_sync_membership_id(
  p_customer_id text,
  p_membership_ids uuid[]
)
returns uuid
language sql
stable
set search_path = ''
as $$
  select coalesce(
    (select m.id from rolepass.memberships m
      where m.stripe_customer_id = p_customer_id
      order by m.created_at, m.id limit 1),
    (select m.id from rolepass.memberships m
      where m.id = any(p_membership_ids) and m.stripe_customer_id is null
      order by m.created_at, m.id limit 1));
$$;
comment on function rolepass.stripe_sync_membership_id(text, uuid[]) is
  'The membership a Stripe re-read of a customer applies to: the customer''s, else an unclaimed one named by rolepass''s Checkout metadata (service_role only).';
revoke execute on function rolepass.stripe_sync_membership_id(text, uuid[])
  from public, anon, authenticated;
grant execute on function rolepass.stripe_sync_membership_id(text, uuid[]) to service_role;

-- Everything the membership decision reads, as one JSON object: the membership, its guild's
-- policy and plans, the refunds and disputes in force against the listed subscriptions, and its
-- one-time passes. Arrays are ordered, so the same rows always give the same text (the apply
-- compares md5 of it).
create function rolepass.stripe_sync_inputs(
  p_membership_id uuid,
  p_subscription_ids text[]
)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', m.id, 'guild_id', m.guild_id, 'stripe_customer_id', m.stripe_customer_id,
    'stripe_subscription_id', m.stripe_subscription_id, 'plan_id', m.plan_id,
    'status', m.status, 'current_period_end', m.current_period_end, 'cancel_at', m.cancel_at,
    'cancel_at_period_end', m.cancel_at_period_end, 'past_due_since', m.past_due_since,
    'entitled', m.entitled, 'entitled_role_ids', m.entitled_role_ids,
    'entitled_until', m.entitled_until, 'revoked_reason', m.revoked_reason,
    'subscription_live', m.subscription_live, 'trial_started_at', m.trial_started_at,
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
  where m.id = p_membership_id;
$$;
comment on function rolepass.stripe_sync_inputs(uuid, text[]) is
  'What the membership decision of a Stripe re-read reads, as one JSON object (service_role only).';
revoke execute on function rolepass.stripe_sync_inputs(uuid, text[])
  from public, anon, authenticated;
grant execute on function rolepass.stripe_sync_inputs(uuid, text[]) to service_role;

-- Locks the membership a read of `p_customer_id` applies to (see stripe_sync_membership_id), for
-- the apply that follows in the same transaction: writers outside the customer's lock (role-sync,
-- the expiry sweep) wait until it commits. Call it in a statement of its own, before reading the
-- inputs, so that they are read after the lock and see the latest committed row.
create function rolepass.lock_stripe_sync_membership(
  p_customer_id text,
  p_membership_ids uuid[]
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_membership_id uuid;
begin
  v_membership_id := rolepass.stripe_sync_membership_id(p_customer_id, p_membership_ids);
  perform from rolepass.memberships m where m.id = v_membership_id for update;
  return v_membership_id;
end;
$$;
comment on function rolepass.lock_stripe_sync_membership(text, uuid[]) is
  'Locks (for update) and returns the membership a Stripe re-read of a customer applies to (service_role only).';
revoke execute on function rolepass.lock_stripe_sync_membership(text, uuid[])
  from public, anon, authenticated;
grant execute on function rolepass.lock_stripe_sync_membership(text, uuid[]) to service_role;

-- The apply's first step when it runs as several statements (refunds, disputes, passes and money
-- facts, which write more than the membership), inside a transaction that holds the customer's
-- lock: locks the membership, reads its inputs and records `p_read_seq` as the customer's applied
-- read unless a later-started one was applied. Answers {inputs, read_is_newest}; inputs is null
-- when no membership is the customer's. The customer's lock orders every apply, so the
-- comparison cannot miss a concurrent one.
create function rolepass.start_stripe_customer_apply(
  p_customer_id text,
  p_read_seq bigint,
  p_subscription_ids text[],
  p_membership_ids uuid[]
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_membership_id uuid;
  v_inputs jsonb;
begin
  v_membership_id := rolepass.lock_stripe_sync_membership(p_customer_id, p_membership_ids);
  if v_membership_id is null then
    return jsonb_build_object('inputs', null, 'read_is_newest', false);
  end if;
  v_inputs := rolepass.stripe_sync_inputs(v_membership_id, p_subscription_ids);
  insert into rolepass.stripe_customer_reads as r (stripe_customer_id, read_seq)
  values (p_customer_id, p_read_seq)
  on conflict (stripe_customer_id) do update
    set read_seq = excluded.read_seq, applied_at = now()
  where r.read_seq <= excluded.read_seq;
  return jsonb_build_object('inputs', v_inputs, 'read_is_newest', found);
end;
$$;
comment on function rolepass.start_stripe_customer_apply(text, bigint, text[], uuid[]) is
  'Locks the membership of a Stripe re-read, reads its inputs and records the read unless a later-started one was applied (service_role only).';
revoke execute on function rolepass.start_stripe_customer_apply(text, bigint, text[], uuid[])
  from public, anon, authenticated;
grant execute on function rolepass.start_stripe_customer_apply(text, bigint, text[], uuid[])
  to service_role;

-- Applies a decision taken on the inputs whose md5 is `p_inputs_md5`, for event `p_event`
-- ({id, type, api_version, livemode}). Answers {result: ...}:
--   duplicate      the event is already done (nothing changed);
--   conflict       the inputs changed since they were read (nothing changed; `inputs` and
--                  `inputs_md5` are the current ones, to decide again);
--   not_rolepass   no membership is this customer's (nothing changed: the caller records why);
--   stale          a read that started later was applied first: the event is claimed, the
--                  membership left as it is;
--   applied        the event is claimed, the read recorded and `p_next` (the membership's new
--                  columns, or null when they are unchanged) written.
create function rolepass.apply_stripe_customer_read(
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
      change_cause = v_next.change_cause,
      change_event_id = v_next.change_event_id,
      stripe_synced_at = now()
    where m.id = v_membership_id;
  end if;
  if p_trial_started_at is not null then
    update rolepass.memberships m set trial_started_at = p_trial_started_at
    where m.id = v_membership_id and m.trial_started_at is distinct from p_trial_started_at;
  end if;
  return jsonb_build_object('result', 'applied');
end;
$$;
comment on function rolepass.apply_stripe_customer_read(jsonb, text, bigint, text[], uuid[], text,
  jsonb, timestamptz) is
  'The webhook''s apply of a Stripe re-read in one statement: under the customer''s lock, claims the event, records the read unless a later-started one was applied, and writes the membership decided on the inputs whose md5 is given (service_role only).';
revoke execute on function rolepass.apply_stripe_customer_read(jsonb, text, bigint, text[],
  uuid[], text, jsonb, timestamptz) from public, anon, authenticated;
grant execute on function rolepass.apply_stripe_customer_read(jsonb, text, bigint, text[], uuid[],
  text, jsonb, timestamptz) to service_role;
