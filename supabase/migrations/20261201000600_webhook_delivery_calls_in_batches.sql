-- Each delivery to a client's endpoint cost two round trips through PostgREST (claim, then
-- finish the attempt), one after another, so a client that listens to its events turned every
-- inbound message and status into two more calls: with one such endpoint the ingest bench fell
-- from ~1,300 to 767 webhooks/s and the deliveries ran at 204/s. Claims and finishes that arrive
-- together for one client now travel in one call each. Both functions apply the single-delivery
-- function to each item in order, so the lease and the endpoint's failure streak keep one
-- definition.

/*
 * claim_webhook_delivery for each id, in order; returns the answers in the same order (null for
 * a delivery that is not due, already done, or held by someone else).
 */
create function public.claim_webhook_deliveries(
  delivery_ids uuid[],
  lease_seconds integer default 60
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb := '[]'::jsonb;
  did uuid;
begin
  foreach did in array delivery_ids loop
    answers := answers || jsonb_build_array(public.claim_webhook_delivery(did, lease_seconds));
  end loop;
  return answers;
end
$$;
revoke all on function public.claim_webhook_deliveries(uuid[], integer) from public, anon;
grant execute on function public.claim_webhook_deliveries(uuid[], integer) to authenticated;

/*
 * finish_webhook_attempt for each attempt ({delivery_id, succeeded, attempt_status_code,
 * attempt_error, retry_in_ms, gone, disable_after_ms, disable_after_failures, failures_over_ms}),
 * in order; returns the answers in the same order.
 */
create function public.finish_webhook_attempts(attempts jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb := '[]'::jsonb;
  a jsonb;
begin
  for a in select * from jsonb_array_elements(attempts) loop
    answers := answers || jsonb_build_array(public.finish_webhook_attempt(
      (a ->> 'delivery_id')::uuid, (a ->> 'succeeded')::boolean,
      (a ->> 'attempt_status_code')::integer, a ->> 'attempt_error',
      (a ->> 'retry_in_ms')::bigint, (a ->> 'gone')::boolean, (a ->> 'disable_after_ms')::bigint,
      (a ->> 'disable_after_failures')::integer, (a ->> 'failures_over_ms')::bigint));
  end loop;
  return answers;
end
$$;
revoke all on function public.finish_webhook_attempts(jsonb) from public, anon;
grant execute on function public.finish_webhook_attempts(jsonb) to authenticated;
