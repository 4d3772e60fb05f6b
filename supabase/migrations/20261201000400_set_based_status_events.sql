-- apply_status_events handled one event at a time, and found each event's message with
--   m.wamid = e ->> 'wamid' or m.id::text = e ->> 'message_id'
-- The cast on the column is not leakproof, so under RLS that condition could only filter after
-- the policy: whenever an event carried our id (every status of a message we sent, since the id
-- travels in biz_opaque_callback_data), the plan read the client's messages one by one until it
-- found the match, which grows with the client's history (EXPLAIN: 99 heap blocks at 2,000
-- messages). Each event is now matched by two primary-key or unique-index probes, wamid first,
-- and a batch is stored with a fixed number of statements: one to find the messages, one to
-- lock them in id order, one to insert the new events and advance every touched message once.
-- Statuses still only move forward: a message takes the highest rank among its current status
-- and its new events, so duplicates and any arrival order converge as before.
-- private.status_rank loses its `set search_path` (it names no object), so that queries can
-- inline it instead of calling it per row.
-- record_send_results now also locks its messages in id order first, so it and this function,
-- which both update several messages per statement, cannot deadlock each other.

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

  -- 3. keep every new event, and advance each touched message once
  with e as (
    select x.n, (matched ->> x.n::text)::uuid as message_id, x.e ->> 'wamid' as wamid,
        x.e ->> 'status' as status, (x.e ->> 'occurred_at')::timestamptz as occurred_at,
        x.e -> 'pricing' as pricing, x.e -> 'errors' as errors,
        x.e ->> 'conversation_id' as conversation_id
      from jsonb_array_elements(events) with ordinality as x(e, n)
  ),
  fresh as (
    -- duplicates, within the batch or of events already stored, hit the unique key
    insert into public.message_status_events
      (client_id, message_id, wamid, status, occurred_at, pricing, errors, conversation_id)
    select cid, e.message_id, e.wamid, e.status, e.occurred_at, e.pricing, e.errors,
        e.conversation_id
      from e order by e.n
    on conflict do nothing
    returning id, message_id, wamid, status, occurred_at, pricing, errors
  ),
  -- the new events that move a message (sent, delivered, read, failed)
  moving as (
    select f.* from fresh f
     where f.message_id is not null and f.status in ('sent', 'delivered', 'read', 'failed')
  ),
  advanced as (
    update public.messages m set
      wamid = coalesce(m.wamid,
        (select v.wamid from moving v where v.message_id = m.id order by v.id limit 1)),
      status = coalesce((select v.status from moving v
          where v.message_id = m.id
            and private.status_rank(v.status) > private.status_rank(m.status)
          order by private.status_rank(v.status) desc limit 1), m.status),
      status_updated_at = now(),
      error = coalesce((select v.errors from moving v
          where v.message_id = m.id and v.status = 'failed' order by v.id desc limit 1), m.error),
      pricing_category = coalesce((select v.pricing ->> 'category' from moving v
          where v.message_id = m.id and v.pricing ->> 'category' is not null
          order by v.id desc limit 1), m.pricing_category),
      sent_at = coalesce(m.sent_at, (select min(v.occurred_at) from moving v
          where v.message_id = m.id and v.status in ('sent', 'delivered', 'read'))),
      delivered_at = coalesce(m.delivered_at, (select min(v.occurred_at) from moving v
          where v.message_id = m.id and v.status in ('delivered', 'read'))),
      read_at = coalesce(m.read_at, (select min(v.occurred_at) from moving v
          where v.message_id = m.id and v.status = 'read')),
      failed_at = coalesce(m.failed_at, (select min(v.occurred_at) from moving v
          where v.message_id = m.id and v.status = 'failed')),
      next_attempt_at = null,
      locked_until = null
    -- (RLS keeps this to the caller's rows; naming client_id here too made the plan search the
    -- client's index instead of the primary key)
    where m.id = any(array(select v.message_id from moving v))
  )
  -- (advanced runs whether or not it is read: data-modifying CTEs always run to completion)
  select coalesce(jsonb_agg(jsonb_build_object('wamid', f.wamid, 'status', f.status,
      'message_id', f.message_id, 'occurred_at', f.occurred_at, 'errors', f.errors)
      order by f.id), '[]'::jsonb)
    into applied from fresh f;
  return applied;
end
$$;

/*
 * record_send_results as in 20261201000200_claim_on_enqueue.sql, locking its messages in id
 * order before updating them.
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
