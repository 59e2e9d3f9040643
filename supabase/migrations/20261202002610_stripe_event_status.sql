-- An event's state in one column instead of three to read together (processed_at, ignored and
-- last_error): received (not applied yet), processed (applied), ignored (acknowledged without
-- being applied; ignored_reason says why) or failed (the last attempt failed; Stripe retries it).
-- functions/_shared/stripe_event_ledger.ts is the one writer; the checks keep the older columns,
-- which readers and the retention job still use, from disagreeing with the status.
alter table rolepass.stripe_events
  add column status text not null default 'received'
    check (status in ('received', 'processed', 'ignored', 'failed'));

update rolepass.stripe_events
  set status = case
    when ignored then 'ignored'
    when processed_at is not null then 'processed'
    when last_error is not null then 'failed'
    else 'received'
  end;

alter table rolepass.stripe_events
  add constraint stripe_events_status_matches_processed_at
    check ((status in ('processed', 'ignored')) = (processed_at is not null)),
  add constraint stripe_events_status_matches_ignored
    check ((status = 'ignored') = ignored),
  add constraint stripe_events_failed_has_error
    check (status <> 'failed' or last_error is not null);

comment on column rolepass.stripe_events.status is
  'received, processed, ignored or failed; written only by functions/_shared/stripe_event_ledger.ts.';
