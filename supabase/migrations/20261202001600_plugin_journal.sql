-- What a plugin did about each business event, and privacy requests an upstream sends through a
-- plugin (the Shopify order notifications are the first user of both).
--
-- 1. plugin_journal: one row per business key a plugin names (a shop, an order, a notification
--    type, a fulfillment). An upstream delivers the same event more than once (retries, a second
--    subscription, a second delivery id for one event), so a transport id cannot be the only
--    dedupe: the row's primary key is the durable dedupe on the business key, claimed in one
--    statement (plugin_journal_claim). Each row ends as a sent message (message_id, whose delivery
--    and read status the merchant sees), a suppression with its reason (no consent, opted out, no
--    usable number, ...) or an action done (an order tagged). plugin_journal_advance keeps a
--    version per resource that only moves forward, so a stale update (an older timestamp, an
--    earlier stage) is recognised and ignored. Rows name the recipient by number (digits, as
--    messages.recipient), so erasure and legal holds find them; retention purges them like
--    messages (class plugin_journal).
-- 2. plugin_privacy_requests: Shopify's compliance webhooks (customers/data_request,
--    customers/redact, shop/redact) must be acted on within 30 days. The plugin records each one
--    here durably, once per upstream reference; the privacy workflow (privacy staff in Studio, or
--    the data-subject request service) takes them from status `received` and marks them done.
--    What the upstream said about the subject is encrypted with the client's data key; the number,
--    when there is one, is kept in clear as subject_ref so that it can be matched, as legal holds
--    do.
-- Every routine here runs under the caller's row-level security (a client JWT), is executable
-- only by the roles granted below (20261202001210 took EXECUTE from PUBLIC), and every object has
-- a comment for Studio.

-- 1 -----------------------------------------------------------------------------------------------

create table public.plugin_journal (
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null check (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  key text not null check (char_length(key) between 1 and 200),
  kind text not null check (kind ~ '^[a-z][a-z0-9_.:/-]{0,63}$'),
  outcome text not null default 'pending'
    check (outcome in ('pending', 'sent', 'suppressed', 'done')),
  reason text check (reason ~ '^[a-z][a-z0-9_]{0,63}$'),
  subject text check (char_length(subject) <= 200),
  recipient text check (recipient ~ '^[0-9]{6,20}$'),
  message_id uuid,
  version bigint,
  data jsonb not null default '{}'::jsonb check (pg_column_size(data) <= 4096),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (client_id, plugin_id, key),
  foreign key (client_id, message_id) references public.messages (client_id, id)
    on delete set null (message_id)
);
alter table public.plugin_journal enable row level security;
create index plugin_journal_recent_idx
  on public.plugin_journal (client_id, plugin_id, created_at desc);
create index plugin_journal_recipient_idx on public.plugin_journal (client_id, recipient)
  where recipient is not null;
create index plugin_journal_message_idx on public.plugin_journal (message_id)
  where message_id is not null;
create index plugin_journal_created_brin on public.plugin_journal using brin (created_at)
  with (autosummarize = on);
create trigger plugin_journal_touch before update on public.plugin_journal
  for each row execute function private.touch_updated_at();

grant select, insert, update, delete on public.plugin_journal to authenticated;
grant all on public.plugin_journal to service_role;
grant select on public.plugin_journal to privacy_staff;

create policy plugin_journal_select_own on public.plugin_journal for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_journal_insert_own on public.plugin_journal for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy plugin_journal_update_own on public.plugin_journal for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy plugin_journal_delete_own on public.plugin_journal for delete
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_journal_select_privacy_staff on public.plugin_journal for select
  to privacy_staff using (true);

comment on table public.plugin_journal is
  'What a plugin did about each business event it was told of, one row per business key (for the '
  'Shopify plugin: shop, order, notification type, fulfillment): the message it sent, or why it '
  'sent nothing (suppressed, with a reason), or an action done upstream. The key is the durable '
  'dedupe of events an upstream delivers more than once. Written by the plugin through the core '
  '(src/plugin_api: ctx.journal), under the client''s RLS; purged by retention (plugin_journal).';
comment on column public.plugin_journal.client_id is 'The client whose installation wrote it.';
comment on column public.plugin_journal.plugin_id is 'The plugin that wrote it (its id).';
comment on column public.plugin_journal.key is
  'The business key, unique per client and plugin (e.g. cod_confirmation:<order id>).';
comment on column public.plugin_journal.kind is
  'What the entry is about, in the plugin''s words (e.g. order_confirmation, shipping_update).';
comment on column public.plugin_journal.outcome is
  'pending (claimed, not finished), sent (a message was queued: message_id), suppressed (nothing '
  'was sent: reason) or done (an action without a message, or a version marker).';
comment on column public.plugin_journal.reason is
  'Why nothing was sent (no_consent, opted_out, invalid_phone, no_phone, disabled, stale, ...).';
comment on column public.plugin_journal.subject is
  'A label the client recognises the event by (an order name such as #1001); no personal data.';
comment on column public.plugin_journal.recipient is
  'The recipient''s number (digits, as messages.recipient), when there was a usable one: erasure '
  'requests and legal holds find the entry by it.';
comment on column public.plugin_journal.message_id is
  'The message sent for it (its delivery and read status are the message''s); null when none was '
  'sent or the message is no longer kept.';
comment on column public.plugin_journal.version is
  'For resource markers: the newest version seen (a stage and a timestamp), which only moves '
  'forward; an event older than it is stale.';
comment on column public.plugin_journal.data is
  'Small details the plugin keeps with the entry (ids upstream, the consent the send relied on); '
  'at most 4 KB.';
comment on column public.plugin_journal.created_at is 'When the entry was first claimed.';
comment on column public.plugin_journal.updated_at is 'When the entry last changed.';
comment on constraint plugin_journal_pkey on public.plugin_journal is
  'One entry per business key of a client''s plugin: the durable dedupe.';
comment on constraint plugin_journal_client_id_fkey on public.plugin_journal is
  'Deleting a client deletes its entries.';
comment on constraint plugin_journal_client_id_message_id_fkey on public.plugin_journal is
  'The message of the same client; deleting the message (retention, erasure) keeps the entry.';
comment on constraint plugin_journal_data_check on public.plugin_journal is
  'Details stay small (4 KB).';
comment on constraint plugin_journal_key_check on public.plugin_journal is
  'A key of 1 to 200 characters.';
comment on constraint plugin_journal_kind_check on public.plugin_journal is
  'A kind is lowercase, at most 64 characters.';
comment on constraint plugin_journal_outcome_check on public.plugin_journal is
  'The outcomes an entry can have.';
comment on constraint plugin_journal_plugin_id_check on public.plugin_journal is
  'A plugin id as the registry writes it (kebab-case).';
comment on constraint plugin_journal_reason_check on public.plugin_journal is
  'A suppression reason is snake_case, at most 64 characters.';
comment on constraint plugin_journal_recipient_check on public.plugin_journal is
  'A number as digits only, like messages.recipient and contacts.wa_id.';
comment on constraint plugin_journal_subject_check on public.plugin_journal is
  'A label of at most 200 characters.';
comment on index public.plugin_journal_recent_idx is
  'The newest entries of one client and plugin (the merchant page).';
comment on index public.plugin_journal_recipient_idx is
  'The entries about one recipient (erasure requests, legal holds).';
comment on index public.plugin_journal_message_idx is
  'The entry of a message (a deleted message nulls message_id).';
comment on index public.plugin_journal_created_brin is 'Retention reads entries by age.';
comment on trigger plugin_journal_touch on public.plugin_journal is 'Keeps updated_at current.';
comment on policy plugin_journal_select_own on public.plugin_journal is
  'A client reads its own entries.';
comment on policy plugin_journal_insert_own on public.plugin_journal is
  'A client writes entries for itself only.';
comment on policy plugin_journal_update_own on public.plugin_journal is
  'A client settles its own entries only.';
comment on policy plugin_journal_delete_own on public.plugin_journal is
  'A client erases its own entries only (erasure requests).';
comment on policy plugin_journal_select_privacy_staff on public.plugin_journal is
  'Privacy staff read every client''s entries (access and erasure requests).';

-- entry: {key, kind, subject?, recipient?, data?, outcome?, reason?, message_id?}. The first call
-- for a key inserts it ({created: true}); every later one finds it as it stands ({created: false})
create function public.plugin_journal_claim(plugin text, entry jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  saved public.plugin_journal;
  created boolean;
begin
  if cid is null then
    raise exception 'plugin_journal_claim needs a client JWT' using errcode = '42501';
  end if;
  insert into public.plugin_journal as j (client_id, plugin_id, key, kind, subject, recipient,
    data, outcome, reason, message_id)
  values (cid, plugin, entry ->> 'key', entry ->> 'kind', entry ->> 'subject',
    entry ->> 'recipient', coalesce(entry -> 'data', '{}'::jsonb),
    coalesce(entry ->> 'outcome', 'pending'), entry ->> 'reason', (entry ->> 'message_id')::uuid)
  -- a concurrent claim of the same key waits for the first to commit, then finds its row
  on conflict (client_id, plugin_id, key) do nothing
  returning j.* into saved;
  created := found;
  if not created then
    select j.* into saved from public.plugin_journal j
     where j.client_id = cid and j.plugin_id = plugin and j.key = entry ->> 'key';
  end if;
  return jsonb_build_object('created', created,
    'entry', to_jsonb(saved) - 'client_id' - 'plugin_id');
end
$$;
comment on function public.plugin_journal_claim(text, jsonb) is
  'Claims a business key for a plugin (the durable dedupe of an upstream event): inserts the entry '
  'unless the key exists, and answers {created, entry} with the entry as it now stands.';
revoke all on function public.plugin_journal_claim(text, jsonb) from public;
grant execute on function public.plugin_journal_claim(text, jsonb) to authenticated;

-- the version stored for the key after this call: the greater of the stored one and `version`.
-- A caller whose version is below the answer holds a stale event
create function public.plugin_journal_advance(plugin text, entry_key text, entry_kind text,
  version bigint)
returns bigint
language sql
set search_path = ''
as $$
  insert into public.plugin_journal as j (client_id, plugin_id, key, kind, outcome, version)
  values (private.current_client_id(), plugin, entry_key, entry_kind, 'done', version)
  on conflict (client_id, plugin_id, key) do update
    set version = greatest(coalesce(j.version, excluded.version), excluded.version)
  returning j.version
$$;
comment on function public.plugin_journal_advance(text, text, text, bigint) is
  'Moves a resource''s version forward (never back) and answers the version now stored: an event '
  'whose version is below it is stale. One statement, so concurrent events of one resource agree.';
revoke all on function public.plugin_journal_advance(text, text, text, bigint) from public;
grant execute on function public.plugin_journal_advance(text, text, text, bigint) to authenticated;

create function public.plugin_journal_recent(plugin text, kinds text[], max_rows integer,
  before timestamptz default null)
returns table (key text, kind text, outcome text, reason text, subject text, recipient text,
  message_id uuid, message_status text, data jsonb, created_at timestamptz,
  updated_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select j.key, j.kind, j.outcome, j.reason, j.subject, j.recipient, j.message_id, m.status,
      j.data, j.created_at, j.updated_at
    from public.plugin_journal j
    left join public.messages m on m.client_id = j.client_id and m.id = j.message_id
   where j.client_id = (select private.current_client_id()) and j.plugin_id = plugin
     and (kinds is null or j.kind = any (kinds))
     and (before is null or j.created_at < before)
   order by j.created_at desc
   limit least(greatest(max_rows, 1), 200)
$$;
comment on function public.plugin_journal_recent(text, text[], integer, timestamptz) is
  'A plugin''s newest journal entries of the given kinds (all when null), at most 200, each with '
  'the current status of the message it sent (queued, sent, delivered, read, failed).';
revoke all on function public.plugin_journal_recent(text, text[], integer, timestamptz)
  from public;
grant execute on function public.plugin_journal_recent(text, text[], integer, timestamptz)
  to authenticated;

create function public.plugin_journal_summary(plugin text, kinds text[], days integer)
returns table (day date, outcome text, message_status text, reason text, entries bigint)
language sql
stable
set search_path = ''
as $$
  select (j.created_at at time zone 'UTC')::date, j.outcome, m.status, j.reason, count(*)
    from public.plugin_journal j
    left join public.messages m on m.client_id = j.client_id and m.id = j.message_id
   where j.client_id = (select private.current_client_id()) and j.plugin_id = plugin
     and (kinds is null or j.kind = any (kinds))
     and j.created_at >= ((now() at time zone 'UTC')::date
       - (least(greatest(days, 1), 90) - 1))::timestamp at time zone 'UTC'
   group by 1, 2, 3, 4
$$;
comment on function public.plugin_journal_summary(text, text[], integer) is
  'A plugin''s journal entries of the last `days` UTC days (at most 90), counted by day, outcome, '
  'the status of the message sent and the reason of a suppression: the merchant page''s chart.';
revoke all on function public.plugin_journal_summary(text, text[], integer) from public;
grant execute on function public.plugin_journal_summary(text, text[], integer) to authenticated;

-- retention: a class of its own, purged like messages (a hold on a number keeps its entries)
create function private.purge_plugin_journal(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select j.client_id, j.plugin_id, j.key
      from private.retention_targets('plugin_journal') t
      cross join lateral (
        select j.client_id, j.plugin_id, j.key from public.plugin_journal j
         where j.client_id = t.client_id and j.updated_at < t.cutoff
           and j.outcome <> 'pending'
           and (t.held_subjects is null or j.recipient is null
             or not j.recipient = any (t.held_subjects))
         order by j.updated_at
         limit max_rows
         for update skip locked
      ) j
     limit max_rows
  ), gone as (
    delete from public.plugin_journal j using doomed d
     where j.client_id = d.client_id and j.plugin_id = d.plugin_id and j.key = d.key
    returning j.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_plugin_journal(integer) is
  'Retention of plugin journal entries: deletes at most max_rows entries not changed since their '
  'client''s cutoff, oldest first, except pending ones (work under way) and those about a number '
  'under a legal hold.';
revoke all on function private.purge_plugin_journal(integer) from public;

-- 2 -----------------------------------------------------------------------------------------------

create table public.plugin_privacy_requests (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  plugin_id text not null check (plugin_id ~ '^[a-z][a-z0-9-]{1,62}$'),
  kind text not null check (kind in ('access', 'erasure', 'erase_all')),
  reference text not null check (char_length(reference) between 1 and 200),
  subject_ref text check (subject_ref ~ '^[0-9]{6,20}$'),
  details_ciphertext text check (char_length(details_ciphertext) <= 65536),
  status text not null default 'received'
    check (status in ('received', 'in_progress', 'completed', 'rejected')),
  received_at timestamptz not null default now(),
  handled_at timestamptz,
  handled_by text check (char_length(handled_by) <= 200),
  note text check (char_length(note) <= 2000),
  unique (client_id, plugin_id, reference)
);
alter table public.plugin_privacy_requests enable row level security;
create index plugin_privacy_requests_open_idx on public.plugin_privacy_requests (received_at)
  where status in ('received', 'in_progress');

grant select, insert on public.plugin_privacy_requests to authenticated;
grant all on public.plugin_privacy_requests to service_role;
-- privacy staff: never what the upstream said about the subject (details_ciphertext)
grant select (id, client_id, plugin_id, kind, reference, subject_ref, status, received_at,
  handled_at, handled_by, note) on public.plugin_privacy_requests to privacy_staff;
grant update (status, handled_at, handled_by, note) on public.plugin_privacy_requests
  to privacy_staff;

create policy plugin_privacy_requests_select_own on public.plugin_privacy_requests for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy plugin_privacy_requests_insert_own on public.plugin_privacy_requests for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy plugin_privacy_requests_select_privacy_staff on public.plugin_privacy_requests
  for select to privacy_staff using (true);
create policy plugin_privacy_requests_update_privacy_staff on public.plugin_privacy_requests
  for update to privacy_staff using (true) with check (true);

comment on table public.plugin_privacy_requests is
  'Privacy requests an upstream sent through a plugin (Shopify''s customers/data_request, '
  'customers/redact and shop/redact), recorded once per upstream reference before the delivery is '
  'acknowledged. The hand-off: the privacy workflow takes rows in status received, carries out '
  'the access or erasure (docs/plugins.md, plugins/shopify/README.md) within the upstream''s '
  'deadline (Shopify: 30 days) and sets status, handled_at and handled_by.';
comment on column public.plugin_privacy_requests.id is 'Our id of the request.';
comment on column public.plugin_privacy_requests.client_id is
  'The client whose installation received it.';
comment on column public.plugin_privacy_requests.plugin_id is 'The plugin that received it.';
comment on column public.plugin_privacy_requests.kind is
  'access (give the client what we hold about the subject), erasure (erase the subject) or '
  'erase_all (erase everything the installation holds: the shop left).';
comment on column public.plugin_privacy_requests.reference is
  'The upstream''s reference of the request (for Shopify: the topic and its request or shop id), '
  'unique per client and plugin so a redelivery records nothing twice.';
comment on column public.plugin_privacy_requests.subject_ref is
  'The data subject''s number (digits, as contacts.wa_id) when the upstream gave a usable one.';
comment on column public.plugin_privacy_requests.details_ciphertext is
  'What the upstream said about the subject (customer id, email, phone as given, order ids), as '
  'JSON encrypted with the client''s data key; the privacy workflow decrypts it.';
comment on column public.plugin_privacy_requests.status is
  'received, in_progress, completed or rejected (a request the law lets us refuse; say why in '
  'note).';
comment on column public.plugin_privacy_requests.received_at is 'When it was recorded.';
comment on column public.plugin_privacy_requests.handled_at is
  'When the privacy workflow finished it.';
comment on column public.plugin_privacy_requests.handled_by is 'Who finished it.';
comment on column public.plugin_privacy_requests.note is 'What was done, or why not.';
comment on constraint plugin_privacy_requests_pkey on public.plugin_privacy_requests is
  'Our id of the request.';
comment on constraint plugin_privacy_requests_client_id_fkey on public.plugin_privacy_requests is
  'Deleting a client deletes the requests its installations received.';
comment on constraint plugin_privacy_requests_client_id_plugin_id_reference_key
  on public.plugin_privacy_requests is
  'One row per upstream request: a redelivered webhook records nothing twice.';
comment on constraint plugin_privacy_requests_details_ciphertext_check
  on public.plugin_privacy_requests is 'The sealed details stay under 64 KB.';
comment on constraint plugin_privacy_requests_handled_by_check
  on public.plugin_privacy_requests is 'Who handled it, at most 200 characters.';
comment on constraint plugin_privacy_requests_kind_check on public.plugin_privacy_requests is
  'The kinds of request the privacy workflow carries out.';
comment on constraint plugin_privacy_requests_note_check on public.plugin_privacy_requests is
  'A note of at most 2000 characters.';
comment on constraint plugin_privacy_requests_plugin_id_check
  on public.plugin_privacy_requests is 'A plugin id as the registry writes it (kebab-case).';
comment on constraint plugin_privacy_requests_reference_check
  on public.plugin_privacy_requests is 'A reference of 1 to 200 characters.';
comment on constraint plugin_privacy_requests_status_check on public.plugin_privacy_requests is
  'The states of a request in the privacy workflow.';
comment on constraint plugin_privacy_requests_subject_ref_check
  on public.plugin_privacy_requests is 'A number as digits only, like contacts.wa_id.';
comment on index public.plugin_privacy_requests_open_idx is
  'The requests still to be handled, oldest first.';
comment on policy plugin_privacy_requests_select_own on public.plugin_privacy_requests is
  'A client reads the requests its installations received.';
comment on policy plugin_privacy_requests_insert_own on public.plugin_privacy_requests is
  'A client''s installation records requests for that client only.';
comment on policy plugin_privacy_requests_select_privacy_staff on public.plugin_privacy_requests is
  'Privacy staff read every request.';
comment on policy plugin_privacy_requests_update_privacy_staff on public.plugin_privacy_requests is
  'Privacy staff record how a request was handled (status, handled_at, handled_by, note only).';

create function private.purge_plugin_privacy_requests(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select r.id
      from private.retention_targets('plugin_privacy_requests') t
      cross join lateral (
        select r.id from public.plugin_privacy_requests r
         where r.client_id = t.client_id and r.handled_at < t.cutoff
           and r.status in ('completed', 'rejected')
         order by r.handled_at
         limit max_rows
         for update skip locked
      ) r
     limit max_rows
  ), gone as (
    delete from public.plugin_privacy_requests r using doomed d where r.id = d.id
    returning r.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_plugin_privacy_requests(integer) is
  'Retention of plugin privacy requests: deletes at most max_rows requests handled (completed or '
  'rejected) before their client''s cutoff. Open requests are work and are never purged.';
revoke all on function private.purge_plugin_privacy_requests(integer) from public;

insert into privacy.retention_classes (data_class, description, default_keep, minimum_keep,
  maximum_keep, per_client, subject_hold, run_every, purge_function, basis)
values
  ('plugin_journal',
   'What plugins did about upstream events (a Shopify order notification sent or suppressed, with '
   'the recipient''s number), by the time an entry last changed. Entries still pending are kept.',
   interval '90 days', interval '1 day', interval '3650 days', true, 'rows', interval '1 hour',
   'private.purge_plugin_journal(integer)',
   'The merchant''s view of the notifications sent for its orders, kept as long as the messages '
   'they describe by default. An entry also stops a late duplicate of its event from being sent '
   'again, which the upstream''s retry window (Shopify: 4 hours, deliveries up to a day late) '
   'needs for far less than a day.'),
  ('plugin_privacy_requests',
   'Privacy requests received through plugins (Shopify''s compliance webhooks), once handled. '
   'Open requests are never purged.',
   interval '1095 days', interval '365 days', interval '3650 days', true, 'client',
   interval '1 day', 'private.purge_plugin_privacy_requests(integer)',
   'A handled request is the proof that it was met (GDPR Art. 5(2) accountability, defence of '
   'legal claims): kept as long as request_proofs.');
