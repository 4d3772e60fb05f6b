-- Recovery of client webhook deliveries: after fixing an endpoint (and re-enabling it), a client
-- asks for the deliveries that failed or were cancelled since a time to be sent again. Each goes
-- back to pending, due now, and continues its retry schedule where it stopped: one that had used
-- every attempt gets one more. Their payloads are still there (only a succeeded delivery drops
-- its payload) for as long as retention keeps them (30 days).

/*
 * Puts back to pending the caller's failed and cancelled deliveries to `endpoint` created at or
 * after `since`, oldest first, at most `max_rows`; returns their ids. Runs as the client (RLS).
 */
create function public.recover_webhook_deliveries(
  endpoint uuid,
  since timestamptz,
  max_rows integer default 1000
) returns jsonb
language sql
security invoker
set search_path = ''
as $$
  with picked as (
    select d.id from public.webhook_deliveries d
    where d.endpoint_id = endpoint and d.created_at >= since
      and d.status in ('failed', 'cancelled')
      and d.client_id = (select private.current_client_id())
    order by d.created_at
    limit max_rows
    for update skip locked
  ), again as (
    update public.webhook_deliveries d set
      status = 'pending', next_attempt_at = now(), locked_until = null, last_error = null
    from picked where d.id = picked.id
    returning d.id, d.created_at
  )
  select coalesce(jsonb_agg(again.id order by again.created_at, again.id), '[]'::jsonb) from again
$$;
revoke all on function public.recover_webhook_deliveries(uuid, timestamptz, integer)
  from public, anon;
grant execute on function public.recover_webhook_deliveries(uuid, timestamptz, integer)
  to authenticated;
