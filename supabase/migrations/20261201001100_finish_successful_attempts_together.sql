-- Finishing client webhook attempts. When every attempt of a call succeeded (a healthy endpoint,
-- the usual case), the deliveries are marked with one statement and their endpoints' failure
-- streaks cleared with another, instead of finish_webhook_attempt's two statements per attempt.
-- Under ingest with a listening endpoint, finishing was PostgreSQL's largest item: 800 calls took
-- 12.7 s of the run's ~35 s, with one UPDATE per delivery (pg_stat_statements, docs/benchmarks.md
-- §5). Order does not matter when all succeeded (each success only clears the streak). A call with
-- any failure still goes attempt by attempt in order, since a failure's effect on the streak, and
-- whether it disables the endpoint, depends on what came before it.

-- A delivered event's payload is not kept: the deliveries API shows status and attempts, never
-- the body, and a succeeded delivery is never sent again, so the copy of the message text it
-- carries goes with the update that marks it succeeded (which wrote the whole ~1.5 KB row again).
-- Pending and failed deliveries keep theirs (encrypted with the client's key).
alter table public.webhook_deliveries alter column payload_ciphertext drop not null;
update public.webhook_deliveries set payload_ciphertext = null where status = 'succeeded';
alter table public.webhook_deliveries add constraint webhook_deliveries_payload_until_delivered
  check (payload_ciphertext is not null or status = 'succeeded');

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
