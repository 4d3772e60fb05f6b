-- Each outbound message cost three round trips through PostgREST (enqueue, claim, record), and
-- under load the round trips, not the statements, were the cost. Requests, claims and results that
-- arrive together for one client now travel in one call each. Both functions apply the single-message
-- function to each item in order, so the rules (lease, per-recipient gap, statuses that never
-- move backwards) keep one definition.

/*
 * claim_outbound_message for each id, in order; returns the answers in the same order.
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
  answers jsonb := '[]'::jsonb;
  mid uuid;
begin
  foreach mid in array message_ids loop
    answers := answers || jsonb_build_array(
      public.claim_outbound_message(mid, lease_seconds, recipient_gap_ms));
  end loop;
  return answers;
end
$$;
revoke all on function public.claim_outbound_messages(uuid[], integer, integer) from public, anon;
grant execute on function public.claim_outbound_messages(uuid[], integer, integer) to authenticated;

/*
 * record_send_result for each {message_id, result}, in order; returns each message's status
 * afterwards (null when the result changed nothing), in the same order.
 */
create or replace function public.record_send_results(results jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb := '[]'::jsonb;
  r jsonb;
begin
  for r in select * from jsonb_array_elements(results) loop
    answers := answers || jsonb_build_array(
      public.record_send_result((r ->> 'message_id')::uuid, r -> 'result'));
  end loop;
  return answers;
end
$$;
revoke all on function public.record_send_results(jsonb) from public, anon;
grant execute on function public.record_send_results(jsonb) to authenticated;

/*
 * enqueue_message for each request, in order; returns the answers in the same order. One
 * request's error (a constraint it breaks) is its own answer, {"outcome": "error", "error"},
 * and does not fail the requests sent with it.
 */
create or replace function public.enqueue_messages(requests jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb := '[]'::jsonb;
  r jsonb;
begin
  for r in select * from jsonb_array_elements(requests) loop
    begin
      answers := answers || jsonb_build_array(public.enqueue_message(r));
    exception when others then
      answers := answers || jsonb_build_array(jsonb_build_object('outcome', 'error',
        'error', sqlerrm));
    end;
  end loop;
  return answers;
end
$$;
revoke all on function public.enqueue_messages(jsonb) from public, anon;
grant execute on function public.enqueue_messages(jsonb) to authenticated;
