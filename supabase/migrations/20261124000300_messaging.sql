-- WhatsApp messaging: the durable webhook inbox, contacts with consent, messages in both
-- directions with their status history, other webhook fields, and unrouted events for operators.
-- Message content is stored only as ciphertext under the client's data key.

-- webhook inbox (system) -----------------------------------------------------------------------------
-- Every verified delivery is written here before we answer 200, so nothing acknowledged is lost.
-- A delivery is not yet routed to a client, so only the service role touches this table.
create table public.webhook_inbox (
  id bigint generated always as identity primary key,
  provider text not null check (provider in ('meta', 'shopify')),
  -- Meta sends no delivery id; a retry repeats the exact body, so its verified X-Hub-Signature-256
  -- (an HMAC of those bytes) identifies it
  dedupe_key text not null,
  payload_ciphertext text not null,
  received_at timestamptz not null default now(),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  processed_at timestamptz,
  last_error text,
  unique (provider, dedupe_key)
);
alter table public.webhook_inbox enable row level security;
create index webhook_inbox_pending_idx on public.webhook_inbox (next_attempt_at)
  where processed_at is null;
grant all on public.webhook_inbox to service_role;
-- no policy for API roles: they hold no grant, and service_role bypasses RLS
create policy webhook_inbox_deny_authenticated on public.webhook_inbox for select to authenticated
  using (false);

-- events for phone numbers nobody owns: shown to operators, never fail the delivery
create table public.unrouted_webhook_events (
  id bigint generated always as identity primary key,
  phone_number_id text,
  waba_id text,
  kind text not null,
  inbox_id bigint references public.webhook_inbox (id) on delete set null,
  received_at timestamptz not null default now()
);
alter table public.unrouted_webhook_events enable row level security;
create index unrouted_webhook_events_received_idx on public.unrouted_webhook_events (received_at);
grant all on public.unrouted_webhook_events to service_role;
create policy unrouted_webhook_events_deny_authenticated on public.unrouted_webhook_events
  for select to authenticated using (false);

-- contacts ------------------------------------------------------------------------------------------
create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  -- phone number digits as WhatsApp gives them (wa_id); null when only a business-scoped id is known
  wa_id text check (wa_id ~ '^[0-9]{6,20}$'),
  -- Meta's 2026 business-scoped user id (BSUID), sent when a user hides their number
  user_id text,
  profile_name_ciphertext text,
  consent_status text not null default 'unknown'
    check (consent_status in ('unknown', 'opted_in', 'opted_out')),
  consent_source text,
  consent_updated_at timestamptz,
  last_inbound_at timestamptz,
  last_outbound_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (wa_id is not null or user_id is not null),
  unique (client_id, wa_id),
  unique (client_id, user_id)
);
alter table public.contacts enable row level security;
create index contacts_client_id_idx on public.contacts (client_id, created_at desc);
create trigger contacts_touch before update on public.contacts
  for each row execute function private.touch_updated_at();

grant select, insert, update on public.contacts to authenticated;
grant all on public.contacts to service_role;
grant select (id, client_id, wa_id, user_id, consent_status, consent_source, consent_updated_at,
  last_inbound_at, created_at) on public.contacts to privacy_staff;

create policy contacts_select_own on public.contacts for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy contacts_insert_own on public.contacts for insert to authenticated
  with check (client_id = (select private.current_client_id()));
create policy contacts_update_own on public.contacts for update to authenticated
  using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy contacts_select_privacy_staff on public.contacts for select to privacy_staff
  using (true);

-- consent history: every change of a contact's consent, with where it came from
create table public.consent_events (
  id bigint generated always as identity primary key,
  client_id uuid not null references public.clients (id) on delete cascade,
  contact_id uuid not null references public.contacts (id) on delete cascade,
  status text not null check (status in ('opted_in', 'opted_out')),
  source text not null,
  actor text not null,
  created_at timestamptz not null default now()
);
alter table public.consent_events enable row level security;
create index consent_events_client_id_idx on public.consent_events (client_id, contact_id);

grant select, insert on public.consent_events to authenticated;
grant select on public.consent_events to privacy_staff;
grant all on public.consent_events to service_role;

create policy consent_events_select_own on public.consent_events for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy consent_events_insert_own on public.consent_events for insert to authenticated
  with check (client_id = (select private.current_client_id()));
create policy consent_events_select_privacy_staff on public.consent_events for select
  to privacy_staff using (true);

-- messages ------------------------------------------------------------------------------------------
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  phone_number_id uuid not null references public.phone_numbers (id) on delete cascade,
  contact_id uuid references public.contacts (id) on delete set null,
  direction text not null check (direction in ('inbound', 'outbound')),
  wamid text,
  type text not null,
  -- JSON of the type-specific content, encrypted with the client's data key
  content_ciphertext text,
  media jsonb,
  -- inbound: received. outbound: queued → sending (claimed by a sender) → accepted (Graph API
  -- returned a wamid) → sent → delivered → read (from status webhooks), or failed (terminal)
  status text not null check (status in (
    'received', 'queued', 'sending', 'accepted', 'sent', 'delivered', 'read', 'failed'
  )),
  status_updated_at timestamptz not null default now(),
  error jsonb,
  -- who it goes to or came from: wa_id digits, or the BSUID when no number is known
  recipient text,
  idempotency_key text,
  request_hash text,
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  locked_until timestamptz,
  pricing_category text,
  context_wamid text,
  sent_at timestamptz,
  delivered_at timestamptz,
  read_at timestamptz,
  failed_at timestamptz,
  -- set when retries ran out on retryable errors; such a message can be re-driven through the API
  dead_lettered_at timestamptz,
  created_at timestamptz not null default now(),
  unique (client_id, wamid),
  unique (client_id, idempotency_key)
);
alter table public.messages enable row level security;
create index messages_client_created_idx on public.messages (client_id, created_at desc, id desc);
create index messages_contact_idx on public.messages (contact_id, created_at desc);
create index messages_phone_number_id_idx on public.messages (phone_number_id);
create index messages_pending_idx on public.messages (next_attempt_at)
  where status in ('queued', 'sending');

grant select, insert, update on public.messages to authenticated;
grant all on public.messages to service_role;
grant select (id, client_id, phone_number_id, contact_id, direction, wamid, type, status,
  status_updated_at, created_at) on public.messages to privacy_staff;

create policy messages_select_own on public.messages for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy messages_insert_own on public.messages for insert to authenticated
  with check (client_id = (select private.current_client_id()));
create policy messages_update_own on public.messages for update to authenticated
  using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy messages_select_privacy_staff on public.messages for select to privacy_staff
  using (true);

-- every raw status event, as Meta sent it (minus nothing we need): the timeline of a message
create table public.message_status_events (
  id bigint generated always as identity primary key,
  client_id uuid not null references public.clients (id) on delete cascade,
  message_id uuid references public.messages (id) on delete cascade,
  wamid text not null,
  status text not null,
  occurred_at timestamptz not null,
  pricing jsonb,
  errors jsonb,
  conversation_id text,
  received_at timestamptz not null default now(),
  unique (client_id, wamid, status, occurred_at)
);
alter table public.message_status_events enable row level security;
create index message_status_events_client_idx on public.message_status_events (client_id, wamid);
create index message_status_events_message_idx on public.message_status_events (message_id);

grant select, insert on public.message_status_events to authenticated;
grant all on public.message_status_events to service_role;

create policy message_status_events_select_own on public.message_status_events for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy message_status_events_insert_own on public.message_status_events for insert
  to authenticated with check (client_id = (select private.current_client_id()));

-- webhook fields other than messages (template status, account and quality updates, ...)
create table public.whatsapp_account_events (
  id bigint generated always as identity primary key,
  client_id uuid not null references public.clients (id) on delete cascade,
  waba_id text,
  phone_number_id text,
  field text not null,
  value jsonb not null,
  received_at timestamptz not null default now()
);
alter table public.whatsapp_account_events enable row level security;
create index whatsapp_account_events_client_idx on public.whatsapp_account_events
  (client_id, received_at desc);

grant select, insert on public.whatsapp_account_events to authenticated;
grant all on public.whatsapp_account_events to service_role;

create policy whatsapp_account_events_select_own on public.whatsapp_account_events for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy whatsapp_account_events_insert_own on public.whatsapp_account_events for insert
  to authenticated with check (client_id = (select private.current_client_id()));

-- status rank: statuses only move forward and failed is terminal, so the result is the maximum
-- rank seen whatever the arrival order (mirrors src/core/messaging/status.ts)
create or replace function private.status_rank(status text) returns integer
language sql immutable
set search_path = ''
as $$
  select case status
    when 'queued' then 1 when 'sending' then 2 when 'accepted' then 3 when 'sent' then 4
    when 'delivered' then 5 when 'read' then 6 when 'failed' then 7 else 0 end
$$;
grant execute on function private.status_rank(text) to authenticated, service_role;

/*
 * Records a batch of status events for the calling client and advances each message's status,
 * in one round trip; returns the events that were new (duplicates are left out). Runs as the caller (security invoker), so RLS applies. Duplicates are
 * ignored by the unique key; the advance compares ranks, so any arrival order converges.
 * A message is matched by wamid, or by our own id carried in biz_opaque_callback_data (which
 * is how a send whose HTTP response was lost still gets its wamid).
 */
create or replace function public.apply_status_events(events jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  e jsonb;
  cid uuid := private.current_client_id();
  mid uuid;
  applied jsonb := '[]'::jsonb;
  new_status text;
  fresh integer;
begin
  if cid is null then
    raise exception 'apply_status_events needs a client JWT' using errcode = '42501';
  end if;
  for e in select * from jsonb_array_elements(events) loop
    new_status := e ->> 'status';
    select m.id into mid from public.messages m
      where m.client_id = cid and m.direction = 'outbound'
        and (m.wamid = e ->> 'wamid'
          or (e ->> 'message_id' is not null and m.id::text = e ->> 'message_id'))
      limit 1;
    insert into public.message_status_events
      (client_id, message_id, wamid, status, occurred_at, pricing, errors, conversation_id)
    values (cid, mid, e ->> 'wamid', new_status, (e ->> 'occurred_at')::timestamptz,
      e -> 'pricing', e -> 'errors', e ->> 'conversation_id')
    on conflict do nothing;
    get diagnostics fresh = row_count;
    if fresh = 0 then
      continue; -- a duplicate delivery of an event we already have
    end if;
    applied := applied || jsonb_build_object('wamid', e ->> 'wamid', 'status', new_status,
      'message_id', mid, 'occurred_at', e ->> 'occurred_at', 'errors', e -> 'errors');
    if mid is null or new_status not in ('sent', 'delivered', 'read', 'failed') then
      continue;
    end if;
    update public.messages m set
      wamid = coalesce(m.wamid, e ->> 'wamid'),
      status = case when private.status_rank(new_status) > private.status_rank(m.status)
        then new_status else m.status end,
      status_updated_at = now(),
      error = case when new_status = 'failed' then e -> 'errors' else m.error end,
      pricing_category = coalesce(e -> 'pricing' ->> 'category', m.pricing_category),
      sent_at = coalesce(m.sent_at, case when new_status in ('sent', 'delivered', 'read')
        then (e ->> 'occurred_at')::timestamptz end),
      delivered_at = coalesce(m.delivered_at, case when new_status in ('delivered', 'read')
        then (e ->> 'occurred_at')::timestamptz end),
      read_at = coalesce(m.read_at, case when new_status = 'read'
        then (e ->> 'occurred_at')::timestamptz end),
      failed_at = coalesce(m.failed_at, case when new_status = 'failed'
        then (e ->> 'occurred_at')::timestamptz end),
      next_attempt_at = case when new_status in ('sent', 'delivered', 'read', 'failed') then null
        else m.next_attempt_at end,
      locked_until = null
    where m.id = mid;
  end loop;
  return applied;
end
$$;
revoke all on function public.apply_status_events(jsonb) from public, anon;
grant execute on function public.apply_status_events(jsonb) to authenticated;

/*
 * Claims one outbound message for sending, for the calling client. Returns
 *   {"outcome": "claimed", "message": {...}}       the caller now holds a lease and must send
 *   {"outcome": "deferred", "retry_at": ts}        the recipient got a message too recently
 *   {"outcome": "not_due" | "locked", "retry_at"}  someone else holds it, or it waits for backoff
 *   {"outcome": "done", "status": s}               already accepted, delivered or failed
 * The contact row lock serialises sends to one recipient, which is what the pair rate needs.
 */
create or replace function public.claim_outbound_message(
  message_id uuid,
  lease_seconds integer default 30,
  recipient_gap_ms integer default 6000
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  m public.messages;
  last_out timestamptz;
  gap interval := make_interval(secs => recipient_gap_ms / 1000.0);
begin
  select * into m from public.messages
    where id = message_id and client_id = private.current_client_id() and direction = 'outbound'
    for update skip locked;
  if not found then
    return jsonb_build_object('outcome', 'locked');
  end if;
  if m.status not in ('queued', 'sending') then
    return jsonb_build_object('outcome', 'done', 'status', m.status);
  end if;
  if m.locked_until is not null and m.locked_until > now() then
    return jsonb_build_object('outcome', 'locked', 'retry_at', m.locked_until);
  end if;
  if m.next_attempt_at is not null and m.next_attempt_at > now() then
    return jsonb_build_object('outcome', 'not_due', 'retry_at', m.next_attempt_at);
  end if;
  if m.contact_id is not null and recipient_gap_ms > 0 then
    select c.last_outbound_at into last_out from public.contacts c where c.id = m.contact_id
      for update;
    if last_out is not null and last_out > now() - gap then
      update public.messages set next_attempt_at = last_out + gap where id = m.id;
      return jsonb_build_object('outcome', 'deferred', 'retry_at', last_out + gap);
    end if;
    update public.contacts set last_outbound_at = now() where id = m.contact_id;
  end if;
  update public.messages set
    status = 'sending',
    attempts = attempts + 1,
    locked_until = now() + make_interval(secs => lease_seconds),
    status_updated_at = now()
  where id = m.id
  returning * into m;
  return jsonb_build_object(
    'outcome', 'claimed',
    'message', to_jsonb(m),
    'phone', (select jsonb_build_object('phone_number_id', p.phone_number_id,
        'waba_account_id', p.waba_account_id, 'messages_per_second', p.messages_per_second)
      from public.phone_numbers p where p.id = m.phone_number_id)
  );
end
$$;
revoke all on function public.claim_outbound_message(uuid, integer, integer) from public, anon;
grant execute on function public.claim_outbound_message(uuid, integer, integer) to authenticated;

/*
 * Records what a send attempt learnt, without ever moving a status backwards (a status webhook
 * may already have advanced the message). result.outcome is one of
 *   accepted  {wamid}                    the Graph API took it
 *   retry     {retry_at, error}          retryable failure: back to the queue after backoff
 *   ambiguous {retry_at, error}          response lost: wait for a status webhook that names our
 *                                        id (biz_opaque_callback_data) before sending again
 *   failed    {error, dead_letter}       terminal failure, or retries exhausted (dead_letter)
 */
create or replace function public.record_send_result(message_id uuid, result jsonb)
returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  outcome text := result ->> 'outcome';
  new_status text;
begin
  if outcome = 'accepted' then
    update public.messages m set
      wamid = coalesce(m.wamid, result ->> 'wamid'),
      status = case when private.status_rank(m.status) < private.status_rank('accepted')
        then 'accepted' else m.status end,
      status_updated_at = now(), locked_until = null, next_attempt_at = null, error = null
    where m.id = message_id and m.client_id = private.current_client_id()
    returning m.status into new_status;
  elsif outcome in ('retry', 'ambiguous') then
    update public.messages m set
      status = case when outcome = 'retry' then 'queued' else 'sending' end,
      next_attempt_at = (result ->> 'retry_at')::timestamptz,
      locked_until = null, error = result -> 'error', status_updated_at = now()
    where m.id = message_id and m.client_id = private.current_client_id()
      and m.status = 'sending'
    returning m.status into new_status;
  elsif outcome = 'failed' then
    update public.messages m set
      status = 'failed', error = result -> 'error', failed_at = coalesce(m.failed_at, now()),
      dead_lettered_at = case when (result ->> 'dead_letter')::boolean then now() end,
      locked_until = null, next_attempt_at = null, status_updated_at = now()
    where m.id = message_id and m.client_id = private.current_client_id()
      and m.status in ('queued', 'sending')
    returning m.status into new_status;
  else
    raise exception 'unknown send outcome %', outcome using errcode = '22023';
  end if;
  return new_status;
end
$$;
revoke all on function public.record_send_result(uuid, jsonb) from public, anon;
grant execute on function public.record_send_result(uuid, jsonb) to authenticated;

/*
 * The one contact for a phone number and/or business-scoped user id: found by either, created
 * when new, and given the other identifier when it learns it (a user first seen by BSUID only may
 * later arrive with a number, and the reverse). Runs as the caller, so RLS applies.
 */
create or replace function private.resolve_contact(cid uuid, wa text, uid text) returns uuid
language plpgsql
security invoker
set search_path = ''
as $$
declare
  found_id uuid;
begin
  if wa is null and uid is null then
    raise exception 'a contact needs a wa_id or a user_id' using errcode = '22023';
  end if;
  select c.id into found_id from public.contacts c
    where c.client_id = cid and ((wa is not null and c.wa_id = wa) or (uid is not null and c.user_id = uid))
    order by (c.wa_id is not distinct from wa) desc
    limit 1;
  if found_id is null then
    insert into public.contacts (client_id, wa_id, user_id) values (cid, wa, uid)
      on conflict do nothing
      returning id into found_id;
    if found_id is null then
      -- lost a race with a concurrent insert of the same contact
      select c.id into found_id from public.contacts c
        where c.client_id = cid and ((wa is not null and c.wa_id = wa) or (uid is not null and c.user_id = uid))
        limit 1;
    end if;
    return found_id;
  end if;
  update public.contacts c set
    wa_id = coalesce(c.wa_id, case when not exists (
      select 1 from public.contacts o where o.client_id = cid and o.wa_id = wa) then wa end),
    user_id = coalesce(c.user_id, case when not exists (
      select 1 from public.contacts o where o.client_id = cid and o.user_id = uid) then uid end)
  where c.id = found_id and ((c.wa_id is null and wa is not null) or (c.user_id is null and uid is not null));
  return found_id;
end
$$;
revoke all on function private.resolve_contact(uuid, text, text) from public;
grant execute on function private.resolve_contact(uuid, text, text) to authenticated, service_role;

/*
 * Puts an outbound message in the queue for the calling client, in one round trip:
 * resolves the sending number, finds or creates the contact, applies the rules that must hold
 * before Meta is called (consent, 24-hour window) and honours the idempotency key.
 * p: {id, phone_number_id (Meta's, optional when the client has one), wa_id | user_id, type,
 *     content_ciphertext, free_form boolean, idempotency_key, request_hash, window_hours}
 * Returns {"outcome": "created" | "existing" | "idempotency_conflict" | "opted_out" |
 *          "outside_window" | "unknown_phone_number" | "ambiguous_phone_number", "message": ...}
 */
create or replace function public.enqueue_message(p jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  phone_id uuid;
  phone_count integer;
  contact_id uuid;
  c public.contacts;
  m public.messages;
begin
  if cid is null then
    raise exception 'enqueue_message needs a client JWT' using errcode = '42501';
  end if;
  if p ->> 'idempotency_key' is not null then
    select * into m from public.messages
      where client_id = cid and idempotency_key = p ->> 'idempotency_key';
    if found then
      if m.request_hash is distinct from p ->> 'request_hash' then
        return jsonb_build_object('outcome', 'idempotency_conflict', 'message', to_jsonb(m));
      end if;
      return jsonb_build_object('outcome', 'existing', 'message', to_jsonb(m));
    end if;
  end if;
  if p ->> 'phone_number_id' is not null then
    select id into phone_id from public.phone_numbers
      where client_id = cid and phone_number_id = p ->> 'phone_number_id';
    if phone_id is null then
      return jsonb_build_object('outcome', 'unknown_phone_number');
    end if;
  else
    select count(*), min(id::text)::uuid into phone_count, phone_id from public.phone_numbers
      where client_id = cid;
    if phone_count = 0 then
      return jsonb_build_object('outcome', 'unknown_phone_number');
    elsif phone_count > 1 then
      return jsonb_build_object('outcome', 'ambiguous_phone_number');
    end if;
  end if;
  -- resolve first: called inside a WHERE clause it would run once per row scanned
  contact_id := private.resolve_contact(cid, p ->> 'wa_id', p ->> 'user_id');
  select * into c from public.contacts where id = contact_id;
  if c.consent_status = 'opted_out' then
    return jsonb_build_object('outcome', 'opted_out', 'contact_id', c.id);
  end if;
  if (p ->> 'free_form')::boolean and (c.last_inbound_at is null
      or c.last_inbound_at < now() - make_interval(hours => coalesce((p ->> 'window_hours')::int, 24))) then
    return jsonb_build_object('outcome', 'outside_window', 'contact_id', c.id,
      'last_inbound_at', c.last_inbound_at);
  end if;
  insert into public.messages (id, client_id, phone_number_id, contact_id, direction, type,
    content_ciphertext, status, recipient, idempotency_key, request_hash, next_attempt_at)
  values ((p ->> 'id')::uuid, cid, phone_id, c.id, 'outbound', p ->> 'type',
    p ->> 'content_ciphertext', 'queued', coalesce(c.wa_id, c.user_id),
    p ->> 'idempotency_key', p ->> 'request_hash', now())
  on conflict (client_id, idempotency_key) do nothing
  returning * into m;
  if m.id is null then
    -- a concurrent request with the same key won the insert
    select * into m from public.messages
      where client_id = cid and idempotency_key = p ->> 'idempotency_key';
    return jsonb_build_object('outcome',
      case when m.request_hash is distinct from p ->> 'request_hash'
        then 'idempotency_conflict' else 'existing' end, 'message', to_jsonb(m));
  end if;
  return jsonb_build_object('outcome', 'created', 'message', to_jsonb(m));
end
$$;
revoke all on function public.enqueue_message(jsonb) from public, anon;
grant execute on function public.enqueue_message(jsonb) to authenticated;

/*
 * Stores one client's share of a webhook delivery in one round trip: contacts (created or
 * touched, last inbound time moved forward only), inbound messages (deduplicated by wamid),
 * status events (through apply_status_events) and other fields.
 * batch: {"messages": [{id, phone_number_id (ours), wa_id, user_id, profile_name_ciphertext,
 *          wamid, type, content_ciphertext, media, context_wamid, timestamp}],
 *         "statuses": [...as apply_status_events...], "fields": [{waba_id, phone_number_id, field, value}]}
 * Returns {"inserted": [message ids new in this call], "statuses": [new status events]}.
 */
create or replace function public.ingest_whatsapp_batch(batch jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  msg jsonb;
  contact_id uuid;
  new_id uuid;
  inserted jsonb := '[]'::jsonb;
  applied jsonb := '[]'::jsonb;
begin
  if cid is null then
    raise exception 'ingest_whatsapp_batch needs a client JWT' using errcode = '42501';
  end if;
  for msg in select * from jsonb_array_elements(coalesce(batch -> 'messages', '[]')) loop
    contact_id := private.resolve_contact(cid, msg ->> 'wa_id', msg ->> 'user_id');
    update public.contacts c set
      profile_name_ciphertext = coalesce(msg ->> 'profile_name_ciphertext', c.profile_name_ciphertext),
      last_inbound_at = greatest(c.last_inbound_at, (msg ->> 'timestamp')::timestamptz)
    where c.id = contact_id;
    new_id := null;
    insert into public.messages (id, client_id, phone_number_id, contact_id, direction, wamid,
      type, content_ciphertext, media, status, recipient, context_wamid, created_at)
    values ((msg ->> 'id')::uuid, cid, (msg ->> 'phone_number_id')::uuid, contact_id, 'inbound',
      msg ->> 'wamid', msg ->> 'type', msg ->> 'content_ciphertext', msg -> 'media', 'received',
      coalesce(msg ->> 'wa_id', msg ->> 'user_id'), msg ->> 'context_wamid',
      (msg ->> 'timestamp')::timestamptz)
    on conflict (client_id, wamid) do nothing
    returning id into new_id;
    if new_id is not null then
      inserted := inserted || to_jsonb(new_id);
    end if;
  end loop;
  if jsonb_array_length(coalesce(batch -> 'statuses', '[]')) > 0 then
    applied := public.apply_status_events(batch -> 'statuses');
  end if;
  insert into public.whatsapp_account_events (client_id, waba_id, phone_number_id, field, value)
  select cid, f ->> 'waba_id', f ->> 'phone_number_id', f ->> 'field', f -> 'value'
    from jsonb_array_elements(coalesce(batch -> 'fields', '[]')) f;
  return jsonb_build_object('inserted', inserted, 'statuses', applied);
end
$$;
revoke all on function public.ingest_whatsapp_batch(jsonb) from public, anon;
grant execute on function public.ingest_whatsapp_batch(jsonb) to authenticated;

-- Inbox claim for the consumer (service role only): a lease on each item, so a crashed consumer's
-- items come back to the sweeper once it runs out. Claims a batch in one round trip.
create or replace function public.claim_inbox_items(item_ids bigint[], lease_seconds integer default 60)
returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with claimed as (
    update public.webhook_inbox set
      attempts = attempts + 1,
      locked_until = now() + make_interval(secs => lease_seconds)
    where id = any(item_ids) and processed_at is null
      and (locked_until is null or locked_until < now())
    returning id, payload_ciphertext, attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', id,
    'payload_ciphertext', payload_ciphertext, 'attempts', attempts)), '[]'::jsonb)
  from claimed
$$;
revoke all on function public.claim_inbox_items(bigint[], integer) from public, anon, authenticated;
grant execute on function public.claim_inbox_items(bigint[], integer) to service_role;
