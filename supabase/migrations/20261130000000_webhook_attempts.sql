-- Client webhooks: record one delivery attempt and the endpoint's failure streak atomically, and
-- disable an endpoint that answered 410 Gone or kept failing (see services/client_webhooks.ts).
-- Runs as security invoker under the client's JWT, so it sees only that client's rows.

/*
 * Records one attempt's outcome and the endpoint's failure streak in one call, so concurrent
 * attempts to the same endpoint neither lose a failure nor both disable it. A failed attempt is
 * retried in `retry_in_ms` (null: none left, the delivery fails). The endpoint is disabled when it
 * answered 410 Gone (`gone`), has failed for `disable_after_ms`, or has failed
 * `disable_after_failures` times in a row over at least `failures_over_ms` (so a short outage
 * during a burst does not disable a busy endpoint). `disabled` is true only for the call that
 * disabled it, which writes the audit record. Null when the delivery is not this client's.
 */
create or replace function public.finish_webhook_attempt(
  delivery_id uuid,
  succeeded boolean,
  attempt_status_code integer,
  attempt_error text,
  retry_in_ms bigint,
  gone boolean,
  disable_after_ms bigint,
  disable_after_failures integer,
  failures_over_ms bigint
)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  delivery public.webhook_deliveries;
  endpoint public.webhook_endpoints;
  reason text;
begin
  update public.webhook_deliveries d set
    status = case when succeeded then 'succeeded' when retry_in_ms is null then 'failed'
      else 'pending' end,
    attempts = d.attempts + 1,
    last_status_code = attempt_status_code,
    last_error = case when succeeded then null else attempt_error end,
    locked_until = null,
    delivered_at = case when succeeded then now() end,
    next_attempt_at = case when succeeded or retry_in_ms is null then d.next_attempt_at
      else now() + make_interval(secs => retry_in_ms / 1000.0) end
  where d.id = delivery_id and d.client_id = (select private.current_client_id())
  returning d.* into delivery;
  if not found then
    return null;
  end if;

  if succeeded then
    update public.webhook_endpoints e set consecutive_failures = 0, failing_since = null
    where e.id = delivery.endpoint_id
      and (e.consecutive_failures <> 0 or e.failing_since is not null);
    return jsonb_build_object('disabled', false);
  end if;

  update public.webhook_endpoints e set
    consecutive_failures = e.consecutive_failures + 1,
    failing_since = coalesce(e.failing_since, now())
  where e.id = delivery.endpoint_id
  returning e.* into endpoint;
  if not found or not endpoint.enabled then
    return jsonb_build_object('disabled', false);
  end if;

  reason := case
    when gone then 'The endpoint answered 410 Gone'
    when now() - endpoint.failing_since >= make_interval(secs => disable_after_ms / 1000.0)
      or (endpoint.consecutive_failures >= disable_after_failures
        and now() - endpoint.failing_since >= make_interval(secs => failures_over_ms / 1000.0))
    then format('%s consecutive failures since %s (last: %s)', endpoint.consecutive_failures,
      to_char(endpoint.failing_since at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      coalesce(attempt_error, 'unknown'))
  end;
  if reason is null then
    return jsonb_build_object('disabled', false);
  end if;
  update public.webhook_endpoints e set enabled = false, disabled_at = now(),
    disabled_reason = reason
  where e.id = endpoint.id and e.enabled;
  return jsonb_build_object('disabled', found, 'reason', reason,
    'failing_since', endpoint.failing_since, 'consecutive_failures', endpoint.consecutive_failures);
end
$$;
revoke all on function public.finish_webhook_attempt(uuid, boolean, integer, text, bigint, boolean,
  bigint, integer, bigint) from public, anon;
grant execute on function public.finish_webhook_attempt(uuid, boolean, integer, text, bigint,
  boolean, bigint, integer, bigint) to authenticated;
