-- Each delivery to a client's endpoint cost two round trips through PostgREST (claim, then
-- finish the attempt), one after another, so a client that listens to its events turned every
-- inbound message and status into two more calls: with one such endpoint the ingest bench fell
-- from ~1,300 to 767 webhooks/s and the deliveries ran at 204/s. Claims and finishes that arrive
-- together for one client now travel in one call each. The claims are one statement (the
-- one-delivery claim, unused now, is dropped); finishing applies finish_webhook_attempt to each
-- attempt in order, so the endpoint's failure streak keeps one definition.

/*
 * Claims the due deliveries among `delivery_ids` for the calling client with a short lease (so a
 * second ring of the same job does not post twice at once) and returns, in the ids' order, each
 * with its endpoint, or null when it is not due, already done, or someone else holds it. One
 * statement for the whole call: the per-delivery version cost ~1 ms a delivery under load.
 */
create function public.claim_webhook_deliveries(
  delivery_ids uuid[],
  lease_seconds integer default 60
) returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with claimed as (
    -- (RLS keeps this to the caller's rows.) `coalesce(d.status, '')` rather than `d.status`:
    -- written plainly, the condition matched the pending index's predicate, and the plan read
    -- every due pending delivery and kept the ids asked for (all of a client's backlog while its
    -- endpoint is down); this way only the primary key can find the rows
    update public.webhook_deliveries d set
      locked_until = now() + make_interval(secs => lease_seconds)
    where d.id = any(delivery_ids)
      and coalesce(d.status, '') = 'pending' and d.next_attempt_at <= now()
      and (d.locked_until is null or d.locked_until < now())
    returning d.*
  )
  select coalesce(jsonb_agg((
      select jsonb_build_object(
        'id', c.id, 'endpoint_id', c.endpoint_id, 'event_id', c.event_id,
        'attempts', c.attempts, 'payload_ciphertext', c.payload_ciphertext,
        'endpoint', (select jsonb_build_object('url', e.url,
            'secret_ciphertext', e.secret_ciphertext, 'enabled', e.enabled,
            'failing_since', e.failing_since, 'consecutive_failures', e.consecutive_failures)
          from public.webhook_endpoints e where e.id = c.endpoint_id))
        from claimed c where c.id = x.id) order by x.n), '[]'::jsonb)
    from unnest(delivery_ids) with ordinality as x(id, n)
$$;
revoke all on function public.claim_webhook_deliveries(uuid[], integer) from public, anon;
grant execute on function public.claim_webhook_deliveries(uuid[], integer) to authenticated;

-- the one-delivery claim is called by nothing now (a single delivery is a call of one)
drop function public.claim_webhook_delivery(uuid, integer);

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
