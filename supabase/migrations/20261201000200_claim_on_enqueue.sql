-- The send pipeline wrote every outbound message twice before calling Meta: inserted as queued,
-- then updated to sending by the claim, a second round trip and a second full row version (the
-- claim changes `status`, which the pending index's predicate reads, so the update could not be
-- HOT and touched all seven indexes). When the app runs its jobs in-process (Deno), nothing
-- stands between the enqueue and the send, so the enqueue now claims the message as it inserts
-- it: same lease, same per-recipient gap, same answer as claim_outbound_message. A crash after
-- the insert leaves a leased `sending` row, which the sweeper picks up when the lease runs out,
-- exactly as after a crash following a claim.
--
-- Also:
-- * enqueue_messages ran each request in its own subtransaction. Each one that writes takes a
--   subtransaction id, and past 64 in one transaction every concurrent snapshot has to consult
--   pg_subtrans. The requests now run in one subtransaction; only if one of them raises is the
--   call redone request by request, so that request fails alone. Requests run in recipient
--   order (answers keep the callers' order), so two calls that share recipients take the
--   contact locks in the same order.
-- * record_send_results stores all the accepted results of a call with one statement; the other
--   outcomes (rare) still go through record_send_result one at a time.

/*
 * Puts an outbound message in the queue for the calling client, in one round trip:
 * resolves the sending number, finds or creates the contact, applies the rules that must hold
 * before Meta is called (consent, 24-hour window) and honours the idempotency key.
 * p: {id, phone_number_id (Meta's, optional when the client has one), wa_id | user_id, type,
 *     content_ciphertext, free_form boolean, idempotency_key, request_hash, window_hours,
 *     claim: {lease_seconds, recipient_gap_ms} (optional: claim the new message for sending)}
 * Returns {"outcome": "created" | "existing" | "idempotency_conflict" | "opted_out" |
 *          "outside_window" | "unknown_phone_number" | "ambiguous_phone_number", "message": ...}.
 * With p.claim, a created message also carries "claim": {"outcome": "claimed", "phone": {...}}
 * (the caller holds the lease and must send), or {"outcome": "deferred", "retry_at": ts} when the
 * recipient got a message less than recipient_gap_ms ago (the message waits, queued, until then).
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
  lease integer := (p -> 'claim' ->> 'lease_seconds')::integer;
  gap interval := make_interval(
    secs => coalesce((p -> 'claim' ->> 'recipient_gap_ms')::integer, 0) / 1000.0);
  claimed boolean := false;
  retry_at timestamptz;
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
  if lease is not null and gap > interval '0' then
    -- the contact row lock serialises sends to one recipient (as in claim_outbound_message)
    select * into c from public.contacts where id = contact_id for update;
  else
    select * into c from public.contacts where id = contact_id;
  end if;
  if c.consent_status = 'opted_out' then
    return jsonb_build_object('outcome', 'opted_out', 'contact_id', c.id);
  end if;
  if (p ->> 'free_form')::boolean and (c.last_inbound_at is null
      or c.last_inbound_at < now() - make_interval(hours => coalesce((p ->> 'window_hours')::int, 24))) then
    return jsonb_build_object('outcome', 'outside_window', 'contact_id', c.id,
      'last_inbound_at', c.last_inbound_at);
  end if;
  if lease is not null then
    if c.last_outbound_at is not null and c.last_outbound_at > now() - gap then
      retry_at := c.last_outbound_at + gap;
    else
      claimed := true;
    end if;
  end if;
  insert into public.messages (id, client_id, phone_number_id, contact_id, direction, type,
    content_ciphertext, status, recipient, idempotency_key, request_hash, next_attempt_at,
    attempts, locked_until)
  values ((p ->> 'id')::uuid, cid, phone_id, c.id, 'outbound', p ->> 'type',
    p ->> 'content_ciphertext', case when claimed then 'sending' else 'queued' end,
    coalesce(c.wa_id, c.user_id), p ->> 'idempotency_key', p ->> 'request_hash',
    coalesce(retry_at, now()), case when claimed then 1 else 0 end,
    case when claimed then now() + make_interval(secs => lease) end)
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
  if claimed then
    if gap > interval '0' then
      update public.contacts set last_outbound_at = now() where id = c.id;
    end if;
    return jsonb_build_object('outcome', 'created', 'message', to_jsonb(m), 'claim',
      jsonb_build_object('outcome', 'claimed', 'phone', (
        select jsonb_build_object('phone_number_id', ph.phone_number_id,
          'waba_account_id', ph.waba_account_id, 'messages_per_second', ph.messages_per_second)
          from public.phone_numbers ph where ph.id = phone_id)));
  end if;
  return jsonb_build_object('outcome', 'created', 'message', to_jsonb(m))
    || case when retry_at is not null then jsonb_build_object('claim',
         jsonb_build_object('outcome', 'deferred', 'retry_at', retry_at)) else '{}' end;
end
$$;

/*
 * enqueue_message for each request, with the call's `claim` (see enqueue_message) added to each;
 * returns the answers in the requests' order. One request's error (a constraint it breaks) is
 * its own answer, {"outcome": "error", "error"}, and does not fail the requests sent with it.
 */
drop function public.enqueue_messages(jsonb);
create function public.enqueue_messages(requests jsonb, claim jsonb default null)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb[] := array_fill(null::jsonb, array[jsonb_array_length(requests)]);
  r record;
begin
  begin
    -- in recipient order: concurrent calls lock shared contacts in one order
    for r in select x.value, x.n from jsonb_array_elements(requests) with ordinality as x(value, n)
        order by x.value ->> 'wa_id', x.value ->> 'user_id', x.n loop
      answers[r.n] := public.enqueue_message(
        case when claim is null then r.value else r.value || jsonb_build_object('claim', claim) end);
    end loop;
  exception when others then
    -- everything above is undone; again one by one, so only the breaking request fails
    for r in select x.value, x.n from jsonb_array_elements(requests) with ordinality as x(value, n)
        order by x.value ->> 'wa_id', x.value ->> 'user_id', x.n loop
      begin
        answers[r.n] := public.enqueue_message(
          case when claim is null then r.value else r.value || jsonb_build_object('claim', claim) end);
      exception when others then
        answers[r.n] := jsonb_build_object('outcome', 'error', 'error', sqlerrm);
      end;
    end loop;
  end;
  return coalesce(to_jsonb(answers), '[]'::jsonb);
end
$$;
revoke all on function public.enqueue_messages(jsonb, jsonb) from public, anon;
grant execute on function public.enqueue_messages(jsonb, jsonb) to authenticated;

/*
 * record_send_result for each {message_id, result}, in order; returns each message's status
 * afterwards (null when the result changed nothing), in the same order. The accepted results,
 * nearly all of them, are stored by one statement, which is also what record_send_result runs
 * for an accepted result; the other outcomes go through record_send_result one at a time.
 */
create or replace function public.record_send_results(results jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  -- message id → the wamid Meta gave it, for the accepted results
  wamid_of jsonb;
  accepted_ids uuid[];
  status_of jsonb;
  answers jsonb := '[]'::jsonb;
  r jsonb;
begin
  select jsonb_object_agg(x ->> 'message_id', x -> 'result' ->> 'wamid'),
      array_agg(distinct (x ->> 'message_id')::uuid)
    into wamid_of, accepted_ids
    from jsonb_array_elements(results) x
   where x -> 'result' ->> 'outcome' = 'accepted';
  if accepted_ids is not null then
    -- `= any(array)`, not a join: a cached generic plan for a join reads all the client's rows
    with done as (
      update public.messages m set
        wamid = coalesce(m.wamid, wamid_of ->> m.id::text),
        status = case when private.status_rank(m.status) < private.status_rank('accepted')
          then 'accepted' else m.status end,
        status_updated_at = now(), locked_until = null, next_attempt_at = null, error = null
      where m.id = any(accepted_ids) and m.client_id = cid
      returning m.id, m.status
    )
    select jsonb_object_agg(done.id::text, done.status) into status_of from done;
  end if;
  for r in select * from jsonb_array_elements(results) loop
    answers := answers || jsonb_build_array(case
      when r -> 'result' ->> 'outcome' = 'accepted' then status_of ->> (r ->> 'message_id')
      else public.record_send_result((r ->> 'message_id')::uuid, r -> 'result') end);
  end loop;
  return answers;
end
$$;

/*
 * record_send_result as in 20261124000300_messaging.sql; an accepted result is now stored by
 * record_send_results, so that statement is written once.
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
    return public.record_send_results(jsonb_build_array(
      jsonb_build_object('message_id', message_id, 'result', result))) ->> 0;
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
