-- A send attempt whose lease ran out without an outcome was claimed again at once. Its process may
-- have died after the Graph API accepted the message (the reliability suite's fault tests kill
-- the app mid-send), so sending at once could deliver it twice: it is the same case as a response
-- lost in flight, which waits SEND_AMBIGUOUS_WAIT_MS for a status webhook naming our id before
-- sending again. A claim now treats it so: a message still `sending` with a lease that ran out
-- waits `ambiguous_wait_ms` from the end of that lease (answer `not_due`); a status webhook that
-- arrives meanwhile moves it past `sending`, and the claim then answers `done`. The lease is
-- cleared with the wait, so the message is claimed afresh (and counted as a new attempt) once
-- the wait is over. Outside a dead attempt nothing changes: a recorded `ambiguous` outcome already
-- clears the lease and sets its own next attempt.

drop function public.claim_outbound_messages(uuid[], integer, integer);
drop function public.claim_outbound_message(uuid, integer, integer);

/*
 * Claims one outbound message of the current client for one send attempt: a lease, one more
 * attempt, and the per-recipient gap. Answers `claimed` (with the message and its sending number),
 * `locked`, `not_due` or `deferred` (with `retry_at`), or `done` (with the status).
 */
create function public.claim_outbound_message(
  message_id uuid,
  lease_seconds integer default 30,
  recipient_gap_ms integer default 6000,
  ambiguous_wait_ms integer default 30000
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  m public.messages;
  last_out timestamptz;
  gap interval := make_interval(secs => recipient_gap_ms / 1000.0);
  waited_until timestamptz;
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
  if m.status = 'sending' and m.locked_until is not null then
    -- the attempt holding this lease never recorded an outcome: it may have reached Meta
    waited_until := m.locked_until + make_interval(secs => ambiguous_wait_ms / 1000.0);
    if waited_until > now() then
      update public.messages set locked_until = null,
          next_attempt_at = greatest(coalesce(next_attempt_at, waited_until), waited_until)
        where id = m.id;
      return jsonb_build_object('outcome', 'not_due', 'retry_at', waited_until);
    end if;
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
revoke all on function public.claim_outbound_message(uuid, integer, integer, integer)
  from public, anon;
grant execute on function public.claim_outbound_message(uuid, integer, integer, integer)
  to authenticated;

/*
 * claim_outbound_message for each id; answers in the order given. The messages are claimed in
 * the order of their contacts' ids, the order every other call that locks several contacts
 * takes them in.
 */
create function public.claim_outbound_messages(
  message_ids uuid[],
  lease_seconds integer default 30,
  recipient_gap_ms integer default 6000,
  ambiguous_wait_ms integer default 30000
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answer_at jsonb := '{}'::jsonb; -- position in message_ids → its answer
  r record;
begin
  for r in
    select u.n, u.id from unnest(message_ids) with ordinality as u(id, n)
     -- a scalar subquery per id, not a join (see 20261201000000_set_based_ingest.sql)
     order by (select m.contact_id from public.messages m where m.id = u.id), u.n
  loop
    answer_at := answer_at || jsonb_build_object(r.n::text,
      public.claim_outbound_message(r.id, lease_seconds, recipient_gap_ms, ambiguous_wait_ms));
  end loop;
  return coalesce((select jsonb_agg(answer_at -> u.n::text order by u.n)
    from generate_series(1, cardinality(message_ids)) as u(n)), '[]'::jsonb);
end
$$;
revoke all on function public.claim_outbound_messages(uuid[], integer, integer, integer)
  from public, anon;
grant execute on function public.claim_outbound_messages(uuid[], integer, integer, integer)
  to authenticated;
