-- Two changes to how an outbound message is queued.
--
-- 1. The enqueue can claim the message. The send pipeline wrote every outbound message twice
--    before calling Meta: inserted as queued, then updated to sending by the claim, a second
--    round trip and a second full row version (the claim changes `status`, which the pending
--    index's predicate read, so the update could not be HOT and touched all seven indexes). When
--    the app runs its jobs in-process (Deno), nothing stands between the enqueue and the send, so
--    enqueue_messages takes an optional `claim` and then claims each new message as it inserts
--    it: same lease, same per-recipient gap, same answer as claim_outbound_message. A crash after
--    the insert leaves a leased `sending` row, which the sweeper picks up when the lease runs out,
--    exactly as after a crash following a claim.
--
-- 2. enqueue_messages is set-based. It applied enqueue_message to each request, each in its own
--    subtransaction (past 64 in one transaction, every concurrent snapshot has to consult
--    pg_subtrans): per request an idempotency lookup, a phone lookup, a contact lookup and
--    insert, a contact read and a message insert, each its own statement with its own RLS check.
--    It now decides and stores a whole call with a fixed number of statements, as
--    ingest_whatsapp_batch does for inbound messages, and enqueue_message is the same code with
--    one request, so the rules keep one definition:
--      private.contacts_of     the contacts of a set of identities, created or merged as needed
--                              (taken out of ingest_whatsapp_batch, which now calls it too)
--      private.enqueue_batch   one call's decisions and writes
--    Only when a call raises is it redone request by request, so that the breaking request
--    fails alone. Every lookup is a scalar subquery or `= any(array)` on a unique index, never a
--    join (see 20261201000000_set_based_ingest.sql for why), and reads a plain column, never an
--    expression of the row's JSON (see the comment in enqueue_batch).

/*
 * The contact of each identity in `people` ([{wa_id, user_id}], other keys ignored), as a map
 * "wa_id|user_id" (either may be empty) → contact id. Creates the contacts nobody has yet and
 * teaches a contact the identifier it lacked, by private.find_contact's rule (the number first,
 * then the business-scoped id). Runs as the caller, so RLS applies.
 */
create function private.contacts_of(cid uuid, people jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  contact_of jsonb;
  merges text[];
  ident text;
begin
  if exists (select 1 from jsonb_to_recordset(people) as p(wa_id text, user_id text)
      where p.wa_id is null and p.user_id is null) then
    raise exception 'a contact needs a wa_id or a user_id' using errcode = '22023';
  end if;
  -- 1. contacts nobody has yet. An identity that conflicts with another in the same set is
  --    skipped here and merged in step 2. Sorted, so that concurrent calls wait for each other's
  --    new contacts in one order and cannot deadlock.
  insert into public.contacts (client_id, wa_id, user_id)
  select distinct cid, p.wa_id, p.user_id
    from jsonb_to_recordset(people) as p(wa_id text, user_id text)
   where (select c.id from public.contacts c where c.client_id = cid and c.wa_id = p.wa_id) is null
     and (select c.id from public.contacts c where c.client_id = cid and c.user_id = p.user_id) is null
   order by p.wa_id, p.user_id
  on conflict do nothing;

  -- 2. each identity's contact, and the identities that teach their contact an identifier it lacks
  select jsonb_object_agg(x.k, coalesce((x.by_wa).id, (x.by_uid).id)),
      array_agg(x.k) filter (where ((x.by_wa).id is not null and (x.by_wa).user_id is null
        and x.user_id is not null) or ((x.by_wa).id is null and (x.by_uid).wa_id is null
        and x.wa_id is not null))
    into contact_of, merges
    from (select i.*,
            (select c from public.contacts c where c.client_id = cid and c.wa_id = i.wa_id) as by_wa,
            (select c from public.contacts c where c.client_id = cid and c.user_id = i.user_id)
              as by_uid
            from (select distinct coalesce(p.wa_id, '') || '|' || coalesce(p.user_id, '') as k,
                    p.wa_id, p.user_id
                    from jsonb_to_recordset(people) as p(wa_id text, user_id text)) i
          offset 0) x;
  -- rare (a contact known by one identifier meets the other), so one at a time through
  -- resolve_contact, which keeps the merge rules in one place; the contact's id does not change
  foreach ident in array coalesce(merges, '{}') loop
    perform private.resolve_contact(cid, nullif(split_part(ident, '|', 1), ''),
      nullif(substr(ident, strpos(ident, '|') + 1), ''));
  end loop;
  return coalesce(contact_of, '{}'::jsonb);
end
$$;
revoke all on function private.contacts_of(uuid, jsonb) from public;
grant execute on function private.contacts_of(uuid, jsonb) to authenticated, service_role;

-- one send request as the app sends it (see public.enqueue_message), with its position `n`
create type private.outbound_request as (
  n bigint,
  id uuid,
  phone_number_id text,
  wa_id text,
  user_id text,
  type text,
  content_ciphertext text,
  free_form boolean,
  idempotency_key text,
  request_hash text,
  window_hours integer
);
grant usage on type private.outbound_request to authenticated, service_role;

/*
 * One call's worth of public.enqueue_message, decided and stored with a fixed number of
 * statements; answers in the requests' order. `lease` null: only queue. Raises when any request
 * breaks a constraint, and when two requests share an Idempotency-Key (public.enqueue_messages
 * then runs the requests one by one, which is what both cases need).
 */
create function private.enqueue_batch(cid uuid, requests jsonb, lease integer, gap interval)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  reqs private.outbound_request[];
  existing jsonb; -- idempotency key → the message that already has it
  phone_of jsonb; -- Meta's phone number id → our id (null: not this client's)
  phone_count integer := 0;
  only_phone uuid;
  contact_of jsonb := '{}'::jsonb;
  answers jsonb;
begin
  select array_agg(jsonb_populate_record(null::private.outbound_request,
      x.v || jsonb_build_object('n', x.n)) order by x.n)
    into reqs from jsonb_array_elements(requests) with ordinality as x(v, n);
  if reqs is null then
    return '[]'::jsonb;
  end if;
  if (select count(r.idempotency_key) <> count(distinct r.idempotency_key) from unnest(reqs) r) then
    raise exception 'several requests in one call share an Idempotency-Key' using errcode = 'P0001';
  end if;

  -- the rules in enqueue order: the Idempotency-Key, the sending number, then the contact
  select jsonb_object_agg(m.idempotency_key, to_jsonb(m)) into existing
    from public.messages m
   where m.client_id = cid
     and m.idempotency_key = any(array(select r.idempotency_key from unnest(reqs) r
       where r.idempotency_key is not null));
  existing := coalesce(existing, '{}'::jsonb);
  select jsonb_object_agg(x.pid, (select ph.id from public.phone_numbers ph
      where ph.client_id = cid and ph.phone_number_id = x.pid))
    into phone_of
    from (select distinct r.phone_number_id as pid from unnest(reqs) r
           where r.phone_number_id is not null) x;
  phone_of := coalesce(phone_of, '{}'::jsonb);
  if exists (select 1 from unnest(reqs) r where r.phone_number_id is null) then
    select count(*), min(ph.id::text)::uuid into phone_count, only_phone
      from public.phone_numbers ph where ph.client_id = cid;
  end if;
  -- contacts only for the requests that got this far
  contact_of := private.contacts_of(cid, coalesce((
    select jsonb_agg(jsonb_build_object('wa_id', r.wa_id, 'user_id', r.user_id))
      from unnest(reqs) r
     where not (r.idempotency_key is not null and existing ? r.idempotency_key)
       and case when r.phone_number_id is not null then phone_of ->> r.phone_number_id is not null
           else phone_count = 1 end), '[]'::jsonb));
  if lease is not null and gap > interval '0' then
    -- the contact row locks serialise sends to one recipient (as in claim_outbound_message);
    -- taken in id order, so concurrent calls sharing recipients cannot deadlock
    perform 1 from public.contacts c
      where c.id = any(array(select (v)::uuid from jsonb_each_text(contact_of) as e(k, v)))
      order by c.id for update;
  end if;

  -- materialized, so that each contact is read by `c.id = q.contact_id`: a plain column the
  -- primary key can be searched with. Written with the JSON lookup inline, the condition is not
  -- leakproof, so under RLS it may only filter after the policy, and the plan read every one of
  -- the client's contacts for each request (1.5 ms a request at 2,000 contacts).
  with q as materialized (
    select r.*,
        case when r.phone_number_id is not null then (phone_of ->> r.phone_number_id)::uuid
          else only_phone end as phone_id,
        (contact_of ->> (coalesce(r.wa_id, '') || '|' || coalesce(r.user_id, '')))::uuid
          as contact_id
      from unnest(reqs) r
  ),
  -- (materialized too: each use of a field of `c` would otherwise read the contact again)
  r as materialized (
    select q.*, (select c from public.contacts c where c.id = q.contact_id) as c from q
  ),
  decided as (
    select r.*, case
        when r.idempotency_key is not null and existing ? r.idempotency_key then
          case when existing -> r.idempotency_key ->> 'request_hash' is distinct from r.request_hash
            then 'idempotency_conflict' else 'existing' end
        when r.phone_number_id is not null and r.phone_id is null then 'unknown_phone_number'
        when r.phone_number_id is null and phone_count = 0 then 'unknown_phone_number'
        when r.phone_number_id is null and phone_count > 1 then 'ambiguous_phone_number'
        when (r.c).consent_status = 'opted_out' then 'opted_out'
        when r.free_form and ((r.c).last_inbound_at is null or (r.c).last_inbound_at
          < now() - make_interval(hours => coalesce(r.window_hours, 24))) then 'outside_window'
        else 'create' end as outcome
      from r
  ),
  -- with a claim, the first new message to a recipient is sent now unless the recipient got one
  -- less than `gap` ago; any later one waits for the gap
  ranked as (
    select d.*, row_number() over (partition by (d.c).id order by d.n) as nth
      from decided d where d.outcome = 'create'
  ),
  planned as (
    select k.*, case
        when lease is null then null
        when gap = interval '0' then null
        when k.nth > 1 then now() + gap
        when (k.c).last_outbound_at > now() - gap then (k.c).last_outbound_at + gap
      end as retry_at
      from ranked k
  ),
  stored as (
    insert into public.messages (id, client_id, phone_number_id, contact_id, direction, type,
      content_ciphertext, status, recipient, idempotency_key, request_hash, next_attempt_at,
      attempts, locked_until)
    select p.id, cid, p.phone_id, (p.c).id, 'outbound', p.type, p.content_ciphertext,
        case when lease is not null and p.retry_at is null then 'sending' else 'queued' end,
        coalesce((p.c).wa_id, (p.c).user_id), p.idempotency_key, p.request_hash,
        coalesce(p.retry_at, now()),
        case when lease is not null and p.retry_at is null then 1 else 0 end,
        case when lease is not null and p.retry_at is null
          then now() + make_interval(secs => lease) end
      from planned p order by p.n
    on conflict (client_id, idempotency_key) do nothing
    returning *
  ),
  touched as (
    update public.contacts c set last_outbound_at = now()
     where gap > interval '0'
       and c.id = any(array(select s.contact_id from stored s where s.status = 'sending'))
  )
  select jsonb_agg(case
      when d.outcome in ('existing', 'idempotency_conflict') then
        jsonb_build_object('outcome', d.outcome, 'message', existing -> d.idempotency_key)
      when d.outcome in ('unknown_phone_number', 'ambiguous_phone_number') then
        jsonb_build_object('outcome', d.outcome)
      when d.outcome = 'opted_out' then
        jsonb_build_object('outcome', d.outcome, 'contact_id', (d.c).id)
      when d.outcome = 'outside_window' then
        jsonb_build_object('outcome', d.outcome, 'contact_id', (d.c).id,
          'last_inbound_at', (d.c).last_inbound_at)
      else coalesce((
        select jsonb_build_object('outcome', 'created', 'message', to_jsonb(s))
          || case
            when s.status = 'sending' then jsonb_build_object('claim', jsonb_build_object(
              'outcome', 'claimed', 'phone', (
                select jsonb_build_object('phone_number_id', ph.phone_number_id,
                  'waba_account_id', ph.waba_account_id,
                  'messages_per_second', ph.messages_per_second)
                  from public.phone_numbers ph where ph.id = s.phone_number_id)))
            when lease is not null then jsonb_build_object('claim', jsonb_build_object(
              'outcome', 'deferred', 'retry_at', s.next_attempt_at))
            else '{}'::jsonb end
          from stored s where s.id = d.id),
        -- not stored: a concurrent request with the same key won the insert (answered below)
        jsonb_build_object('outcome', 'raced', 'idempotency_key', d.idempotency_key,
          'request_hash', d.request_hash))
      end order by d.n)
    into answers
    from decided d;

  if answers @> '[{"outcome": "raced"}]' then
    -- a new statement sees the winner's row, which the one above could not
    select jsonb_agg(case when a ->> 'outcome' = 'raced' then (
        select jsonb_build_object('outcome', case when m.request_hash is distinct from
            a ->> 'request_hash' then 'idempotency_conflict' else 'existing' end,
          'message', to_jsonb(m))
          from public.messages m
         where m.client_id = cid and m.idempotency_key = a ->> 'idempotency_key')
      else a end order by x.n)
      into answers from jsonb_array_elements(answers) with ordinality as x(a, n);
  end if;
  return answers;
end
$$;
revoke all on function private.enqueue_batch(uuid, jsonb, integer, interval) from public;
grant execute on function private.enqueue_batch(uuid, jsonb, integer, interval)
  to authenticated, service_role;

/*
 * Puts outbound messages in the queue for the calling client, in one round trip: resolves the
 * sending number, finds or creates the contact, applies the rules that must hold before Meta is
 * called (consent, 24-hour window) and honours the idempotency key.
 * requests: [{id, phone_number_id (Meta's, optional when the client has one), wa_id | user_id,
 *             type, content_ciphertext, free_form boolean, idempotency_key, request_hash,
 *             window_hours}]
 * claim: {lease_seconds, recipient_gap_ms}, optional: claim each new message for sending.
 * Returns one answer per request, in order: {"outcome": "created" | "existing" |
 * "idempotency_conflict" | "opted_out" | "outside_window" | "unknown_phone_number" |
 * "ambiguous_phone_number", "message": ...}. With a claim, a created message also carries
 * "claim": {"outcome": "claimed", "phone": {...}} (the caller holds the lease and must send), or
 * {"outcome": "deferred", "retry_at": ts} when the recipient got a message less than
 * recipient_gap_ms ago (the message waits, queued, until then). A request that breaks a
 * constraint answers {"outcome": "error", "error"} and does not fail the others.
 */
drop function public.enqueue_messages(jsonb);
create function public.enqueue_messages(requests jsonb, claim jsonb default null)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  lease integer := (claim ->> 'lease_seconds')::integer;
  gap interval := make_interval(
    secs => coalesce((claim ->> 'recipient_gap_ms')::integer, 0) / 1000.0);
  answers jsonb := '[]'::jsonb;
  r jsonb;
begin
  if cid is null then
    raise exception 'enqueue_messages needs a client JWT' using errcode = '42501';
  end if;
  begin
    return private.enqueue_batch(cid, requests, lease, gap);
  exception when others then
    -- everything above is undone; again one by one, so only a breaking request fails
    for r in select * from jsonb_array_elements(requests) loop
      begin
        answers := answers || private.enqueue_batch(cid, jsonb_build_array(r), lease, gap);
      exception when others then
        answers := answers || jsonb_build_array(jsonb_build_object('outcome', 'error',
          'error', sqlerrm));
      end;
    end loop;
  end;
  return answers;
end
$$;
revoke all on function public.enqueue_messages(jsonb, jsonb) from public, anon;
grant execute on function public.enqueue_messages(jsonb, jsonb) to authenticated;

-- one request: the same code with a call of one (raises where enqueue_messages answers "error")
create or replace function public.enqueue_message(p jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
begin
  if cid is null then
    raise exception 'enqueue_message needs a client JWT' using errcode = '42501';
  end if;
  return private.enqueue_batch(cid, jsonb_build_array(p - 'claim'),
    (p -> 'claim' ->> 'lease_seconds')::integer,
    make_interval(secs => coalesce((p -> 'claim' ->> 'recipient_gap_ms')::integer, 0) / 1000.0))
    -> 0;
end
$$;

-- ingest_whatsapp_batch as in 20261201000000_set_based_ingest.sql, its contact steps now in
-- private.contacts_of
/*
 * Stores one client's share of a webhook delivery in one round trip: contacts (created or
 * touched, last inbound time moved forward only, the newest profile name kept), inbound messages
 * (deduplicated by wamid, also within the batch), status events (through apply_status_events)
 * and other fields.
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
  msgs jsonb := coalesce(batch -> 'messages', '[]');
  -- "wa_id|user_id" (either may be empty; wa_id is digits only) → the contact's id
  contact_of jsonb;
  contact_ids uuid[];
  unresolved integer;
  inserted jsonb := '[]'::jsonb;
  applied jsonb := '[]'::jsonb;
begin
  if cid is null then
    raise exception 'ingest_whatsapp_batch needs a client JWT' using errcode = '42501';
  end if;
  if jsonb_array_length(msgs) > 0 then
    -- 1–2. each identity's contact, created or merged as needed
    contact_of := private.contacts_of(cid, msgs);

    -- 3. lock the batch's contacts in id order before updating them (the update alone would lock
    --    them in join order, and two batches sharing customers could deadlock)
    select array_agg(distinct v::uuid) into contact_ids from jsonb_each_text(contact_of) as e(k, v);
    perform 1 from public.contacts c where c.id = any(contact_ids) order by c.id for no key update;

    -- 4. touch every contact once and insert every message, duplicates (by wamid) left out
    with m as (
      select r.*, (contact_of ->> (coalesce(r.wa_id, '') || '|' || coalesce(r.user_id, '')))::uuid
          as contact_id
        from jsonb_populate_recordset(null::private.inbound_message, msgs)
          with ordinality as r(id, phone_number_id, wa_id, user_id, profile_name_ciphertext,
            wamid, type, content_ciphertext, media, context_wamid, "timestamp", n)
    ),
    touched as (
      update public.contacts c set
        profile_name_ciphertext = coalesce((select m.profile_name_ciphertext from m
            where m.contact_id = c.id and m.profile_name_ciphertext is not null
            order by m.n desc limit 1), c.profile_name_ciphertext),
        last_inbound_at = greatest(c.last_inbound_at,
          (select max(m."timestamp") from m where m.contact_id = c.id))
      where c.id = any(contact_ids)
      returning c.id
    ),
    stored as (
      insert into public.messages (id, client_id, phone_number_id, contact_id, direction, wamid,
        type, content_ciphertext, media, status, recipient, context_wamid, created_at)
      select m.id, cid, m.phone_number_id, m.contact_id, 'inbound', m.wamid, m.type,
        m.content_ciphertext, m.media, 'received', coalesce(m.wa_id, m.user_id), m.context_wamid,
        m."timestamp"
        from m order by m.n
      on conflict (client_id, wamid) do nothing
      returning id
    )
    -- (touched runs whether or not it is read: data-modifying CTEs always run to completion)
    select coalesce((select jsonb_agg(stored.id) from stored), '[]'::jsonb),
        (select count(*) from m where m.contact_id is null)
      into inserted, unresolved;
    if unresolved > 0 then
      -- cannot happen: contacts_of waited for any concurrent insert of the same contact to commit
      raise exception '% inbound message(s) found no contact', unresolved using errcode = 'P0001';
    end if;
  end if;
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
