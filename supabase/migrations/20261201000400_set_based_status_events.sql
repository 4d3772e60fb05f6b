-- apply_status_events handled one event at a time, and found each event's message with
--   m.wamid = e ->> 'wamid' or m.id::text = e ->> 'message_id'
-- The cast on the column is not leakproof, so under RLS that condition could only filter after
-- the policy: whenever an event carried our id (every status of a message we sent, since the id
-- travels in biz_opaque_callback_data), the plan read the client's messages one by one until it
-- found the match, which grows with the client's history (EXPLAIN: 99 heap blocks at 2,000
-- messages). Each event is now matched by two primary-key or unique-index probes, wamid first,
-- and a batch is stored with a fixed number of statements: one to find the messages, one to
-- lock them in id order, one to insert the new events and sum up what they teach each message,
-- one to advance every touched message once.
-- Statuses still only move forward: a message takes the highest rank among its current status
-- and its new events, so duplicates and any arrival order converge as before.
-- private.status_rank loses its `set search_path` (it names no object), so that queries can
-- inline it instead of calling it per row.
-- record_send_results stores all the accepted results of a call with one statement (which
-- record_send_result, for one result, runs too), locking the messages in id order first, so it
-- and apply_status_events, which both update several messages per statement, cannot deadlock
-- each other; the other outcomes (rare) still go one at a time.

/*
 * Records a batch of status events for the calling client and advances each message's status,
 * in one round trip; returns the events that were new (duplicates are left out), in order.
 * Runs as the caller (security invoker), so RLS applies. A message is matched by wamid, or by
 * our own id carried in biz_opaque_callback_data (which is how a send whose HTTP response was
 * lost still gets its wamid).
 * events: [{wamid, status, occurred_at, pricing, errors, conversation_id, message_id}]
 */
create or replace function public.apply_status_events(events jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  -- the events with their message, as rows of (n, message id)
  matched jsonb;
  message_ids uuid[];
  -- message id → what its new events teach it (see step 3)
  moves jsonb;
  applied jsonb;
begin
  if cid is null then
    raise exception 'apply_status_events needs a client JWT' using errcode = '42501';
  end if;
  -- 1. each event's message: by wamid, else by our id (both unique-index probes), else as
  --    another event of the batch with the same wamid found it (the first event may be the one
  --    that teaches the message its wamid)
  select jsonb_object_agg(y.n::text, y.mid), array_agg(distinct y.mid) filter (where y.mid is not null)
    into matched, message_ids
    from (select x.n, coalesce(x.mid, (max(x.mid::text) over (partition by x.wamid))::uuid) as mid
    from (select e.n, e.wamid, coalesce(
              (select m.id from public.messages m
                where m.client_id = cid and m.wamid = e.wamid and m.direction = 'outbound'),
              (select m.id from public.messages m
                where m.id = e.by_id and m.client_id = cid and m.direction = 'outbound')) as mid
            from (select x.n, x.e ->> 'wamid' as wamid,
                    case when x.e ->> 'message_id'
                        ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                      then (x.e ->> 'message_id')::uuid end as by_id
                    from jsonb_array_elements(events) with ordinality as x(e, n)
                  offset 0) e offset 0) x) y;

  -- 2. lock them in id order (the update below would lock them in scan order)
  perform 1 from public.messages m where m.id = any(message_ids) order by m.id for no key update;

  -- 3. keep every new event (duplicates, within the batch or of events already stored, hit
  --    the unique key), and sum up, per message, what its new events teach it
  with e as (
    select x.n, (matched ->> x.n::text)::uuid as message_id, x.e ->> 'wamid' as wamid,
        x.e ->> 'status' as status, (x.e ->> 'occurred_at')::timestamptz as occurred_at,
        x.e -> 'pricing' as pricing, x.e -> 'errors' as errors,
        x.e ->> 'conversation_id' as conversation_id
      from jsonb_array_elements(events) with ordinality as x(e, n)
  ),
  fresh as (
    insert into public.message_status_events
      (client_id, message_id, wamid, status, occurred_at, pricing, errors, conversation_id)
    select cid, e.message_id, e.wamid, e.status, e.occurred_at, e.pricing, e.errors,
        e.conversation_id
      from e order by e.n
    on conflict do nothing
    returning id, message_id, wamid, status, occurred_at, pricing, errors
  )
  select
      (select coalesce(jsonb_agg(jsonb_build_object('wamid', f.wamid, 'status', f.status,
          'message_id', f.message_id, 'occurred_at', f.occurred_at, 'errors', f.errors)
          order by f.id), '[]'::jsonb) from fresh f),
      -- only the statuses that move a message: sent, delivered, read, failed
      (select jsonb_object_agg(g.message_id::text, jsonb_build_object('status', g.best,
          'wamid', g.wamid, 'errors', g.errors, 'category', g.category, 'sent_at', g.sent_at,
          'delivered_at', g.delivered_at, 'read_at', g.read_at, 'failed_at', g.failed_at))
         from (select v.message_id,
                 (array_agg(v.status order by private.status_rank(v.status) desc))[1] as best,
                 (array_agg(v.wamid order by v.id))[1] as wamid,
                 (array_agg(v.errors order by v.id desc)
                   filter (where v.status = 'failed'))[1] as errors,
                 (array_agg(v.pricing ->> 'category' order by v.id desc)
                   filter (where v.pricing ->> 'category' is not null))[1] as category,
                 min(v.occurred_at) filter (where v.status in ('sent', 'delivered', 'read'))
                   as sent_at,
                 min(v.occurred_at) filter (where v.status in ('delivered', 'read'))
                   as delivered_at,
                 min(v.occurred_at) filter (where v.status = 'read') as read_at,
                 min(v.occurred_at) filter (where v.status = 'failed') as failed_at
               from fresh v
              where v.message_id is not null
                and v.status in ('sent', 'delivered', 'read', 'failed')
              group by v.message_id) g)
    into applied, moves;

  -- 4. advance each message once: the highest rank wins, so any arrival order converges; each
  --    step keeps its earliest time; failed keeps its errors
  update public.messages m set
    wamid = coalesce(m.wamid, moves -> m.id::text ->> 'wamid'),
    status = case when private.status_rank(moves -> m.id::text ->> 'status')
        > private.status_rank(m.status) then moves -> m.id::text ->> 'status' else m.status end,
    status_updated_at = now(),
    error = coalesce(nullif(moves -> m.id::text -> 'errors', 'null'::jsonb), m.error),
    pricing_category = coalesce(moves -> m.id::text ->> 'category', m.pricing_category),
    sent_at = coalesce(m.sent_at, (moves -> m.id::text ->> 'sent_at')::timestamptz),
    delivered_at = coalesce(m.delivered_at, (moves -> m.id::text ->> 'delivered_at')::timestamptz),
    read_at = coalesce(m.read_at, (moves -> m.id::text ->> 'read_at')::timestamptz),
    failed_at = coalesce(m.failed_at, (moves -> m.id::text ->> 'failed_at')::timestamptz),
    next_attempt_at = null,
    locked_until = null
  -- (RLS keeps this to the caller's rows; naming client_id here too made the plan search the
  -- client's index instead of the primary key)
  where m.id = any(array(select k::uuid from jsonb_object_keys(moves) as k));
  return applied;
end
$$;

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
    perform 1 from public.messages m where m.id = any(accepted_ids) order by m.id
      for no key update;
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

-- as in 20261124000300_messaging.sql, without `set search_path`: a function with a SET clause is
-- never inlined, and this one is evaluated per row in the updates above
create or replace function private.status_rank(status text) returns integer
language sql immutable
as $$
  select case status
    when 'queued' then 1 when 'sending' then 2 when 'accepted' then 3 when 'sent' then 4
    when 'delivered' then 5 when 'read' then 6 when 'failed' then 7 else 0 end
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
