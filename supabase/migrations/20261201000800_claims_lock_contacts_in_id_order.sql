-- claim_outbound_messages claimed its messages in the order given, so it locked their contacts
-- (the per-recipient gap) in that order, while enqueue_messages and ingest lock a call's contacts
-- in id order. A claim holding contact X and waiting for Y, next to an enqueue holding Y and
-- waiting for X, was a deadlock: PostgreSQL aborts one of them, and an aborted record call can
-- leave a message Meta accepted to be sent again once its lease runs out. Claims now go in the
-- order of their contacts' ids, and answer in the order given, as before. Message rows cannot
-- join such a cycle: a claim takes them with SKIP LOCKED, so it never waits for one.

/*
 * claim_outbound_message for each id; answers in the order given. The messages are claimed in
 * the order of their contacts' ids, the order every other call that locks several contacts
 * takes them in.
 */
create or replace function public.claim_outbound_messages(
  message_ids uuid[],
  lease_seconds integer default 30,
  recipient_gap_ms integer default 6000
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
      public.claim_outbound_message(r.id, lease_seconds, recipient_gap_ms));
  end loop;
  return coalesce((select jsonb_agg(answer_at -> u.n::text order by u.n)
    from generate_series(1, cardinality(message_ids)) as u(n)), '[]'::jsonb);
end
$$;
