-- Stripe-side reconciliation (invariant 10): Stripe stops retrying a webhook after three days, and
-- an event type missing from the endpoint is never sent, so a membership could stay wrong for
-- good. Once an hour role-sync lists the account's events from Stripe's Events API (which keeps 30
-- days) from a cursor and hands each one rolepass has not processed to the webhook's own
-- processing: same re-read of Stripe, same per-customer lock, same de-duplication by event id.
--
-- stripe_event_catchups holds the cursor: every handled event created before `caught_up_to` was
-- processed. A pass lists the window [caught_up_to, window_end) newest first in pages; a pass
-- that runs out of time keeps its window and the last event id it finished (`resume_after`) and
-- the next pass carries on from there.

create table rolepass.stripe_event_catchups (
  -- One row: the account's cursor (platform mode would add a row per connected account).
  id boolean primary key default true check (id),
  caught_up_to timestamptz,
  window_end timestamptz,
  resume_after text check (resume_after ~ '^evt_[A-Za-z0-9_]{1,251}$'),
  -- idle: never ran; in_progress: a pass stopped for time and resumes; completed: the cursor
  -- reached window_end; failed: an event could not be processed (Stripe or the database failed),
  -- the next pass tries it again.
  status text not null default 'idle'
    check (status in ('idle', 'in_progress', 'completed', 'failed')),
  -- A pass holds the row until then, so two wakes never list the same window at once.
  lease_until timestamptz,
  last_run_at timestamptz,
  events_listed integer not null default 0 check (events_listed >= 0),
  events_applied integer not null default 0 check (events_applied >= 0),
  -- Set when the cursor was older than Stripe's 30 days: events may be gone, run the full pass.
  gap_detected_at timestamptz,
  last_error text,
  updated_at timestamptz not null default now()
);
comment on table rolepass.stripe_event_catchups is
  'The Stripe Events API cursor of the catch-up pass (role-sync /stripe-events) and what its last pass did. Read and written by service_role only.';

create trigger stripe_event_catchups_touch before update on rolepass.stripe_event_catchups
  for each row execute function rolepass.touch_updated_at();

alter table rolepass.stripe_event_catchups enable row level security;
revoke all on rolepass.stripe_event_catchups from public, anon, authenticated;
grant select, insert, update, delete on rolepass.stripe_event_catchups to service_role;

-- Posts {} to role-sync's /stripe-events route (Vault's role_sync_url plus '/stripe-events', the
-- same shared secret). Like request_reconciliation, a missing configuration or a failure to queue
-- the request never fails the caller. Returns the pg_net request id, or null.
create function rolepass.request_stripe_event_catchup() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  target_url text;
  shared_secret text;
  request_id bigint;
begin
  select decrypted_secret into target_url
    from vault.decrypted_secrets where name = 'role_sync_url';
  select decrypted_secret into shared_secret
    from vault.decrypted_secrets where name = 'role_sync_secret';
  if coalesce(target_url, '') = '' or coalesce(shared_secret, '') = '' then
    raise log 'rolepass: role_sync_url or role_sync_secret missing from Vault; no Stripe catch-up';
    return null;
  end if;
  select net.http_post(
    url := rtrim(target_url, '/') || '/stripe-events',
    body := '{}'::jsonb,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'x-rolepass-secret', shared_secret
    ),
    timeout_milliseconds := 5000
  ) into request_id;
  return request_id;
exception when others then
  raise warning 'rolepass: could not queue the Stripe catch-up request: %', sqlerrm;
  return null;
end;
$$;
revoke execute on function rolepass.request_stripe_event_catchup()
  from public, anon, authenticated;
grant execute on function rolepass.request_stripe_event_catchup() to service_role;

select cron.schedule('rolepass-stripe-event-catchup', '17 * * * *',
  'select rolepass.request_stripe_event_catchup()');
