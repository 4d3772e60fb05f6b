-- Data-subject requests (access, correction, deletion, consent withdrawal), verified before
-- anything is carried out, fulfilled per client under that client's row-level security, and the
-- Studio functions privacy staff place and lift legal holds with (the holds themselves are
-- retention's privacy.legal_holds, extended by 20261202001500_legal_holds_for_requests.sql).
--
-- Why these shapes:
-- - One request can concern several clients (a person who wrote to two shops asks us, the
--   processor, to erase their number everywhere), so a request (public.privacy_requests) has one
--   part per client (public.privacy_request_parts). Each part is carried out with that client's
--   JWT, so RLS keeps it to that client's rows.
-- - Nothing about the subject is stored in clear on a request: who they are is encrypted with a
--   system key derived from the master keys (subject_ciphertext), and matched by a keyed hash
--   (subject_hash, HMAC under a key derived from API_KEY_PEPPER, which never lives in the
--   database). Once a request is finished only the minimal proof stays: what was asked, when,
--   how it was verified, who decided, what was done (counts), and the keyed hash.
-- - The confirmation code a subject follows their request with is a bearer secret (it leads to
--   the export), so only its keyed hash is stored, with its first four characters for people to
--   tell requests apart.
-- - Verification codes (one-time, sent over WhatsApp) are stored only as keyed hashes, expire and
--   allow a few attempts (public.privacy_verification_codes, service role only).
-- - An export (the answer to an access request) is stored encrypted with the client's data key and
--   handed out once through a signed, expiring link (public.privacy_exports).
-- - A legal hold stops an erasure: the part waits, held, naming the holds, and goes ahead once they
--   are lifted. The check is made before anything is erased and again in the statement that
--   erases (private.legal_holds_covering, the definition retention reads too).
-- - Status moves are checked by a trigger, so Studio's SQL editor (which runs as postgres and
--   bypasses RLS) cannot put a request in a state the workflow does not know.

-- the app's service role reads the workflow's privacy tables (privacy staff were given usage by
-- 20261202001200_retention.sql, which made the schema)
grant usage on schema privacy to service_role;

-- Studio's SQL editor runs as the role that runs migrations (postgres on hosted Supabase, where it
-- is no superuser): staff narrow their session to the team's rights with `set role privacy_staff`
-- (docs/privacy-runbook.md), which needs membership
do $do$
begin
  execute format('grant privacy_staff to %I', current_user);
end
$do$;

-- people are looked up by number across clients only by a verified request of their own
create index contacts_wa_id_idx on public.contacts (wa_id) where wa_id is not null;
create index contacts_user_id_idx on public.contacts (user_id) where user_id is not null;

-- requests -----------------------------------------------------------------------------------------
create table public.privacy_requests (
  id uuid primary key default gen_random_uuid(),
  -- keyed hash of the confirmation code the subject follows the request with (/privacy/requests/…)
  reference_hash text not null unique check (reference_hash ~ '^[0-9a-f]{64}$'),
  reference_prefix text not null check (reference_prefix ~ '^[0-9A-Z]{4}$'),
  -- the client that filed it (API, Shopify); null when the subject or Meta filed it. Not named
  -- client_id: a request belongs to no one client (its parts do)
  filing_client_id uuid references public.clients (id) on delete cascade,
  type text not null check (type in ('access', 'correction', 'deletion', 'consent_withdrawal')),
  channel text not null check (channel in ('web', 'api', 'shopify', 'meta')),
  status text not null default 'unverified' check (status in (
    'unverified', 'verified', 'approved', 'in_progress', 'completed', 'rejected', 'expired'
  )),
  -- the provider's id of this request (Shopify webhook id, Meta user and time): retries dedupe on it
  external_id text check (char_length(external_id) <= 200),
  subject_kind text not null
    check (subject_kind in ('whatsapp', 'meta_user', 'shopify_customer', 'shopify_shop')),
  subject_hash text not null check (subject_hash ~ '^[0-9a-f]{64}$'),
  subject_ciphertext text,
  details_ciphertext text,
  verification_method text not null check (verification_method in (
    'whatsapp_code', 'client_attestation', 'meta_signature', 'shopify_signature'
  )),
  verified_at timestamptz,
  attested_by text check (char_length(attested_by) between 1 and 200),
  attested_at timestamptz,
  filed_by text not null check (char_length(filed_by) between 1 and 300),
  received_at timestamptz not null default now(),
  due_at timestamptz not null default now() + interval '1 month',
  extended_due_at timestamptz,
  extension_reason text check (char_length(extension_reason) between 3 and 1000),
  extended_by text,
  approved_by text,
  approved_at timestamptz,
  rejected_by text,
  rejected_at timestamptz,
  rejection_reason text check (char_length(rejection_reason) between 3 and 1000),
  fulfilment_requested_by text,
  fulfilment_requested_at timestamptz,
  completed_at timestamptz,
  -- the X-Request-Id of the subject's own requests to /privacy (their IP and user agent are in
  -- api_request_log under these ids; an erasure removes those rows)
  subject_request_ids text[] not null default '{}' check (cardinality(subject_request_ids) <= 50),
  updated_at timestamptz not null default now(),
  check (filing_client_id is not null or channel in ('web', 'meta')),
  check (filing_client_id is null or channel in ('api', 'shopify')),
  check (verification_method <> 'client_attestation' or (attested_by is not null and attested_at is not null)),
  check (extended_due_at is null or (extended_due_at > due_at
    and extended_due_at <= due_at + interval '2 months' and extension_reason is not null)),
  check (status <> 'rejected' or rejection_reason is not null)
);
alter table public.privacy_requests enable row level security;
create index privacy_requests_filing_client_idx on public.privacy_requests
  (filing_client_id, received_at desc);
create index privacy_requests_open_idx on public.privacy_requests (due_at)
  where status not in ('completed', 'rejected', 'expired');
create index privacy_requests_subject_idx on public.privacy_requests (subject_hash, received_at);
create unique index privacy_requests_external_id_key on public.privacy_requests
  (coalesce(filing_client_id, '00000000-0000-0000-0000-000000000000'::uuid), channel, external_id)
  where external_id is not null;
create trigger privacy_requests_touch before update on public.privacy_requests
  for each row execute function private.touch_updated_at();

-- the parts: one per client whose data the request concerns
create table public.privacy_request_parts (
  id uuid primary key default gen_random_uuid(),
  request_id uuid not null references public.privacy_requests (id) on delete cascade,
  client_id uuid not null references public.clients (id) on delete cascade,
  -- pending: waiting for a decision; queued: to be carried out; held: a legal hold stops it;
  -- done: carried out (result says what); failed: gave up after repeated errors (staff re-run it)
  status text not null default 'pending'
    check (status in ('pending', 'queued', 'held', 'done', 'failed')),
  -- the client's contacts that are this subject, found when the part is carried out
  contact_ids uuid[] not null default '{}',
  result jsonb not null default '{}'::jsonb,
  error text check (char_length(error) <= 500),
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  locked_until timestamptz,
  done_at timestamptz,
  created_at timestamptz not null default now(),
  unique (request_id, client_id),
  unique (client_id, id)
);
alter table public.privacy_request_parts enable row level security;
create index privacy_request_parts_client_id_idx on public.privacy_request_parts (client_id, created_at desc);
create index privacy_request_parts_due_idx on public.privacy_request_parts (next_attempt_at)
  where status = 'queued';

-- one-time codes sent to the subject's WhatsApp number (service role only)
create table public.privacy_verification_codes (
  request_id uuid primary key references public.privacy_requests (id) on delete cascade,
  -- HMAC-SHA256 of the code under a key derived from API_KEY_PEPPER: a dump of the table cannot
  -- be searched through the million possible codes
  code_hash text not null check (code_hash ~ '^[0-9a-f]{64}$'),
  expires_at timestamptz not null,
  attempts integer not null default 0,
  max_attempts integer not null default 5 check (max_attempts between 1 and 10),
  sends integer not null default 1,
  last_sent_at timestamptz not null default now()
);
alter table public.privacy_verification_codes enable row level security;
revoke all on public.privacy_verification_codes from public, anon, authenticated;
grant select, insert, update, delete on public.privacy_verification_codes to service_role;
create policy privacy_verification_codes_deny_authenticated on public.privacy_verification_codes
  for select to authenticated using (false);

-- exports: the answer to an access request, encrypted with the client's data key
create table public.privacy_exports (
  id uuid primary key default gen_random_uuid(),
  request_id uuid not null references public.privacy_requests (id) on delete cascade,
  client_id uuid not null references public.clients (id) on delete cascade,
  part_id uuid not null,
  content_ciphertext text,
  bytes integer not null check (bytes >= 0),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  downloaded_at timestamptz,
  unique (client_id, id),
  foreign key (client_id, part_id) references public.privacy_request_parts (client_id, id)
    on delete cascade
);
alter table public.privacy_exports enable row level security;
create index privacy_exports_client_id_idx on public.privacy_exports (client_id, created_at desc);
-- the foreign keys' columns: a part's or a request's deletion (an offboarding, retention of
-- request proofs) cascades through them
create index privacy_exports_part_idx on public.privacy_exports (client_id, part_id);
create index privacy_exports_request_idx on public.privacy_exports (request_id);
create index privacy_exports_expiry_idx on public.privacy_exports (expires_at)
  where content_ciphertext is not null;

-- grants and policies: clients read their own requests (filed by them or with a part for them),
-- their parts and their exports' metadata; every write goes through the functions below
grant select (id, reference_prefix, filing_client_id, type, channel, status, external_id, subject_kind,
  verification_method, verified_at, attested_by, attested_at, filed_by, received_at, due_at,
  extended_due_at, extension_reason, approved_at, rejected_at, rejection_reason,
  fulfilment_requested_at, completed_at, updated_at)
  on public.privacy_requests to authenticated;
grant select (id, request_id, client_id, status, result, error, attempts, done_at, created_at)
  on public.privacy_request_parts to authenticated;
grant select (id, request_id, client_id, part_id, bytes, created_at, expires_at, downloaded_at)
  on public.privacy_exports to authenticated;
grant all on public.privacy_requests, public.privacy_request_parts, public.privacy_exports
  to service_role;
-- privacy staff: never the subject (encrypted anyway), the code's hash or the export's content
grant select (id, reference_prefix, filing_client_id, type, channel, status, external_id, subject_kind,
  verification_method, verified_at, attested_by, attested_at, filed_by, received_at, due_at,
  extended_due_at, extension_reason, extended_by, approved_by, approved_at, rejected_by,
  rejected_at, rejection_reason, fulfilment_requested_by, fulfilment_requested_at, completed_at,
  updated_at)
  on public.privacy_requests to privacy_staff;
grant select (id, request_id, client_id, status, result, error, attempts, next_attempt_at,
  done_at, created_at)
  on public.privacy_request_parts to privacy_staff;
grant select (id, request_id, client_id, part_id, bytes, created_at, expires_at, downloaded_at)
  on public.privacy_exports to privacy_staff;

create policy privacy_requests_select_own on public.privacy_requests for select to authenticated
  using (filing_client_id = (select private.current_client_id())
    or id in (select p.request_id from public.privacy_request_parts p
               where p.client_id = (select private.current_client_id())));
create policy privacy_requests_select_privacy_staff on public.privacy_requests for select
  to privacy_staff using (true);
create policy privacy_request_parts_select_own on public.privacy_request_parts for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy privacy_request_parts_select_privacy_staff on public.privacy_request_parts
  for select to privacy_staff using (true);
create policy privacy_exports_select_own on public.privacy_exports for select to authenticated
  using (client_id = (select private.current_client_id()));
create policy privacy_exports_select_privacy_staff on public.privacy_exports for select
  to privacy_staff using (true);

-- the workflow: which status may follow which ------------------------------------------------------
create function private.privacy_request_moves() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status = old.status then
    return new;
  end if;
  if not (
    (old.status = 'unverified' and new.status in ('verified', 'rejected', 'expired'))
    or (old.status = 'verified' and new.status in ('approved', 'rejected', 'in_progress'))
    or (old.status = 'approved' and new.status in ('in_progress', 'rejected'))
    or (old.status = 'in_progress' and new.status = 'completed')
  ) then
    raise exception 'a privacy request cannot go from % to %', old.status, new.status
      using errcode = 'GL409';
  end if;
  if new.status in ('verified', 'approved', 'in_progress') and new.verified_at is null then
    raise exception 'a privacy request is verified before anything else' using errcode = 'GL409';
  end if;
  return new;
end
$$;
create trigger privacy_requests_status_moves before update of status on public.privacy_requests
  for each row execute function private.privacy_request_moves();

-- an audit record of a privacy action (append-only public.audit_log), never naming the subject
create function private.privacy_audit(
  p_client_id uuid, p_actor text, p_action text, p_request_id uuid, p_details jsonb default '{}'
) returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
  values (p_client_id, p_actor, p_action, 'privacy_request', p_request_id::text,
    coalesce(p_details, '{}'::jsonb) || jsonb_build_object('db_role', session_user::text))
$$;
revoke all on function private.privacy_audit(uuid, text, text, uuid, jsonb) from public;
grant execute on function private.privacy_audit(uuid, text, text, uuid, jsonb) to service_role;

/*
 * Files a request (every channel). The database, not the caller, decides its status and deadline:
 * a request attested by its client or signed by Meta or Shopify is verified at once, others wait
 * for their one-time code. A client's request (API, Shopify) gets its one part, for that client.
 * A retry of the same provider request (external_id) returns the first one.
 */
create function public.file_privacy_request(r jsonb) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  caller uuid := private.current_client_id();
  is_service boolean := coalesce(auth.role(), '') = 'service_role';
  cid uuid := nullif(r ->> 'filing_client_id', '')::uuid;
  chan text := r ->> 'channel';
  method text := r ->> 'verification_method';
  row public.privacy_requests;
begin
  -- a client files for itself only, through the API or a plugin's webhook; the service files for
  -- subjects (web) and Meta, and for Shopify on a plugin's behalf
  if not is_service then
    if caller is null then
      raise exception 'file_privacy_request needs a client JWT or the service role'
        using errcode = '42501';
    end if;
    if cid is distinct from caller or chan is distinct from 'api' and chan is distinct from 'shopify'
    then
      raise exception 'a client files its own API or Shopify requests only' using errcode = '42501';
    end if;
  end if;
  if chan = 'web' and method is distinct from 'whatsapp_code'
    or chan = 'meta' and method is distinct from 'meta_signature'
    or chan = 'shopify' and method is distinct from 'shopify_signature'
    or chan = 'api' and method is distinct from 'whatsapp_code'
       and method is distinct from 'client_attestation' then
    raise exception 'channel % is not verified by %', chan, method using errcode = '22023';
  end if;
  insert into public.privacy_requests (
    reference_hash, reference_prefix, filing_client_id, type, channel, external_id, subject_kind,
    subject_hash, subject_ciphertext, details_ciphertext, verification_method, verified_at,
    status, attested_by, attested_at, filed_by, subject_request_ids, due_at
  ) values (
    r ->> 'reference_hash', r ->> 'reference_prefix', cid, r ->> 'type', chan,
    r ->> 'external_id', r ->> 'subject_kind', r ->> 'subject_hash', r ->> 'subject_ciphertext',
    r ->> 'details_ciphertext', method,
    case when method = 'whatsapp_code' then null else now() end,
    case when method = 'whatsapp_code' then 'unverified' else 'verified' end,
    case when method = 'client_attestation' then r ->> 'attested_by' end,
    case when method = 'client_attestation'
      then least(coalesce((r ->> 'attested_at')::timestamptz, now()), now()) end,
    r ->> 'filed_by',
    coalesce(array(select jsonb_array_elements_text(r -> 'subject_request_ids')), '{}'),
    -- Shopify asks for compliance requests to be completed within 30 days
    now() + case when chan = 'shopify' then interval '30 days' else interval '1 month' end
  )
  on conflict (coalesce(filing_client_id, '00000000-0000-0000-0000-000000000000'::uuid), channel,
    external_id) where external_id is not null do nothing
  returning * into row;
  if not found then
    -- a provider's retry (or a concurrent copy) of a request we have: the first one answers
    select * into row from public.privacy_requests q
     where coalesce(q.filing_client_id, '00000000-0000-0000-0000-000000000000'::uuid)
           = coalesce(cid, '00000000-0000-0000-0000-000000000000'::uuid)
       and q.channel = chan and q.external_id = r ->> 'external_id';
    return jsonb_build_object('request', to_jsonb(row), 'created', false);
  end if;
  if cid is not null then
    insert into public.privacy_request_parts (request_id, client_id) values (row.id, cid);
  end if;
  perform private.privacy_audit(cid, row.filed_by, 'privacy.request.filed', row.id,
    jsonb_build_object('type', row.type, 'channel', row.channel,
      'verification_method', row.verification_method));
  return jsonb_build_object('request', to_jsonb(row), 'created', true);
end
$$;
revoke all on function public.file_privacy_request(jsonb) from public, anon;
grant execute on function public.file_privacy_request(jsonb) to authenticated, service_role;

/*
 * A request whose subject proved who they are (their one-time code matched). For a request filed
 * on the web, the parts are made now: one per client that knows the subject's number or user id.
 * The client that sends the codes (privacy_sender) knows the number because it sent one: an access
 * or a deletion covers what it holds too, but a withdrawal or a correction does not reach it
 * (opted out there, the subject could never be sent a code again). A consent withdrawal goes
 * ahead at once: withdrawing consent needs no one's approval.
 */
create function public.verify_privacy_request(
  request_id uuid, wa_id text, user_id text, privacy_sender uuid
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  req public.privacy_requests;
begin
  select * into req from public.privacy_requests q where q.id = verify_privacy_request.request_id
    for update;
  if not found then
    return jsonb_build_object('outcome', 'not_found');
  end if;
  if req.status <> 'unverified' then
    return jsonb_build_object('outcome', 'already', 'status', req.status);
  end if;
  update public.privacy_requests q set status = 'verified', verified_at = now()
   where q.id = req.id;
  delete from public.privacy_verification_codes c where c.request_id = req.id;
  if req.filing_client_id is null then
    insert into public.privacy_request_parts (request_id, client_id)
    select distinct req.id, c.client_id from public.contacts c
     where ((verify_privacy_request.wa_id is not null and c.wa_id = verify_privacy_request.wa_id)
         or (verify_privacy_request.user_id is not null
             and c.user_id = verify_privacy_request.user_id))
       and (req.type in ('access', 'deletion') or privacy_sender is null
            or c.client_id <> privacy_sender)
    on conflict do nothing;
  end if;
  perform private.privacy_audit(req.filing_client_id, 'subject', 'privacy.request.verified', req.id,
    jsonb_build_object('method', req.verification_method));
  if req.type = 'consent_withdrawal' then
    perform private.start_privacy_fulfilment(req.id, 'subject');
  end if;
  return jsonb_build_object('outcome', 'verified', 'type', req.type);
end
$$;
revoke all on function public.verify_privacy_request(uuid, text, text, uuid)
  from public, anon, authenticated;
grant execute on function public.verify_privacy_request(uuid, text, text, uuid) to service_role;

-- queues every part not yet done; a request without parts (nothing held) completes at once
create function private.start_privacy_fulfilment(p_request_id uuid, p_actor text) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.privacy_requests q set status = 'in_progress',
      fulfilment_requested_by = p_actor, fulfilment_requested_at = now()
   where q.id = p_request_id and q.status <> 'in_progress';
  update public.privacy_request_parts p set status = 'queued', next_attempt_at = now(),
      attempts = 0, error = null, locked_until = null
   where p.request_id = p_request_id and p.status in ('pending', 'held', 'failed');
  perform private.complete_privacy_request(p_request_id);
end
$$;
revoke all on function private.start_privacy_fulfilment(uuid, text) from public;
grant execute on function private.start_privacy_fulfilment(uuid, text) to service_role;

-- once every part is done, the request is completed and keeps only its minimal proof; a
-- completed deletion also erases the subject's own requests to /privacy from the API request log
create function private.complete_privacy_request(p_request_id uuid) returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  req public.privacy_requests;
  n_logs integer := 0;
begin
  select * into req from public.privacy_requests q where q.id = p_request_id for update;
  if req.status <> 'in_progress' or exists (
    select 1 from public.privacy_request_parts p
     where p.request_id = p_request_id and p.status <> 'done'
  ) then
    return false;
  end if;
  if req.type = 'deletion' and cardinality(req.subject_request_ids) > 0 then
    with gone as (
      delete from public.api_request_log l
       where l.client_id is null and l.request_id = any(req.subject_request_ids)
      returning 1
    ) select count(*) into n_logs from gone;
  end if;
  update public.privacy_requests q set status = 'completed', completed_at = now(),
      subject_ciphertext = null, details_ciphertext = null, subject_request_ids = '{}'
   where q.id = p_request_id;
  update public.privacy_request_parts p set contact_ids = '{}' where p.request_id = p_request_id;
  perform private.privacy_audit(req.filing_client_id, 'system', 'privacy.request.completed',
    req.id, jsonb_build_object('type', req.type, 'request_log', n_logs));
  return true;
end
$$;
revoke all on function private.complete_privacy_request(uuid) from public;
grant execute on function private.complete_privacy_request(uuid) to service_role;

-- verification codes --------------------------------------------------------------------------------

/*
 * Stores a fresh code for a request still waiting for one. Resends are limited: at most 3 codes
 * per request, at least 60 seconds apart. Returns 'stored', 'too_soon', 'too_many' or 'closed'.
 */
create function public.store_privacy_code(
  request_id uuid, code_hash text, ttl_seconds integer, max_attempts integer
) returns text
language plpgsql
security invoker
set search_path = ''
as $$
declare
  c public.privacy_verification_codes;
begin
  if not exists (select 1 from public.privacy_requests q
                  where q.id = store_privacy_code.request_id and q.status = 'unverified') then
    return 'closed';
  end if;
  select * into c from public.privacy_verification_codes v
   where v.request_id = store_privacy_code.request_id for update;
  if found then
    if c.sends >= 3 then return 'too_many'; end if;
    if c.last_sent_at > now() - interval '60 seconds' then return 'too_soon'; end if;
    update public.privacy_verification_codes v set code_hash = store_privacy_code.code_hash,
        expires_at = now() + make_interval(secs => ttl_seconds), attempts = 0,
        max_attempts = store_privacy_code.max_attempts, sends = v.sends + 1, last_sent_at = now()
     where v.request_id = store_privacy_code.request_id;
  else
    insert into public.privacy_verification_codes
      (request_id, code_hash, expires_at, max_attempts)
    values (store_privacy_code.request_id, store_privacy_code.code_hash,
      now() + make_interval(secs => ttl_seconds), store_privacy_code.max_attempts);
  end if;
  return 'stored';
end
$$;
revoke all on function public.store_privacy_code(uuid, text, integer, integer)
  from public, anon, authenticated;
grant execute on function public.store_privacy_code(uuid, text, integer, integer) to service_role;

/*
 * Spends one attempt before the code is compared (by the app, in constant time), so concurrent
 * guesses cannot exceed the limit. Returns the stored hash with the attempt's number, or why no
 * attempt is left: 'no_code', 'expired', 'locked'.
 */
create function public.take_privacy_code_attempt(request_id uuid) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  c public.privacy_verification_codes;
begin
  update public.privacy_verification_codes v set attempts = v.attempts + 1
   where v.request_id = take_privacy_code_attempt.request_id and v.attempts < v.max_attempts
     and v.expires_at > now()
  returning * into c;
  if found then
    return jsonb_build_object('outcome', 'attempt', 'code_hash', c.code_hash,
      'attempts', c.attempts, 'max_attempts', c.max_attempts);
  end if;
  select * into c from public.privacy_verification_codes v
   where v.request_id = take_privacy_code_attempt.request_id;
  if not found then return jsonb_build_object('outcome', 'no_code'); end if;
  if c.attempts >= c.max_attempts then return jsonb_build_object('outcome', 'locked'); end if;
  return jsonb_build_object('outcome', 'expired');
end
$$;
revoke all on function public.take_privacy_code_attempt(uuid) from public, anon, authenticated;
grant execute on function public.take_privacy_code_attempt(uuid) to service_role;

-- fulfilment: claiming, carrying out and finishing parts ------------------------------------------

-- queued parts due now, each client's oldest first, in turns (as due_webhook_deliveries)
create function public.due_privacy_parts(max_rows integer)
returns table (id uuid, client_id uuid)
language sql
stable
security invoker
set search_path = ''
as $$
  select x.id, x.client_id from (
    select p.id, p.client_id, p.next_attempt_at,
        row_number() over (partition by p.client_id order by p.next_attempt_at, p.id) as turn
      from public.privacy_request_parts p
     where p.status = 'queued' and p.next_attempt_at <= now()
       and (p.locked_until is null or p.locked_until < now())
  ) x
  order by x.turn, x.next_attempt_at, x.id
  limit max_rows
$$;
revoke all on function public.due_privacy_parts(integer) from public, anon, authenticated;
grant execute on function public.due_privacy_parts(integer) to service_role;

/*
 * Leases a queued part for one attempt and returns what carrying it out needs: the request's
 * type, its encrypted subject and details. Null when the part is not queued or someone holds it.
 */
create function public.claim_privacy_part(part_id uuid, lease_seconds integer default 300)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  p public.privacy_request_parts;
  q public.privacy_requests;
begin
  update public.privacy_request_parts x set attempts = x.attempts + 1,
      locked_until = now() + make_interval(secs => lease_seconds)
   where x.id = claim_privacy_part.part_id and x.status = 'queued'
     and (x.locked_until is null or x.locked_until < now())
  returning * into p;
  if not found then return null; end if;
  select * into q from public.privacy_requests r where r.id = p.request_id;
  return jsonb_build_object('part', to_jsonb(p), 'request', jsonb_build_object(
    'id', q.id, 'type', q.type, 'channel', q.channel, 'filing_client_id', q.filing_client_id,
    'subject_kind', q.subject_kind, 'subject_ciphertext', q.subject_ciphertext,
    'details_ciphertext', q.details_ciphertext, 'subject_request_ids', q.subject_request_ids));
end
$$;
revoke all on function public.claim_privacy_part(uuid, integer) from public, anon, authenticated;
grant execute on function public.claim_privacy_part(uuid, integer) to service_role;

-- the part's client's contacts that are the subject (by number or user id), kept on the part
create function public.resolve_privacy_part_contacts(part_id uuid, wa_id text, user_id text)
returns uuid[]
language plpgsql
security invoker
set search_path = ''
as $$
declare
  ids uuid[];
begin
  update public.privacy_request_parts p set contact_ids = coalesce((
      select array_agg(c.id order by c.id) from public.contacts c
       where c.client_id = p.client_id
         and ((resolve_privacy_part_contacts.wa_id is not null
               and c.wa_id = resolve_privacy_part_contacts.wa_id)
           or (resolve_privacy_part_contacts.user_id is not null
               and c.user_id = resolve_privacy_part_contacts.user_id))), '{}')
   where p.id = resolve_privacy_part_contacts.part_id and p.status = 'queued'
  returning p.contact_ids into ids;
  return ids;
end
$$;
revoke all on function public.resolve_privacy_part_contacts(uuid, text, text)
  from public, anon, authenticated;
grant execute on function public.resolve_privacy_part_contacts(uuid, text, text) to service_role;

-- whether a legal hold covers a part's client or any of its contacts (checked again when erasing)
create function public.privacy_part_held(part_id uuid) returns boolean
language sql
stable
security invoker
set search_path = ''
as $$
  select cardinality(private.legal_holds_covering(p.client_id, p.contact_ids)) > 0
    from public.privacy_request_parts p where p.id = privacy_part_held.part_id
$$;
revoke all on function public.privacy_part_held(uuid) from public, anon, authenticated;
grant execute on function public.privacy_part_held(uuid) to service_role;

-- remembers one of the subject's own requests to /privacy (its log row goes with an erasure)
create function public.add_privacy_subject_request(request_id uuid, http_request_id text)
returns void
language sql
security invoker
set search_path = ''
as $$
  update public.privacy_requests q
     set subject_request_ids = q.subject_request_ids || add_privacy_subject_request.http_request_id
   where q.id = add_privacy_subject_request.request_id
     and q.status not in ('completed', 'rejected', 'expired')
     and cardinality(q.subject_request_ids) < 50
     and char_length(add_privacy_subject_request.http_request_id) between 1 and 200
$$;
revoke all on function public.add_privacy_subject_request(uuid, text)
  from public, anon, authenticated;
grant execute on function public.add_privacy_subject_request(uuid, text) to service_role;

-- whether `haystack` holds one of `needles` as a whole token (not inside a longer number or id)
create function private.mentions(haystack text, needles text[]) returns boolean
language sql
immutable
set search_path = ''
as $$
  select exists (
    select 1 from unnest(needles) v
     where v <> '' and haystack ~ ('(^|[^0-9A-Za-z.])'
       || regexp_replace(v, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g') || '($|[^0-9A-Za-z.])'))
$$;
revoke all on function private.mentions(text, text[]) from public;

/*
 * Carries out the database side of a part, as its client (RLS's client, checked here): for a
 * deletion, erases the subject's contacts, their messages and every status event of those
 * messages, their consent history, the client webhook deliveries and plugin deliveries the app
 * found about them (delivery_ids, plugin_delivery_ids: their payloads are encrypted), the plugin
 * state whose key or value names their number, user id or contact id (what a plugin's own erase
 * hook left), and the WhatsApp account events that name their number; for a consent
 * withdrawal, records the opt-out and stops every message to them that has not left yet; for a
 * correction, writes the corrected profile name (encrypted by the app with the client's key).
 * Only a part leased for this attempt is carried out, and a legal hold on the client or a contact
 * stops a deletion before anything is erased. Returns what was done, as counts.
 */
create function public.apply_privacy_part(
  part_id uuid,
  delivery_ids uuid[] default '{}',
  profile_name_ciphertext text default null,
  plugin_delivery_ids uuid[] default '{}'
) returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  p public.privacy_request_parts;
  kind text;
  numbers text[];
  message_ids uuid[];
  wamids text[];
  n_status integer := 0;
  n_messages integer := 0;
  n_consent integer := 0;
  n_contacts integer := 0;
  n_deliveries integer := 0;
  n_events integer := 0;
  n_stopped integer := 0;
  n_plugin_deliveries integer := 0;
  n_plugin_state integer := 0;
begin
  select * into p from public.privacy_request_parts x
   where x.id = apply_privacy_part.part_id and x.client_id = cid for update;
  if not found or p.status <> 'queued' or p.locked_until is null or p.locked_until < now() then
    return jsonb_build_object('outcome', 'not_claimed');
  end if;
  select q.type into kind from public.privacy_requests q where q.id = p.request_id;

  if kind = 'deletion' then
    if cardinality(private.legal_holds_covering(cid, p.contact_ids)) > 0 then
      return jsonb_build_object('outcome', 'held');
    end if;
    select coalesce(array_agg(x.v), '{}') into numbers from (
      select c.wa_id as v from public.contacts c
       where c.client_id = cid and c.id = any(p.contact_ids) and c.wa_id is not null
      union
      select c.user_id from public.contacts c
       where c.client_id = cid and c.id = any(p.contact_ids) and c.user_id is not null
    ) x;
    select coalesce(array_agg(m.id), '{}'), coalesce(array_agg(m.wamid)
             filter (where m.wamid is not null), '{}')
      into message_ids, wamids
      from public.messages m
     where m.client_id = cid
       and (m.contact_id = any(p.contact_ids) or m.recipient = any(numbers));
    -- a re-drive names its dead-lettered original (retry_of): it goes in the same statement
    with gone as (
      delete from public.message_status_events e
       where e.client_id = cid and (e.message_id = any(message_ids) or e.wamid = any(wamids))
      returning 1
    ) select count(*) into n_status from gone;
    update public.messages m set retry_of = null
     where m.client_id = cid and m.retry_of = any(message_ids);
    with gone as (
      delete from public.messages m where m.client_id = cid and m.id = any(message_ids)
      returning 1
    ) select count(*) into n_messages from gone;
    with gone as (
      delete from public.consent_events e
       where e.client_id = cid and e.contact_id = any(p.contact_ids)
      returning 1
    ) select count(*) into n_consent from gone;
    with gone as (
      delete from public.webhook_deliveries d
       where d.client_id = cid and d.id = any(apply_privacy_part.delivery_ids)
      returning 1
    ) select count(*) into n_deliveries from gone;
    with gone as (
      delete from public.whatsapp_account_events e
       where e.client_id = cid and private.mentions(e.value::text, numbers)
      returning 1
    ) select count(*) into n_events from gone;
    with gone as (
      delete from public.plugin_deliveries d
       where d.client_id = cid and d.id = any(apply_privacy_part.plugin_delivery_ids)
      returning 1
    ) select count(*) into n_plugin_deliveries from gone;
    with gone as (
      delete from public.plugin_state s
       where s.client_id = cid
         and (private.mentions(s.key, numbers || p.contact_ids::text[])
           or private.mentions(s.value::text, numbers || p.contact_ids::text[]))
      returning 1
    ) select count(*) into n_plugin_state from gone;
    with gone as (
      delete from public.contacts c where c.client_id = cid and c.id = any(p.contact_ids)
      returning 1
    ) select count(*) into n_contacts from gone;
    return jsonb_build_object('outcome', 'done', 'result', jsonb_build_object(
      'contacts', n_contacts, 'messages', n_messages, 'status_events', n_status,
      'consent_events', n_consent, 'webhook_deliveries', n_deliveries,
      'account_events', n_events, 'plugin_deliveries', n_plugin_deliveries,
      'plugin_state', n_plugin_state));
  elsif kind = 'consent_withdrawal' then
    update public.contacts c set consent_status = 'opted_out', consent_source = 'privacy_request',
        consent_updated_at = now()
     where c.client_id = cid and c.id = any(p.contact_ids);
    insert into public.consent_events (client_id, contact_id, status, source, actor)
    select cid, c.id, 'opted_out', 'privacy_request', 'privacy_request:' || p.request_id
      from unnest(p.contact_ids) c(id)
      join public.contacts k on k.client_id = cid and k.id = c.id;
    get diagnostics n_consent = row_count;
    -- what is still waiting to be sent never leaves
    with stopped as (
      update public.messages m set status = 'failed', failed_at = now(), next_attempt_at = null,
          locked_until = null, status_updated_at = now(),
          error = jsonb_build_object('code', 'contact_opted_out',
            'title', 'The contact withdrew consent before this message was sent')
       where m.client_id = cid and m.direction = 'outbound' and m.status = 'queued'
         and m.contact_id = any(p.contact_ids)
      returning 1
    ) select count(*) into n_stopped from stopped;
    return jsonb_build_object('outcome', 'done', 'result', jsonb_build_object(
      'contacts_opted_out', n_consent, 'queued_messages_stopped', n_stopped));
  elsif kind = 'correction' then
    if profile_name_ciphertext is null then
      return jsonb_build_object('outcome', 'done', 'result', jsonb_build_object('corrected', 0));
    end if;
    update public.contacts c set profile_name_ciphertext = apply_privacy_part.profile_name_ciphertext
     where c.client_id = cid and c.id = any(p.contact_ids);
    get diagnostics n_contacts = row_count;
    return jsonb_build_object('outcome', 'done', 'result', jsonb_build_object(
      'contacts_corrected', n_contacts));
  end if;
  return jsonb_build_object('outcome', 'not_applicable');
end
$$;
revoke all on function public.apply_privacy_part(uuid, uuid[], text, uuid[]) from public, anon;
grant execute on function public.apply_privacy_part(uuid, uuid[], text, uuid[]) to authenticated;

-- the caller's plugin state that names the subject, for an export (an erasure deletes the same
-- rows): what plugins keep without a privacy hook of their own is shown too
create function public.plugin_state_naming(needles text[])
returns setof public.plugin_state
language sql
stable
security invoker
set search_path = ''
as $$
  select s.* from public.plugin_state s
   where s.client_id = (select private.current_client_id())
     and (private.mentions(s.key, needles) or private.mentions(s.value::text, needles))
   order by s.plugin_id, s.key
   limit 1000
$$;
revoke all on function public.plugin_state_naming(text[]) from public, anon;
grant execute on function public.plugin_state_naming(text[]) to authenticated;
grant execute on function private.mentions(text, text[]) to authenticated;

/*
 * Records an attempt's outcome: 'done' (with what was done), 'held' (a legal hold stops it until
 * lifted), or 'retry' (an error; after 5 attempts the part is 'failed' for staff to re-run).
 * Finishing the last part completes the request.
 */
create function public.finish_privacy_part(
  part_id uuid, outcome text, result jsonb default '{}', error text default null,
  retry_in_seconds integer default 60
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  p public.privacy_request_parts;
  req public.privacy_requests;
  completed boolean := false;
  holds uuid[];
begin
  select * into p from public.privacy_request_parts x where x.id = finish_privacy_part.part_id
    for update;
  if not found or p.status <> 'queued' then
    return jsonb_build_object('outcome', 'not_queued');
  end if;
  select * into req from public.privacy_requests q where q.id = p.request_id for update;
  if outcome = 'done' then
    update public.privacy_request_parts x set status = 'done', done_at = now(),
        result = coalesce(finish_privacy_part.result, '{}'::jsonb),
        error = null, locked_until = null, next_attempt_at = null
     where x.id = p.id;
    completed := private.complete_privacy_request(req.id);
  elsif outcome = 'held' then
    holds := private.legal_holds_covering(p.client_id, p.contact_ids);
    -- the holds are named, so that staff (and the client, through the API) see why it waits
    update public.privacy_request_parts x set status = 'held', locked_until = null,
        next_attempt_at = null,
        error = left(case when cardinality(holds) > 0
          then 'Legal hold ' || array_to_string(holds, ', ') || ' stops this erasure until it is lifted'
          else 'A legal hold stops this erasure until it is lifted' end, 500)
     where x.id = p.id;
    perform private.privacy_audit(p.client_id, 'system', 'privacy.part.held', req.id,
      jsonb_build_object('legal_holds', to_jsonb(holds)));
  elsif outcome = 'retry' then
    update public.privacy_request_parts x set
        status = case when x.attempts >= 5 then 'failed' else 'queued' end,
        error = left(finish_privacy_part.error, 500), locked_until = null,
        next_attempt_at = now() + make_interval(secs => retry_in_seconds)
     where x.id = p.id;
  else
    raise exception 'unknown outcome %', outcome using errcode = '22023';
  end if;
  return jsonb_build_object('outcome', outcome, 'request_completed', completed);
end
$$;
revoke all on function public.finish_privacy_part(uuid, text, jsonb, text, integer)
  from public, anon, authenticated;
grant execute on function public.finish_privacy_part(uuid, text, jsonb, text, integer)
  to service_role;

/*
 * Hands out an export once: marks it downloaded and drops its content in the same statement,
 * returning the content that was there. Null when it was downloaded already or has expired.
 */
create function public.take_privacy_export(export_id uuid) returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with old as (
    select e.id, e.client_id, e.content_ciphertext from public.privacy_exports e
     where e.id = take_privacy_export.export_id and e.downloaded_at is null
       and e.expires_at > now() and e.content_ciphertext is not null
     for update
  ), taken as (
    update public.privacy_exports e set downloaded_at = now(), content_ciphertext = null
      from old where e.id = old.id
    returning old.client_id, old.content_ciphertext
  )
  select jsonb_build_object('client_id', t.client_id, 'content_ciphertext', t.content_ciphertext)
    from taken t
$$;
revoke all on function public.take_privacy_export(uuid) from public, anon, authenticated;
grant execute on function public.take_privacy_export(uuid) to service_role;

/*
 * Housekeeping of the workflow, run by every sweep: exports past their time lose their content,
 * and a request nobody verified within 7 days expires (its encrypted subject goes with it).
 */
create function public.expire_privacy_work(max_rows integer default 1000) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  n_exports integer;
  n_requests integer;
begin
  with doomed as (
    select e.id from public.privacy_exports e
     where e.content_ciphertext is not null and e.expires_at <= now()
     limit max_rows for update skip locked
  ), gone as (
    update public.privacy_exports e set content_ciphertext = null from doomed d where e.id = d.id
    returning 1
  ) select count(*) into n_exports from gone;
  with doomed as (
    select q.id from public.privacy_requests q
     where q.status = 'unverified' and q.received_at < now() - interval '7 days'
     limit max_rows for update skip locked
  ), gone as (
    update public.privacy_requests q set status = 'expired', subject_ciphertext = null,
        details_ciphertext = null
      from doomed d where q.id = d.id
    returning 1
  ) select count(*) into n_requests from gone;
  delete from public.privacy_verification_codes c
   where c.request_id in (select q.id from public.privacy_requests q where q.status = 'expired');
  return jsonb_build_object('exports', n_exports, 'requests', n_requests);
end
$$;
revoke all on function public.expire_privacy_work(integer) from public, anon, authenticated;
grant execute on function public.expire_privacy_work(integer) to service_role;

-- Studio: what privacy staff see and do ------------------------------------------------------------

/*
 * Who is acting. A staff member who signs in with a login role of their own is that role; in
 * Studio's SQL editor everyone is `postgres`, so there they say who they are first with
 * privacy.act_as(). A staff function refuses to run while nobody is named.
 */
create function privacy.act_as(staff_member text) returns text
language plpgsql
set search_path = ''
as $$
begin
  if staff_member is null or char_length(btrim(staff_member)) not between 3 and 200
     or staff_member ~ '[[:cntrl:]]' then
    raise exception 'name yourself with 3 to 200 printable characters (an email address, say)'
      using errcode = '22023';
  end if;
  perform set_config('privacy.staff_member', btrim(staff_member), false);
  return btrim(staff_member);
end
$$;

create function private.privacy_staff_member() returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  declared text := nullif(btrim(coalesce(current_setting('privacy.staff_member', true), '')), '');
begin
  if session_user::text not in ('postgres', 'supabase_admin', 'service_role', 'authenticator',
      'supabase_read_only_user', 'dashboard_user') then
    return session_user::text;
  end if;
  if declared is null then
    raise exception 'say who you are first: select privacy.act_as(''you@example.com'')'
      using errcode = '28000';
  end if;
  return declared;
end
$$;
revoke all on function private.privacy_staff_member() from public;
grant execute on function private.privacy_staff_member() to privacy_staff;

create function private.privacy_request_for_staff(p_request_id uuid)
returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  req public.privacy_requests;
begin
  select * into req from public.privacy_requests q where q.id = p_request_id for update;
  if not found then
    raise exception 'no privacy request %', p_request_id using errcode = 'P0002';
  end if;
  return req;
end
$$;
revoke all on function private.privacy_request_for_staff(uuid) from public;

create function privacy.approve_request(request_id uuid, note text default null)
returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  req public.privacy_requests := private.privacy_request_for_staff(request_id);
begin
  if req.status <> 'verified' then
    raise exception 'only a verified request can be approved (this one is %)', req.status
      using errcode = 'GL409';
  end if;
  update public.privacy_requests q set status = 'approved', approved_by = who,
      approved_at = now()
   where q.id = req.id returning * into req;
  perform private.privacy_audit(req.filing_client_id, 'staff:' || who, 'privacy.request.approved',
    req.id, jsonb_build_object('note', left(note, 1000)));
  return req;
end
$$;

create function privacy.reject_request(request_id uuid, reason text)
returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  req public.privacy_requests := private.privacy_request_for_staff(request_id);
begin
  if reason is null or char_length(btrim(reason)) < 3 then
    raise exception 'a rejection says why (the subject is shown the reason)' using errcode = '22023';
  end if;
  if req.status not in ('unverified', 'verified', 'approved') then
    raise exception 'a % request cannot be rejected', req.status using errcode = 'GL409';
  end if;
  update public.privacy_requests q set status = 'rejected', rejected_by = who,
      rejected_at = now(), rejection_reason = left(btrim(reason), 1000),
      subject_ciphertext = null, details_ciphertext = null, subject_request_ids = '{}'
   where q.id = req.id returning * into req;
  delete from public.privacy_verification_codes c where c.request_id = req.id;
  perform private.privacy_audit(req.filing_client_id, 'staff:' || who, 'privacy.request.rejected',
    req.id, jsonb_build_object('reason', left(btrim(reason), 1000)));
  return req;
end
$$;

create function privacy.apply_correction(request_id uuid, note text default null)
returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  req public.privacy_requests := private.privacy_request_for_staff(request_id);
begin
  if req.type <> 'correction' then
    raise exception 'request % asks for %, not a correction', req.id, req.type
      using errcode = 'GL409';
  end if;
  if req.status = 'verified' then
    update public.privacy_requests q set status = 'approved', approved_by = who,
        approved_at = now()
     where q.id = req.id;
  elsif req.status <> 'approved' then
    raise exception 'only a verified or approved correction can be applied (this one is %)',
      req.status using errcode = 'GL409';
  end if;
  perform private.start_privacy_fulfilment(req.id, 'staff:' || who);
  perform private.privacy_audit(req.filing_client_id, 'staff:' || who, 'privacy.correction.applied',
    req.id, jsonb_build_object('note', left(note, 1000)));
  return private.privacy_request_for_staff(req.id);
end
$$;

create function privacy.extend_deadline(
  request_id uuid, reason text, extension interval default interval '2 months'
) returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  req public.privacy_requests := private.privacy_request_for_staff(request_id);
begin
  if reason is null or char_length(btrim(reason)) < 3 then
    raise exception 'an extension says why (the subject is told the reason)' using errcode = '22023';
  end if;
  if req.extended_due_at is not null then
    raise exception 'the deadline was extended already, on % to %', req.extended_due_at,
      req.extended_due_at using errcode = 'GL409';
  end if;
  if extension is null or extension <= interval '0' or extension > interval '2 months' then
    raise exception 'a deadline is extended by at most two months' using errcode = '22023';
  end if;
  if req.status in ('completed', 'rejected', 'expired') then
    raise exception 'a % request has no deadline left to extend', req.status
      using errcode = 'GL409';
  end if;
  if now() > req.due_at then
    raise exception 'the extension is decided within the first month: this one was due on %',
      req.due_at using errcode = 'GL409';
  end if;
  update public.privacy_requests q set extended_due_at = req.due_at + extension,
      extension_reason = left(btrim(reason), 1000), extended_by = who
   where q.id = req.id returning * into req;
  perform private.privacy_audit(req.filing_client_id, 'staff:' || who, 'privacy.deadline.extended',
    req.id, jsonb_build_object('reason', left(btrim(reason), 1000),
      'until', req.extended_due_at));
  return req;
end
$$;

create function privacy.place_legal_hold(
  client_id uuid, reason text, contact_id uuid default null, expires_at timestamptz default null
) returns privacy.legal_holds
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  hold privacy.legal_holds;
begin
  if place_legal_hold.reason is null or char_length(btrim(place_legal_hold.reason)) < 3 then
    raise exception 'a legal hold says why the data must be kept' using errcode = '22023';
  end if;
  if not exists (select 1 from public.clients c where c.id = place_legal_hold.client_id) then
    raise exception 'no client %', place_legal_hold.client_id using errcode = 'P0002';
  end if;
  if place_legal_hold.contact_id is not null and not exists (
    select 1 from public.contacts c
     where c.id = place_legal_hold.contact_id and c.client_id = place_legal_hold.client_id
  ) then
    raise exception 'no contact % for client %', place_legal_hold.contact_id,
      place_legal_hold.client_id using errcode = 'P0002';
  end if;
  insert into privacy.legal_holds (client_id, kind, contact_id, reason, placed_by, expires_at)
  values (place_legal_hold.client_id,
    case when place_legal_hold.contact_id is null then 'client' else 'contact' end,
    place_legal_hold.contact_id, btrim(place_legal_hold.reason), who,
    place_legal_hold.expires_at)
  returning * into hold;
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
  values (hold.client_id, 'staff:' || who, 'privacy.legal_hold.placed', 'legal_hold',
    hold.id::text, jsonb_build_object('kind', hold.kind, 'reason', hold.reason,
      'expires_at', hold.expires_at, 'db_role', session_user::text));
  return hold;
end
$$;

create function privacy.lift_legal_hold(hold_id uuid, reason text)
returns privacy.legal_holds
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  hold privacy.legal_holds;
begin
  if lift_legal_hold.reason is null or char_length(btrim(lift_legal_hold.reason)) < 3 then
    raise exception 'lifting a hold says why' using errcode = '22023';
  end if;
  update privacy.legal_holds h set lifted_by = who, lifted_at = now(),
      lift_reason = left(btrim(lift_legal_hold.reason), 1000)
   where h.id = lift_legal_hold.hold_id and h.lifted_at is null
  returning * into hold;
  if not found then
    raise exception 'no active legal hold %', lift_legal_hold.hold_id using errcode = 'P0002';
  end if;
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
  values (hold.client_id, 'staff:' || who, 'privacy.legal_hold.lifted', 'legal_hold',
    hold.id::text, jsonb_build_object('reason', hold.lift_reason, 'db_role', session_user::text));
  -- the erasures it stopped go ahead now (a part held by another hold stops again)
  update public.privacy_request_parts p set status = 'queued', next_attempt_at = now(),
      attempts = 0, error = null
   where p.client_id = hold.client_id and p.status = 'held';
  return hold;
end
$$;

create function privacy.run_fulfilment(request_id uuid) returns public.privacy_requests
language plpgsql
security definer
set search_path = ''
as $$
declare
  who text := private.privacy_staff_member();
  req public.privacy_requests := private.privacy_request_for_staff(request_id);
begin
  if req.status not in ('approved', 'in_progress') then
    raise exception 'only an approved request is carried out (this one is %)', req.status
      using errcode = 'GL409';
  end if;
  perform private.start_privacy_fulfilment(req.id, 'staff:' || who);
  perform private.privacy_audit(req.filing_client_id, 'staff:' || who, 'privacy.fulfilment.started',
    req.id, '{}');
  return private.privacy_request_for_staff(req.id);
end
$$;

do $do$
declare
  f text;
begin
  foreach f in array array[
    'privacy.act_as(text)', 'privacy.approve_request(uuid, text)',
    'privacy.reject_request(uuid, text)', 'privacy.apply_correction(uuid, text)',
    'privacy.extend_deadline(uuid, text, interval)',
    'privacy.place_legal_hold(uuid, text, uuid, timestamptz)',
    'privacy.lift_legal_hold(uuid, text)', 'privacy.run_fulfilment(uuid)'
  ] loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to privacy_staff', f);
  end loop;
end
$do$;

-- views (security_invoker: they show the reader what the reader's own grants and RLS allow)
create view privacy.open_requests with (security_invoker = true) as
  select q.id, q.reference_prefix, q.filing_client_id, q.type, q.channel, q.status,
      q.subject_kind,
      q.verification_method, q.verified_at, q.attested_by, q.received_at,
      coalesce(q.extended_due_at, q.due_at) as deadline,
      q.extended_due_at is not null as extended,
      now() > coalesce(q.extended_due_at, q.due_at) as overdue,
      q.approved_by, q.approved_at,
      (select count(*) from public.privacy_request_parts p where p.request_id = q.id) as clients,
      (select count(*) from public.privacy_request_parts p
        where p.request_id = q.id and p.status = 'held') as held_parts,
      (select count(*) from public.privacy_request_parts p
        where p.request_id = q.id and p.status = 'failed') as failed_parts
    from public.privacy_requests q
   where q.status not in ('completed', 'rejected', 'expired');

create view privacy.overdue_requests with (security_invoker = true) as
  select o.* from privacy.open_requests o where o.overdue;

create view privacy.recent_erasures with (security_invoker = true) as
  select p.request_id, q.reference_prefix, q.channel, p.client_id, p.done_at, p.result
    from public.privacy_request_parts p
    join public.privacy_requests q on q.id = p.request_id
   where q.type = 'deletion' and p.status = 'done' and p.done_at > now() - interval '90 days';

create view privacy.active_legal_holds with (security_invoker = true) as
  select h.id, h.client_id, h.kind, h.contact_id, h.subject_ref, h.reason, h.placed_by,
      h.placed_at, h.expires_at
    from privacy.legal_holds h
   where h.lifted_at is null and (h.expires_at is null or h.expires_at > now());

create view privacy.staff_actions with (security_invoker = true) as
  select a.created_at, a.actor, a.action, a.client_id, a.target_type, a.target_id, a.details
    from public.audit_log a
   where a.action like 'privacy.%' or a.action like 'client.%'
     -- retention's record of each change to holds, policies and classes
     or a.target_type like 'privacy.%';

revoke all on privacy.open_requests, privacy.overdue_requests, privacy.recent_erasures,
  privacy.active_legal_holds, privacy.staff_actions from public, anon, authenticated;
grant select on privacy.open_requests, privacy.overdue_requests, privacy.recent_erasures,
  privacy.active_legal_holds, privacy.staff_actions to privacy_staff;
