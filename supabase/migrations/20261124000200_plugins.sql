-- Plugin installations: which plugins each client has enabled, with their validated configuration.
-- routing_key lets a webhook from outside (for example a Shopify shop domain) find its installation
-- without the core knowing any plugin by name. Plugin secrets are encrypted with the client's data key.

create table public.plugin_installations (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null check (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  enabled boolean not null default true,
  config jsonb not null default '{}'::jsonb,
  secrets_ciphertext text,
  routing_key text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (client_id, plugin_id),
  unique (plugin_id, routing_key)
);
alter table public.plugin_installations enable row level security;
create index plugin_installations_client_id_idx on public.plugin_installations (client_id);
create trigger plugin_installations_touch before update on public.plugin_installations
  for each row execute function private.touch_updated_at();

grant select, insert, update, delete on public.plugin_installations to authenticated;
grant all on public.plugin_installations to service_role;
grant select (id, client_id, plugin_id, enabled, routing_key, created_at, updated_at)
  on public.plugin_installations to privacy_staff;

create policy plugin_installations_select_own on public.plugin_installations for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_installations_insert_own on public.plugin_installations for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy plugin_installations_update_own on public.plugin_installations for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy plugin_installations_delete_own on public.plugin_installations for delete
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_installations_select_privacy_staff on public.plugin_installations for select
  to privacy_staff using (true);
