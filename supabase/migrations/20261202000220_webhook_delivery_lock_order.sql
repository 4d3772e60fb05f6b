-- Client webhooks: one lock order, endpoint before delivery, everywhere both are taken.
-- Deleting an endpoint locks it, then its deliveries (on delete cascade). Finishing attempts did
-- the opposite: it updated each delivery, then its endpoint's failure streak. A client deleting
-- endpoints while a backlog was being delivered met PostgreSQL's `deadlock detected` (one side
-- aborted: a lost attempt record or a failed delete); two finishing calls whose attempts named
-- the same endpoints in other orders could meet it too. Finishing now locks the endpoints of its
-- deliveries first, in id order, then the deliveries.
-- Recording deliveries raced the delete differently: the insert's foreign key check failed for an
-- endpoint deleted since the endpoint list was read (it is cached for seconds), failing every
-- delivery of the call, and the batch that published them. record_webhook_deliveries takes its
-- endpoints first (shared, in id order: a delete waits for it, or it for the delete and then finds
-- the endpoint gone) and records only the deliveries whose endpoint is still there and the
-- caller's; it answers their ids.
-- Claims update deliveries and only read endpoints, and nothing else locks an endpoint after a
-- delivery, so the order holds.

/*
 * As in 20261130000000_webhook_attempts.sql, with the endpoint locked before the delivery.
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
  -- the endpoint first (a delivery's endpoint never changes, so it is read without a lock)
  perform 1 from public.webhook_endpoints e
   where e.id = (select d.endpoint_id from public.webhook_deliveries d where d.id = delivery_id)
   for no key update;

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

/*
 * As in 20261201001100_finish_successful_attempts_together.sql, with every endpoint of the call's
 * deliveries locked first, in id order.
 */
create or replace function public.finish_webhook_attempts(attempts jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  answers jsonb := '[]'::jsonb;
  a jsonb;
  all_succeeded boolean;
  ids uuid[];
  codes integer[];
  succeeded_ids uuid[];
begin
  select coalesce(bool_and(coalesce((x.a ->> 'succeeded')::boolean, false)), true),
    coalesce(array_agg((x.a ->> 'delivery_id')::uuid order by x.n), '{}'),
    coalesce(array_agg((x.a ->> 'attempt_status_code')::integer order by x.n), '{}'),
    coalesce(array_agg((x.a ->> 'delivery_id')::uuid)
      filter (where (x.a ->> 'succeeded')::boolean), '{}')
  into all_succeeded, ids, codes, succeeded_ids
  from jsonb_array_elements(attempts) with ordinality as x(a, n);

  -- the endpoints before the deliveries, as a delete (which cascades to deliveries) takes them
  perform 1 from public.webhook_endpoints e
   where e.id = any(array(select distinct d.endpoint_id from public.webhook_deliveries d
                           where d.id = any(ids)))
   order by e.id
   for no key update;

  if all_succeeded then
    -- arrays, not a join with the attempts: `id = any(ids)` is a primary key probe per attempt,
    -- where a join was planned as a scan of every delivery (23.6 ms a call under load)
    with done as (
      -- as finish_webhook_attempt does for a success; RLS and the client check keep it to the
      -- caller's rows (another client's delivery is answered null)
      update public.webhook_deliveries d set
        status = 'succeeded',
        attempts = d.attempts + 1,
        last_status_code = codes[array_position(ids, d.id)],
        last_error = null,
        locked_until = null,
        delivered_at = now(),
        payload_ciphertext = null
      where d.id = any(ids) and d.client_id = (select private.current_client_id())
      returning d.id, d.endpoint_id
    ), healed as (
      update public.webhook_endpoints e set consecutive_failures = 0, failing_since = null
      where e.id = any(array(select distinct done.endpoint_id from done))
        and (e.consecutive_failures <> 0 or e.failing_since is not null)
    )
    select coalesce(jsonb_agg(case when done.id is null then 'null'::jsonb
        else jsonb_build_object('disabled', false) end order by u.n), '[]'::jsonb)
    into answers
    from unnest(ids) with ordinality as u(id, n) left join done on done.id = u.id;
    return answers;
  end if;

  for a in select * from jsonb_array_elements(attempts) loop
    answers := answers || jsonb_build_array(public.finish_webhook_attempt(
      (a ->> 'delivery_id')::uuid, (a ->> 'succeeded')::boolean,
      (a ->> 'attempt_status_code')::integer, a ->> 'attempt_error',
      (a ->> 'retry_in_ms')::bigint, (a ->> 'gone')::boolean, (a ->> 'disable_after_ms')::bigint,
      (a ->> 'disable_after_failures')::integer, (a ->> 'failures_over_ms')::bigint));
  end loop;
  -- the payloads of this call's successes go, as above
  update public.webhook_deliveries d set payload_ciphertext = null
  where d.id = any(succeeded_ids) and d.status = 'succeeded' and d.payload_ciphertext is not null;
  return answers;
end
$$;

/*
 * Records deliveries ({id, client_id, endpoint_id, event_id, event_type, payload_ciphertext,
 * locked_until?}) for the calling client whose endpoint is still there (and the caller's: RLS
 * shows no other), and answers the ids recorded. The endpoints are locked (shared) in
 * id order first: a concurrent delete of one either waits for this call, then removes what it
 * recorded with the rest, or goes first, and its deliveries are left out instead of failing the
 * call on the foreign key.
 */
create function public.record_webhook_deliveries(deliveries jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  live uuid[];
  recorded jsonb;
begin
  select coalesce(array_agg(x.id), '{}') into live
    from (select e.id from public.webhook_endpoints e
           where e.id = any(array(select distinct (d ->> 'endpoint_id')::uuid
                                    from jsonb_array_elements(deliveries) d))
           order by e.id
           for key share) x;
  with stored as (
    insert into public.webhook_deliveries (id, client_id, endpoint_id, event_id, event_type,
      payload_ciphertext, locked_until)
    select r.id, r.client_id, r.endpoint_id, r.event_id, r.event_type, r.payload_ciphertext,
        r.locked_until
      from jsonb_to_recordset(deliveries) as r(id uuid, client_id uuid, endpoint_id uuid,
        event_id text, event_type text, payload_ciphertext text, locked_until timestamptz)
     where r.endpoint_id = any(live)
    returning id
  )
  select coalesce(jsonb_agg(stored.id), '[]'::jsonb) into recorded from stored;
  return recorded;
end
$$;
revoke all on function public.record_webhook_deliveries(jsonb) from public, anon;
grant execute on function public.record_webhook_deliveries(jsonb) to authenticated;
