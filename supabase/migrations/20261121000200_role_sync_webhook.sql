-- The database webhook that wakes role-sync, and the pg_cron sweep that makes delivery certain.
--
-- pg_net sends a request only after the transaction commits and never retries it (at-most-once),
-- so the cron sweep below calls role-sync every minute for whatever is still due. The URL and the
-- shared secret live in Vault (`role_sync_url`, `role_sync_secret`), set per environment through
-- `[db.vault]` in supabase/config.toml or `vault.create_secret`, never in a migration.
--
-- On hosted Supabase and `supabase start` the extensions exist; on a bare PostgreSQL the test
-- bootstrap (sql/bootstrap/supabase_compat.sql) provides stand-ins in the same schemas, which is
-- why each extension is created only when its schema is missing.

do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'net') then
    create extension if not exists pg_net;
  end if;
  if not exists (select 1 from pg_namespace where nspname = 'vault') then
    create extension if not exists supabase_vault;
  end if;
  if not exists (select 1 from pg_namespace where nspname = 'cron') then
    create extension if not exists pg_cron with schema pg_catalog;
  end if;
end;
$$;

-- Posts a Supabase-database-webhook-shaped payload to role-sync. Returns the pg_net request id, or
-- null when Vault has no URL or secret yet: a missing configuration must never fail the
-- transaction that changed a membership (the sweep delivers once Vault is filled in).
create function public.request_role_sync(payload jsonb) returns bigint
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
    raise log 'rolepass: role_sync_url or role_sync_secret missing from Vault; role-sync not called';
    return null;
  end if;
  select net.http_post(
    url := target_url,
    body := payload,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'x-rolepass-secret', shared_secret
    ),
    timeout_milliseconds := 5000
  ) into request_id;
  return request_id;
exception when others then
  raise warning 'rolepass: could not queue the role-sync request: %', sqlerrm;
  return null;
end;
$$;
revoke execute on function public.request_role_sync(jsonb) from public, anon, authenticated;

create function public.notify_role_sync() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.request_role_sync(jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', to_jsonb(new),
    'old_record', null
  ));
  return null;
end;
$$;
revoke execute on function public.notify_role_sync() from public, anon, authenticated;

create trigger role_jobs_notify_role_sync
  after insert on public.role_jobs
  for each row execute function public.notify_role_sync();

-- What the cron job runs: wake role-sync for every due job, whether or not its webhook arrived.
create function public.sweep_role_jobs() returns bigint
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not exists (
    select 1 from public.role_jobs
    where status in ('pending', 'running') and next_attempt_at <= now()
      and (lease_expires_at is null or lease_expires_at <= now())
  ) then
    return null;
  end if;
  return public.request_role_sync(jsonb_build_object('type', 'SWEEP', 'table', 'role_jobs',
    'schema', 'public', 'record', null, 'old_record', null));
end;
$$;
revoke execute on function public.sweep_role_jobs() from public, anon, authenticated;

select cron.schedule('rolepass-role-sync-sweep', '* * * * *', 'select public.sweep_role_jobs()');
