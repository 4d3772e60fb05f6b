-- A refused send no longer leaves a contact behind.
--
-- private.enqueue_batch created (through private.contacts_of) the contact of every request whose
-- sending number was known, and only then applied the consent and 24-hour-window rules. A
-- free-form message to a number that had never written was refused (422
-- outside_customer_service_window) and its number stayed in `contacts`: a record of someone we
-- never communicated with, which the privacy policy ("we do not collect data unrelated to the
-- communication") does not allow. The rules are now applied first to the contacts that already
-- exist; only the requests they do not refuse create a contact (or teach one an identifier). A
-- request refused that way has nothing to lock or write. The final decision is made as before,
-- after the locks and on fresh rows, so a consent change that commits meanwhile still counts.
--
-- The refusal rule is one function, private.send_refusal, which both decisions call.

/*
 * Why a send to contact `c` (null: nobody has this identity yet) is refused before Meta is
 * called, or null when it may go: an opted-out contact gets nothing; a free-form message needs a
 * message from the contact within `window_hours` (24 when null).
 */
create function private.send_refusal(c public.contacts, free_form boolean, window_hours integer)
returns text
language sql
stable
set search_path = ''
as $$
  select case
    when c.consent_status = 'opted_out' then 'opted_out'
    when free_form and (c.last_inbound_at is null
      or c.last_inbound_at < now() - make_interval(hours => coalesce(window_hours, 24)))
      then 'outside_window'
  end
$$;
revoke all on function private.send_refusal(public.contacts, boolean, integer) from public;
grant execute on function private.send_refusal(public.contacts, boolean, integer)
  to authenticated, service_role;

/*
 * One call's worth of public.enqueue_message, decided and stored with a fixed number of
 * statements; answers in the requests' order. `lease` null: only queue. Raises when any request
 * breaks a constraint, and when two requests share an Idempotency-Key (public.enqueue_messages
 * then runs the requests one by one, which is what both cases need).
 */
create or replace function private.enqueue_batch(cid uuid, requests jsonb, lease integer, gap interval)
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
  contact_of jsonb; -- identity "wa_id|user_id" → its contact's id
  people jsonb; -- the identities whose contact may be created or taught
  created_of jsonb; -- of those: identity → contact id
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
  -- the contacts that exist already (by private.find_contact's rule: the number first, then the
  -- business-scoped id), and the requests that get this far and that the rules do not refuse on
  -- them: only those may create a contact or teach one an identifier
  select jsonb_object_agg(p.k, (p.c).id) filter (where (p.c).id is not null),
      jsonb_agg(jsonb_build_object('wa_id', p.wa_id, 'user_id', p.user_id)) filter (where
        not (p.idempotency_key is not null and existing ? p.idempotency_key)
        and case when p.phone_number_id is not null then phone_of ->> p.phone_number_id is not null
            else phone_count = 1 end
        and private.send_refusal(p.c, p.free_form, p.window_hours) is null)
    into contact_of, people
    from (select r.*, coalesce(r.wa_id, '') || '|' || coalesce(r.user_id, '') as k,
            coalesce(
              (select c from public.contacts c where c.client_id = cid and c.wa_id = r.wa_id),
              (select c from public.contacts c where c.client_id = cid and c.user_id = r.user_id))
              as c
            from unnest(reqs) r
          offset 0) p;
  created_of := private.contacts_of(cid, coalesce(people, '[]'::jsonb));
  contact_of := coalesce(contact_of, '{}'::jsonb) || created_of;
  if lease is not null and gap > interval '0' then
    -- the contact row locks serialise sends to one recipient (as in claim_outbound_message);
    -- taken in id order, so concurrent calls sharing recipients cannot deadlock
    perform 1 from public.contacts c
      where c.id = any(array(select (v)::uuid from jsonb_each_text(created_of) as e(k, v)))
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
        else coalesce(private.send_refusal(r.c, r.free_form, r.window_hours), 'create')
        end as outcome
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
