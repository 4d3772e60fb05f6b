-- Tenancy: clients (the businesses we serve), their WhatsApp Business accounts and phone numbers,
-- API keys, per-client data keys, the audit log and the API request log.
-- Every table has RLS enabled here, one policy per operation and role, and an index on client_id.

create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;

-- The client an API caller acts for. The edge mints JWTs with a top-level client_id claim; Supabase
-- Auth users carry it in app_metadata (which, unlike user_metadata, users cannot edit).
create or replace function private.current_client_id() returns uuid
language sql stable
set search_path = ''
as $$
  select nullif(
    coalesce(auth.jwt() ->> 'client_id', auth.jwt() -> 'app_metadata' ->> 'client_id'),
    ''
  )::uuid
$$;
revoke all on function private.current_client_id() from public;
grant execute on function private.current_client_id() to anon, authenticated, service_role;

do $do$
begin
  if not exists (select 1 from pg_roles where rolname = 'privacy_staff') then
    -- Studio users who run privacy workflows are granted this role; it never bypasses RLS
    create role privacy_staff nologin noinherit;
  end if;
end
$do$;
grant usage on schema public, private, auth to privacy_staff;
grant execute on function auth.jwt(), auth.uid(), auth.role() to privacy_staff;

create or replace function private.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- clients ----------------------------------------------------------------------------------------
create table public.clients (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 200),
  status text not null default 'active' check (status in ('active', 'suspended')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.clients enable row level security;
create trigger clients_touch before update on public.clients
  for each row execute function private.touch_updated_at();

grant select, update (name) on public.clients to authenticated;
grant all on public.clients to service_role;
grant select on public.clients to privacy_staff;

create policy clients_select_own on public.clients for select to authenticated
  using (id = (select private.current_client_id()));
create policy clients_update_own on public.clients for update to authenticated
  using (id = (select private.current_client_id()))
  with check (id = (select private.current_client_id()));
create policy clients_select_privacy_staff on public.clients for select to privacy_staff
  using (true);

-- per-client data keys (envelope encryption) --------------------------------------------------------
-- wrapped_key is AES-256-GCM ciphertext of the client's data key under a master key named by
-- master_key_version; without the master keyring it is useless. Deleting the row crypto-shreds
-- every field encrypted under it.
create table public.client_data_keys (
  client_id uuid primary key references public.clients (id) on delete cascade,
  wrapped_key text not null,
  master_key_version text not null,
  created_at timestamptz not null default now(),
  rewrapped_at timestamptz
);
alter table public.client_data_keys enable row level security;
create index client_data_keys_master_version_idx on public.client_data_keys (master_key_version);

grant select on public.client_data_keys to authenticated;
grant all on public.client_data_keys to service_role;

create policy client_data_keys_select_own on public.client_data_keys for select to authenticated
  using (client_id = (select private.current_client_id()));

-- WhatsApp Business accounts -----------------------------------------------------------------------
create table public.whatsapp_business_accounts (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  waba_id text not null unique check (waba_id ~ '^[0-9]{1,32}$'),
  name text,
  -- the business integration system user token, encrypted with the client's data key
  access_token_ciphertext text,
  token_expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.whatsapp_business_accounts enable row level security;
create index whatsapp_business_accounts_client_id_idx on public.whatsapp_business_accounts (client_id);
create trigger whatsapp_business_accounts_touch before update on public.whatsapp_business_accounts
  for each row execute function private.touch_updated_at();

grant select (id, client_id, waba_id, name, token_expires_at, created_at, updated_at)
  on public.whatsapp_business_accounts to authenticated, privacy_staff;
-- the edge reads the ciphertext under the client's own JWT to send on its behalf
grant select (access_token_ciphertext) on public.whatsapp_business_accounts to authenticated;
grant all on public.whatsapp_business_accounts to service_role;

create policy whatsapp_business_accounts_select_own on public.whatsapp_business_accounts
  for select to authenticated using (client_id = (select private.current_client_id()));
create policy whatsapp_business_accounts_select_privacy_staff on public.whatsapp_business_accounts
  for select to privacy_staff using (true);

-- phone numbers -------------------------------------------------------------------------------------
create table public.phone_numbers (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  waba_account_id uuid not null references public.whatsapp_business_accounts (id) on delete cascade,
  phone_number_id text not null unique check (phone_number_id ~ '^[0-9]{1,32}$'),
  display_phone_number text not null,
  verified_name text,
  -- Cloud API default throughput is 80 messages/s per number; upgraded numbers reach 1,000
  messages_per_second integer not null default 80 check (messages_per_second between 1 and 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.phone_numbers enable row level security;
create index phone_numbers_client_id_idx on public.phone_numbers (client_id);
create index phone_numbers_waba_account_id_idx on public.phone_numbers (waba_account_id);
create trigger phone_numbers_touch before update on public.phone_numbers
  for each row execute function private.touch_updated_at();

grant select on public.phone_numbers to authenticated, privacy_staff;
grant all on public.phone_numbers to service_role;

create policy phone_numbers_select_own on public.phone_numbers for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy phone_numbers_select_privacy_staff on public.phone_numbers for select to privacy_staff
  using (true);

-- API keys ------------------------------------------------------------------------------------------
-- Only a keyed hash of each key is stored; the key itself is shown once, at creation.
create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 100),
  environment text not null check (environment in ('live', 'test')),
  -- first characters of the key, shown in listings so people can tell keys apart
  prefix text not null,
  key_hash text not null unique,
  scopes text[] not null check (cardinality(scopes) > 0),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_by text not null,
  created_at timestamptz not null default now()
);
alter table public.api_keys enable row level security;
create index api_keys_client_id_idx on public.api_keys (client_id);

grant select (id, client_id, name, environment, prefix, scopes, expires_at, revoked_at,
  last_used_at, created_by, created_at) on public.api_keys to authenticated;
grant insert (client_id, name, environment, prefix, key_hash, scopes, expires_at, created_by)
  on public.api_keys to authenticated;
grant update (revoked_at) on public.api_keys to authenticated;
grant all on public.api_keys to service_role;

create policy api_keys_select_own on public.api_keys for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy api_keys_insert_own on public.api_keys for insert to authenticated
  with check (client_id = (select private.current_client_id()));
create policy api_keys_update_own on public.api_keys for update to authenticated
  using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));

-- audit log -----------------------------------------------------------------------------------------
-- Append-only: no API role may update or delete a row (retention runs as the table owner).
create table public.audit_log (
  id bigint generated always as identity primary key,
  client_id uuid references public.clients (id) on delete set null,
  actor text not null,
  action text not null,
  target_type text,
  target_id text,
  details jsonb not null default '{}'::jsonb,
  request_id text,
  created_at timestamptz not null default now()
);
alter table public.audit_log enable row level security;
create index audit_log_client_id_idx on public.audit_log (client_id, created_at desc);

grant select, insert (client_id, actor, action, target_type, target_id, details, request_id)
  on public.audit_log to authenticated;
grant select, insert on public.audit_log to service_role, privacy_staff;

create policy audit_log_select_own on public.audit_log for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy audit_log_insert_own on public.audit_log for insert to authenticated
  with check (client_id = (select private.current_client_id()));
create policy audit_log_select_privacy_staff on public.audit_log for select to privacy_staff
  using (true);
create policy audit_log_insert_privacy_staff on public.audit_log for insert to privacy_staff
  with check (actor = current_user);

-- API request log -----------------------------------------------------------------------------------
-- Technical metadata only: never bodies, never credentials. IP and user agent are personal data,
-- so this table is kept for a short retention period.
create table public.api_request_log (
  id bigint generated always as identity primary key,
  client_id uuid references public.clients (id) on delete cascade,
  request_id text not null,
  method text not null,
  route text not null,
  status integer not null,
  latency_ms real not null,
  ip inet,
  user_agent text,
  created_at timestamptz not null default now()
);
alter table public.api_request_log enable row level security;
create index api_request_log_client_id_idx on public.api_request_log (client_id, created_at desc);
create index api_request_log_created_at_idx on public.api_request_log (created_at);

grant select on public.api_request_log to authenticated;
grant select, insert, delete on public.api_request_log to service_role;

create policy api_request_log_select_own on public.api_request_log for select to authenticated
  using (client_id = (select private.current_client_id()));
