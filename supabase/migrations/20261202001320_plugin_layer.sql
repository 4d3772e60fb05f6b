-- The plugin layer's storage (src/plugin_api/, src/services/plugins/).
--
-- 1. Installations are written only by the API. plugin_installations.routing_key is unique per
--    plugin (a Shopify shop domain finds its client by it), and clients could write the table
--    directly through PostgREST with their own JWT: a client could claim another's shop domain
--    before that client did, and receive its webhooks. Direct writes are revoked; the API writes
--    through public.save_plugin_installation (service role), after the plugin's verification hook
--    has proved the client may claim the key, with the audit record in the same transaction.
-- 2. plugin_state: small JSON values a plugin keeps per client, under the client's RLS.
-- 3. plugin_deliveries: core events (and scheduled runs) on their way to a plugin's handler,
--    recorded before the handler runs, so a crash between an event and the plugin's reaction
--    loses nothing: claimed with a lease, retried with backoff, parked with the error after the
--    plugin's last attempt (kept 30 days, visible through GET /v1/plugins/{id}), swept when a job
--    is lost, fair-shared between clients like every other kind of work.
-- 4. ingest_whatsapp_events: the Meta ingest with the plugin deliveries of new inbound messages
--    in the same transaction (a message and the plugin's reaction to it are stored together or
--    not at all). ingest_whatsapp_batch itself is unchanged and still called when no plugin
--    wants a batch's messages.
-- 5. event_subscribers: who hears a client's events (its enabled webhook endpoints and its
--    plugin installations) in the one call the event publisher already made for the endpoints.

-- 1 -----------------------------------------------------------------------------------------------

drop policy plugin_installations_insert_own on public.plugin_installations;
drop policy plugin_installations_update_own on public.plugin_installations;
drop policy plugin_installations_delete_own on public.plugin_installations;
revoke insert, update, delete on public.plugin_installations from authenticated;

create function public.save_plugin_installation(installation jsonb, audit jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  cid uuid := (installation ->> 'client_id')::uuid;
  pid text := installation ->> 'plugin_id';
  existed boolean;
  saved public.plugin_installations;
begin
  existed := exists (select 1 from public.plugin_installations p
                      where p.client_id = cid and p.plugin_id = pid);
  insert into public.plugin_installations as p
    (client_id, plugin_id, enabled, config, secrets_ciphertext, routing_key)
  values (cid, pid, (installation ->> 'enabled')::boolean, installation -> 'config',
    installation ->> 'secrets_ciphertext', installation ->> 'routing_key')
  on conflict (client_id, plugin_id) do update set
    enabled = excluded.enabled,
    config = excluded.config,
    secrets_ciphertext = excluded.secrets_ciphertext,
    routing_key = excluded.routing_key
  returning p.* into saved;
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details,
    request_id)
  values (cid, audit ->> 'actor', audit ->> 'action', 'plugin', pid,
    coalesce(audit -> 'details', '{}'::jsonb), audit ->> 'request_id');
  return jsonb_build_object('created', not existed, 'installation', to_jsonb(saved));
end
$$;
revoke all on function public.save_plugin_installation(jsonb, jsonb) from public;
grant execute on function public.save_plugin_installation(jsonb, jsonb) to service_role;

-- the state and pending events of a removed installation go with it
create function public.delete_plugin_installation(client uuid, plugin text, audit jsonb)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  removed boolean;
begin
  delete from public.plugin_installations p where p.client_id = client and p.plugin_id = plugin;
  removed := found;
  delete from public.plugin_state s where s.client_id = client and s.plugin_id = plugin;
  update public.plugin_deliveries d set status = 'cancelled', payload_ciphertext = null,
    locked_until = null, finished_at = now()
  where d.client_id = client and d.plugin_id = plugin and d.status in ('pending', 'parked');
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details,
    request_id)
  values (client, audit ->> 'actor', 'plugin.removed', 'plugin', plugin,
    jsonb_build_object('had_installation', removed), audit ->> 'request_id');
  return removed;
end
$$;

-- when each installation's scheduled run is next due (service role only: the sweeper's)
create table private.plugin_schedule (
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null,
  next_run_at timestamptz not null,
  primary key (client_id, plugin_id)
);
alter table private.plugin_schedule enable row level security;
revoke all on private.plugin_schedule from public, anon, authenticated;
grant select, insert, update, delete on private.plugin_schedule to service_role;

-- 2 -----------------------------------------------------------------------------------------------

create table public.plugin_state (
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null check (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  key text not null check (char_length(key) between 1 and 200),
  value jsonb not null check (pg_column_size(value) <= 65536),
  updated_at timestamptz not null default now(),
  primary key (client_id, plugin_id, key)
);
alter table public.plugin_state enable row level security;
create trigger plugin_state_touch before update on public.plugin_state
  for each row execute function private.touch_updated_at();

grant select, insert, update, delete on public.plugin_state to authenticated;
grant all on public.plugin_state to service_role;

create policy plugin_state_select_own on public.plugin_state for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_state_insert_own on public.plugin_state for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy plugin_state_update_own on public.plugin_state for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy plugin_state_delete_own on public.plugin_state for delete
  to authenticated using (client_id = (select private.current_client_id()));

-- 3 -----------------------------------------------------------------------------------------------

create table public.plugin_deliveries (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null check (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  -- a core event type, or `schedule` for a scheduled run
  event_type text not null check (char_length(event_type) <= 64),
  -- the event, encrypted with the client's data key; dropped once handled (none for a schedule)
  payload_ciphertext text,
  status text not null default 'pending'
    check (status in ('pending', 'succeeded', 'cancelled', 'parked')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  last_error text check (char_length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  finished_at timestamptz
);
alter table public.plugin_deliveries enable row level security;
create index plugin_deliveries_client_idx
  on public.plugin_deliveries (client_id, plugin_id, status, created_at desc);
create index plugin_deliveries_pending_idx on public.plugin_deliveries (next_attempt_at)
  where status = 'pending';
create index plugin_deliveries_created_brin on public.plugin_deliveries using brin (created_at)
  with (autosummarize = on);

grant select, insert, update on public.plugin_deliveries to authenticated;
grant all on public.plugin_deliveries to service_role;

create policy plugin_deliveries_select_own on public.plugin_deliveries for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_deliveries_insert_own on public.plugin_deliveries for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy plugin_deliveries_update_own on public.plugin_deliveries for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));

-- one answer per id, in order: the delivery leased for one handler call (its attempts counted),
-- or null when it is not due, finished, or held by another call
create function public.claim_plugin_deliveries(delivery_ids uuid[], lease_seconds integer)
returns jsonb
language sql
set search_path = ''
as $$
  with claimed as (
    -- (RLS keeps this to the caller's rows; coalesce keeps the plan on the primary key, as in
    -- claim_webhook_deliveries)
    update public.plugin_deliveries d set
      attempts = d.attempts + 1,
      locked_until = now() + make_interval(secs => lease_seconds)
    where d.id = any(delivery_ids)
      and coalesce(d.status, '') = 'pending' and d.next_attempt_at <= now()
      and (d.locked_until is null or d.locked_until < now())
    returning d.id, d.plugin_id, d.event_type, d.payload_ciphertext, d.attempts, d.created_at
  )
  select coalesce(jsonb_agg((select to_jsonb(c) from claimed c where c.id = x.id) order by x.n),
    '[]'::jsonb)
    from unnest(delivery_ids) with ordinality as x(id, n)
$$;
revoke all on function public.claim_plugin_deliveries(uuid[], integer) from public, anon;
grant execute on function public.claim_plugin_deliveries(uuid[], integer) to authenticated;

-- results: [{id, outcome: succeeded | cancelled | retry | parked, error, retry_in_ms}]
create function public.finish_plugin_deliveries(results jsonb)
returns void
language sql
set search_path = ''
as $$
  update public.plugin_deliveries d set
    status = case r.outcome when 'retry' then 'pending' else r.outcome end,
    locked_until = null,
    last_error = case when r.outcome in ('succeeded', 'cancelled') then null
      else left(r.error, 1000) end,
    -- a parked event keeps its payload for a retry on request; a handled one does not need it
    payload_ciphertext = case when r.outcome in ('succeeded', 'cancelled') then null
      else d.payload_ciphertext end,
    next_attempt_at = case when r.outcome = 'retry'
      then now() + make_interval(secs => coalesce(r.retry_in_ms, 0) / 1000.0)
      else d.next_attempt_at end,
    finished_at = case when r.outcome = 'retry' then null else now() end
  from jsonb_to_recordset(results) as r(id uuid, outcome text, error text, retry_in_ms bigint)
  where d.id = r.id and d.status = 'pending'
    and r.outcome in ('succeeded', 'cancelled', 'retry', 'parked')
$$;
revoke all on function public.finish_plugin_deliveries(jsonb) from public, anon;
grant execute on function public.finish_plugin_deliveries(jsonb) to authenticated;

-- parked events of one plugin back to pending, due now, with their attempts afresh
create function public.retry_parked_plugin_deliveries(plugin text, max_rows integer default 1000)
returns jsonb
language sql
set search_path = ''
as $$
  with picked as (
    select d.id from public.plugin_deliveries d
    where d.client_id = (select private.current_client_id()) and d.plugin_id = plugin
      and d.status = 'parked'
    order by d.created_at
    limit max_rows
    for update skip locked
  ), again as (
    update public.plugin_deliveries d set status = 'pending', attempts = 0, next_attempt_at = now(),
      locked_until = null, finished_at = null
    from picked where d.id = picked.id
    returning d.id, d.created_at
  )
  select coalesce(jsonb_agg(again.id order by again.created_at, again.id), '[]'::jsonb) from again
$$;
revoke all on function public.retry_parked_plugin_deliveries(text, integer) from public, anon;
grant execute on function public.retry_parked_plugin_deliveries(text, integer) to authenticated;

create function public.due_plugin_deliveries(max_rows integer)
returns table (id uuid, client_id uuid)
language sql
stable
set search_path = ''
as $$
  select x.id, x.client_id from (
    select d.id, d.client_id, d.next_attempt_at,
        row_number() over (partition by d.client_id order by d.next_attempt_at, d.id) as turn
      from public.plugin_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= now()
       and (d.locked_until is null or d.locked_until < now())
  ) x
  order by x.turn, x.next_attempt_at, x.id
  limit max_rows
$$;
revoke all on function public.due_plugin_deliveries(integer) from public;
grant execute on function public.due_plugin_deliveries(integer) to service_role;

create function public.purge_plugin_deliveries(max_rows integer default 5000,
  finished_after interval default '7 days', parked_after interval default '30 days')
returns integer
language sql
set search_path = ''
as $$
  with doomed as (
    select id from public.plugin_deliveries
    where created_at < now() - least(finished_after, parked_after)
      and status <> 'pending'
      and finished_at < now() - case when status = 'parked' then parked_after
                                     else finished_after end
    limit max_rows
    for update skip locked
  ), gone as (
    delete from public.plugin_deliveries d using doomed where d.id = doomed.id returning 1
  )
  select count(*)::integer from gone
$$;
comment on function public.purge_plugin_deliveries(integer, interval, interval) is 'Retention of plugin deliveries: handled and cancelled ones after finished_after (7 days), parked ones (payload and error kept for a retry) after parked_after (30 days), at most max_rows per call. Pending ones are never purged.';
revoke all on function public.purge_plugin_deliveries(integer, interval, interval) from public;
grant execute on function public.purge_plugin_deliveries(integer, interval, interval)
  to service_role;

-- schedules: [{plugin_id, every_seconds}]. Each enabled installation of a scheduled plugin whose
-- run is due gets one `schedule` delivery, and its next run is set; at most max_rows per call
create function public.record_plugin_ticks(schedules jsonb, max_rows integer default 500)
returns jsonb
language sql
set search_path = ''
as $$
  with wanted as (
    select p.client_id, p.plugin_id, s.every_seconds
      from public.plugin_installations p
      join jsonb_to_recordset(schedules) as s(plugin_id text, every_seconds integer)
        on s.plugin_id = p.plugin_id
      left join private.plugin_schedule t
        on t.client_id = p.client_id and t.plugin_id = p.plugin_id
     where p.enabled and (t.next_run_at is null or t.next_run_at <= now())
     order by t.next_run_at nulls first
     limit max_rows
  ), planned as (
    insert into private.plugin_schedule as t (client_id, plugin_id, next_run_at)
    select w.client_id, w.plugin_id, now() + make_interval(secs => w.every_seconds) from wanted w
    on conflict (client_id, plugin_id) do update set next_run_at = excluded.next_run_at
      where t.next_run_at <= now()
    returning t.client_id, t.plugin_id
  ), recorded as (
    insert into public.plugin_deliveries (client_id, plugin_id, event_type)
    select p.client_id, p.plugin_id, 'schedule' from planned p
    returning id, client_id
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'client_id', r.client_id)), '[]'::jsonb)
    from recorded r
$$;
revoke all on function public.record_plugin_ticks(jsonb, integer) from public;
grant execute on function public.record_plugin_ticks(jsonb, integer) to service_role;

revoke all on function public.delete_plugin_installation(uuid, text, jsonb) from public;
grant execute on function public.delete_plugin_installation(uuid, text, jsonb) to service_role;

-- 4 -----------------------------------------------------------------------------------------------

-- batch: what ingest_whatsapp_batch takes, plus plugin_events: [{id, plugin_id, event_type,
-- payload_ciphertext, message_id}]. Answers ingest_whatsapp_batch's answer plus plugin_events: the
-- ids recorded, those whose message was new (a retried delivery's messages are not, and their
-- events were recorded the first time)
create function public.ingest_whatsapp_events(batch jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  result jsonb := public.ingest_whatsapp_batch(batch - 'plugin_events');
  recorded jsonb := '[]'::jsonb;
begin
  with stored as (
    insert into public.plugin_deliveries (id, client_id, plugin_id, event_type, payload_ciphertext)
    select r.id, private.current_client_id(), r.plugin_id, r.event_type, r.payload_ciphertext
      from jsonb_to_recordset(coalesce(batch -> 'plugin_events', '[]'::jsonb))
        as r(id uuid, plugin_id text, event_type text, payload_ciphertext text, message_id uuid)
     where r.message_id = any(array(select (x #>> '{}')::uuid
                                      from jsonb_array_elements(result -> 'inserted') x))
    returning id
  )
  select coalesce(jsonb_agg(stored.id), '[]'::jsonb) into recorded from stored;
  return result || jsonb_build_object('plugin_events', recorded);
end
$$;
revoke all on function public.ingest_whatsapp_events(jsonb) from public;
grant execute on function public.ingest_whatsapp_events(jsonb) to authenticated;

-- 5 -----------------------------------------------------------------------------------------------

create function public.event_subscribers()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'endpoints', coalesce((select jsonb_agg(jsonb_build_object('id', e.id,
        'event_types', e.event_types))
      from public.webhook_endpoints e
      where e.client_id = (select private.current_client_id()) and e.enabled), '[]'::jsonb),
    'plugins', coalesce((select jsonb_agg(jsonb_build_object('plugin_id', p.plugin_id,
        'enabled', p.enabled, 'config', p.config))
      from public.plugin_installations p
      where p.client_id = (select private.current_client_id())), '[]'::jsonb))
$$;
revoke all on function public.event_subscribers() from public;
grant execute on function public.event_subscribers() to authenticated;
