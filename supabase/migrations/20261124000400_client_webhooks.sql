-- Client webhooks: endpoints a client registers to receive its events (inbound messages, status
-- changes, alerts), and one delivery row per event and endpoint, signed per Standard Webhooks and
-- retried with backoff. Secrets and payloads (which carry message text) are encrypted with the
-- client's data key.

create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  url text not null check (char_length(url) <= 2048),
  description text check (char_length(description) <= 200),
  -- empty = every event type
  event_types text[] not null default '{}',
  secret_ciphertext text not null,
  enabled boolean not null default true,
  disabled_reason text,
  disabled_at timestamptz,
  failing_since timestamptz,
  consecutive_failures integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table public.webhook_endpoints enable row level security;
create index webhook_endpoints_client_id_idx on public.webhook_endpoints (client_id);
create trigger webhook_endpoints_touch before update on public.webhook_endpoints
  for each row execute function private.touch_updated_at();

grant select, insert, update, delete on public.webhook_endpoints to authenticated;
grant all on public.webhook_endpoints to service_role;

create policy webhook_endpoints_select_own on public.webhook_endpoints for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy webhook_endpoints_insert_own on public.webhook_endpoints for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy webhook_endpoints_update_own on public.webhook_endpoints for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy webhook_endpoints_delete_own on public.webhook_endpoints for delete
  to authenticated using (client_id = (select private.current_client_id()));

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  -- the webhook-id header: the same on every retry, so receivers can deduplicate
  event_id text not null,
  event_type text not null,
  payload_ciphertext text not null,
  status text not null default 'pending'
    check (status in ('pending', 'succeeded', 'failed', 'cancelled')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  unique (endpoint_id, event_id)
);
alter table public.webhook_deliveries enable row level security;
create index webhook_deliveries_client_id_idx on public.webhook_deliveries (client_id, created_at desc);
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (endpoint_id, created_at desc);
create index webhook_deliveries_pending_idx on public.webhook_deliveries (next_attempt_at)
  where status = 'pending';

grant select, insert, update on public.webhook_deliveries to authenticated;
grant all on public.webhook_deliveries to service_role;

create policy webhook_deliveries_select_own on public.webhook_deliveries for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy webhook_deliveries_insert_own on public.webhook_deliveries for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy webhook_deliveries_update_own on public.webhook_deliveries for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));

/*
 * Claims one due delivery for the calling client with a short lease (so a second ring of the same
 * job does not post twice at once) and returns it with its endpoint. Null when it is not due,
 * already done, or someone else holds it.
 */
create or replace function public.claim_webhook_delivery(delivery_id uuid, lease_seconds integer default 60)
returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with claimed as (
    update public.webhook_deliveries d set
      locked_until = now() + make_interval(secs => lease_seconds)
    where d.id = delivery_id and d.client_id = private.current_client_id()
      and d.status = 'pending' and d.next_attempt_at <= now()
      and (d.locked_until is null or d.locked_until < now())
    returning d.*
  )
  select jsonb_build_object(
    'id', c.id, 'endpoint_id', c.endpoint_id, 'event_id', c.event_id, 'attempts', c.attempts,
    'payload_ciphertext', c.payload_ciphertext,
    'endpoint', jsonb_build_object('url', e.url, 'secret_ciphertext', e.secret_ciphertext,
      'enabled', e.enabled, 'failing_since', e.failing_since,
      'consecutive_failures', e.consecutive_failures))
  from claimed c join public.webhook_endpoints e on e.id = c.endpoint_id
$$;
revoke all on function public.claim_webhook_delivery(uuid, integer) from public, anon;
grant execute on function public.claim_webhook_delivery(uuid, integer) to authenticated;
