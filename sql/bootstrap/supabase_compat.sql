-- Supabase compatibility bootstrap for a bare PostgreSQL 15 (tests and the dev runner only; never
-- a migration). It provides what a Supabase database has before any migration runs:
--   * the API roles anon, authenticated and service_role (service_role bypasses RLS);
--   * stand-ins for pg_net (`net.http_post` records the request in `net.http_request_queue`),
--     Vault (`vault.secrets`, `vault.decrypted_secrets`, `vault.create_secret`) and, where the real
--     extension cannot run, pg_cron (`cron.schedule` records the job in `cron.job`).
-- Nothing is sent by the database itself: the project's dispatcher (functions/_cli/dispatcher.ts)
-- delivers the recorded requests the way pg_net would, and runs the stand-in's cron commands.
-- Like pg_net, a request queued in a transaction that rolls back is never delivered.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end;
$$;

grant usage on schema public to anon, authenticated, service_role;

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

-- pg_net stand-in ---------------------------------------------------------------------------------
create schema if not exists net;
create table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null,
  url text not null,
  headers jsonb not null,
  params jsonb not null default '{}'::jsonb,
  body jsonb,
  timeout_milliseconds integer not null,
  created_at timestamptz not null default now()
);

create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, params, body, timeout_milliseconds)
  values ('POST', url, headers, params, body, timeout_milliseconds)
  returning id into request_id;
  -- Lets a listening dispatcher deliver at once instead of on its next poll.
  perform pg_notify('rolepass_net_request', request_id::text);
  return request_id;
end;
$$;
revoke execute on function net.http_post(text, jsonb, jsonb, jsonb, integer) from public;

-- Vault stand-in (no encryption: the bootstrap is for local databases only) -----------------------
create schema if not exists vault;
create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text unique,
  description text not null default '',
  secret text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create or replace view vault.decrypted_secrets as
  select id, name, description, secret, secret as decrypted_secret, created_at, updated_at
  from vault.secrets;

create or replace function vault.create_secret(
  new_secret text, new_name text default null, new_description text default ''
) returns uuid
language sql
set search_path = ''
as $$
  insert into vault.secrets (secret, name, description)
  values (new_secret, new_name, new_description)
  returning id;
$$;

create or replace function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null
) returns void
language sql
set search_path = ''
as $$
  update vault.secrets set
    secret = coalesce(new_secret, secret),
    name = coalesce(new_name, name),
    description = coalesce(new_description, description),
    updated_at = now()
  where id = secret_id;
$$;
revoke all on all tables in schema vault from public;
revoke execute on all functions in schema vault from public;

-- pg_cron stand-in --------------------------------------------------------------------------------
-- Only where the real pg_cron cannot run. pg_cron must be preloaded and can be created only in the
-- one database its scheduler runs in (`cron.database_name`): there the migration creates the real
-- extension. Everywhere else (PGlite, a PostgreSQL without postgresql-15-cron, any other database of
-- a cluster that has it, such as the template the tests clone) the stand-in records the jobs.
do $cron_stand_in$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    return;
  end if;
  if current_setting('cron.database_name', true) = current_database()
    and exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    return;
  end if;

  create schema if not exists cron;
  create table if not exists cron.job (
    jobid bigserial primary key,
    jobname text unique,
    schedule text not null,
    command text not null,
    active boolean not null default true
  );

  create or replace function cron.schedule(job_name text, schedule text, command text)
  returns bigint
  language sql
  set search_path = ''
  as $$
    insert into cron.job (jobname, schedule, command) values (job_name, schedule, command)
    on conflict (jobname) do update set schedule = excluded.schedule, command = excluded.command
    returning jobid;
  $$;

  create or replace function cron.unschedule(job_name text) returns boolean
  language sql
  set search_path = ''
  as $$
    with deleted as (delete from cron.job where jobname = job_name returning 1)
    select exists (select 1 from deleted);
  $$;
  revoke execute on all functions in schema cron from public;
end;
$cron_stand_in$;
