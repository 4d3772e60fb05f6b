-- What a hosted Supabase project has before any migration of ours, for tools/supabase_compat.ts.
-- Run by the bootstrap superuser, supabase_admin, on a fresh Debian PostgreSQL 15 cluster.
-- Modelled on the init scripts and migrations of github.com/supabase/postgres (init-scripts/
-- 00000000000000-initial-schema.sql, 00000000000001-auth-schema.sql, 00000000000003-post-setup.sql,
-- migrations/10000000000000_demote-postgres.sql, the pg_cron grant function as last revised
-- in 20260730000000_revoke_trigger_on_cron_tables_from_postgres.sql). Only what our migrations and
-- the Supabase CLI's checks touch is here: no storage, realtime or GoTrue tables beyond auth.users.
-- The tool sets the login roles' passwords afterwards.

-- postgres owns the migrations but is not a superuser (demote-postgres)
create role postgres login nosuperuser createdb createrole replication bypassrls;
alter database postgres owner to postgres;
alter role postgres set search_path to "$user", public, extensions;

create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
create role supabase_auth_admin login noinherit createrole noreplication;
create role supabase_read_only_user login bypassrls;
grant pg_read_all_data to supabase_read_only_user;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

create schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;

-- a new table, function or sequence postgres creates in public is granted to every API role
grant usage on schema public to postgres, anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public
  grant all on sequences to anon, authenticated, service_role;

-- auth belongs to the auth server's role; postgres may use it but not grant on it
create schema auth authorization supabase_auth_admin;
grant usage on schema auth to anon, authenticated, service_role;
set role supabase_auth_admin;
create table auth.users (
  id uuid primary key,
  email text,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  created_at timestamptz default now()
);
create function auth.uid() returns uuid language sql stable as $$
  select nullif(coalesce(current_setting('request.jwt.claim.sub', true),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')), '')::uuid
$$;
create function auth.role() returns text language sql stable as $$
  select nullif(coalesce(current_setting('request.jwt.claim.role', true),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')), '')::text
$$;
create function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
reset role;
grant all on schema auth to postgres;
grant all on all tables in schema auth to postgres;
grant all on all routines in schema auth to postgres;

-- pg_cron as the dashboard enables it: in pg_catalog, its cron schema usable by postgres, which
-- may read cron.job (jobs are written through cron.schedule) and manage the run history
create extension pg_cron with schema pg_catalog;
grant usage on schema cron to postgres with grant option;
grant all privileges on all tables in schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;
revoke trigger on cron.job_run_details from postgres;

-- `supabase db lint` runs plpgsql_check; on hosted projects supautils lets postgres enable it
create extension plpgsql_check with schema extensions;
