-- The sweeper took due work oldest first across tenants (`order by next_attempt_at limit 500`):
-- one client with a backlog (100,000 client webhook deliveries, a failing endpoint's retries, a
-- flood of Meta deliveries for its numbers) filled every sweep, and another client's single due
-- item waited until that backlog was gone. Due work is now handed out in turns: each client's
-- oldest item first, then each client's second, and so on, up to the limit, so a sweep of N
-- items reaches every client with due work whenever fewer than N have some.
-- A Meta delivery names no client until it is walked, so the inbox takes turns by a route key
-- recorded with it: the phone number id of its first change (else its first entry's WABA id),
-- what routing will find its client by. The in-process doorbell (src/adapters/deno/
-- local_doorbell.ts) takes jobs in the same turns.
-- Cost: each function ranks every due row (the due part of its partial index) once per sweep,
-- where the old query stopped after the limit; a sweep runs every 30 to 60 s.

alter table public.webhook_inbox add column route_key text check (char_length(route_key) <= 64);

/*
 * Unprocessed inbox deliveries due now and not held by a claim, in turns per route key (oldest
 * first within one), at most max_rows. Service role only, like the table.
 */
create function public.due_inbox_items(max_rows integer)
returns table (id bigint, route_key text)
language sql
stable
security invoker
set search_path = ''
as $$
  select x.id, x.route_key from (
    select i.id, i.route_key, i.next_attempt_at,
        row_number() over (partition by i.route_key order by i.next_attempt_at, i.id) as turn
      from public.webhook_inbox i
     where i.processed_at is null and i.next_attempt_at <= now()
       and (i.locked_until is null or i.locked_until < now())
  ) x
  order by x.turn, x.next_attempt_at, x.id
  limit max_rows
$$;
revoke all on function public.due_inbox_items(integer) from public, anon, authenticated;
grant execute on function public.due_inbox_items(integer) to service_role;

/* Outbound messages queued or sending, due now and not held by a claim, in turns per client. */
create function public.due_outbound_messages(max_rows integer)
returns table (id uuid, client_id uuid)
language sql
stable
security invoker
set search_path = ''
as $$
  select x.id, x.client_id from (
    select m.id, m.client_id, m.next_attempt_at,
        row_number() over (partition by m.client_id order by m.next_attempt_at, m.id) as turn
      from public.messages m
     where m.next_attempt_at is not null and m.next_attempt_at <= now()
       and m.status in ('queued', 'sending')
       and (m.locked_until is null or m.locked_until < now())
  ) x
  order by x.turn, x.next_attempt_at, x.id
  limit max_rows
$$;
revoke all on function public.due_outbound_messages(integer) from public, anon, authenticated;
grant execute on function public.due_outbound_messages(integer) to service_role;

/* Pending client webhook deliveries due now and not held by a claim, in turns per client. */
create function public.due_webhook_deliveries(max_rows integer)
returns table (id uuid, client_id uuid)
language sql
stable
security invoker
set search_path = ''
as $$
  select x.id, x.client_id from (
    select d.id, d.client_id, d.next_attempt_at,
        row_number() over (partition by d.client_id order by d.next_attempt_at, d.id) as turn
      from public.webhook_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= now()
       and (d.locked_until is null or d.locked_until < now())
  ) x
  order by x.turn, x.next_attempt_at, x.id
  limit max_rows
$$;
revoke all on function public.due_webhook_deliveries(integer) from public, anon, authenticated;
grant execute on function public.due_webhook_deliveries(integer) to service_role;
