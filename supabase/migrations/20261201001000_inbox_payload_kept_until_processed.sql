-- The webhook inbox keeps a delivery's raw payload only while it is needed.
--
-- * Processed: the payload is dropped by the same update that marks the row done. Every event in it
--   is stored by then (per client, encrypted), so the raw copy is a second copy of personal data.
--   The row itself (dedupe key and times, no content) stays so that a Meta retry of the same
--   delivery is still recognised: Meta retries for up to 7 days.
-- * Set aside after its last attempt: the payload stays (with last_error) for operators.
-- * Retention: purge_webhook_inbox deletes done rows after 7 days and set-aside rows after 30. The
--   sweeper calls it on every run, a bounded number of rows at a time.
--
-- The completion update is not a HOT update (the pending index's predicate reads processed_at), so
-- it writes a whole new version of the row: without the payload that version, and its WAL, is
-- ~1.1 KB smaller for a typical delivery; the CPU it costs is the same (bench/inbox_rows.ts,
-- docs/benchmarks.md §5).

alter table public.webhook_inbox alter column payload_ciphertext drop not null;
alter table public.webhook_inbox add constraint webhook_inbox_payload_until_processed
  check (payload_ciphertext is not null or processed_at is not null);

-- rows processed before this migration give up their payloads now, as new ones will
update public.webhook_inbox set payload_ciphertext = null
where processed_at is not null and last_error is null;

-- the purge finds old rows by received_at (a row is processed after it is received). BRIN: rows are
-- appended in received_at order, and a BRIN entry costs the insert almost nothing, where a b-tree
-- entry would be paid by every delivery on the answer path. Ranges not yet summarized are read in
-- full by every purge, so autovacuum summarizes each range as soon as the next one starts
-- (autosummarize): a purge then reads the ranges holding old rows and little else.
create index webhook_inbox_received_brin on public.webhook_inbox using brin (received_at)
  with (autosummarize = on);
-- a purged delivery clears unrouted_webhook_events.inbox_id (on delete set null): without an index
-- that foreign-key action would scan the whole table for every purged row
create index unrouted_webhook_events_inbox_idx on public.unrouted_webhook_events (inbox_id)
  where inbox_id is not null;

create or replace function public.purge_webhook_inbox(
  max_rows integer default 5000,
  done_after interval default '7 days',
  set_aside_after interval default '30 days'
)
returns integer
language sql
security invoker
set search_path = ''
as $$
  with doomed as (
    select id from public.webhook_inbox
    where received_at < now() - least(done_after, set_aside_after)
      and processed_at < now() - case when last_error is null then done_after
                                      else set_aside_after end
    limit max_rows
    for update skip locked
  ), gone as (
    delete from public.webhook_inbox i using doomed d where i.id = d.id returning 1
  )
  select count(*)::integer from gone
$$;
comment on function public.purge_webhook_inbox(integer, interval, interval) is
  'Retention of the webhook inbox: deletes processed deliveries after done_after (7 days, Meta''s '
  'retry window) and set-aside ones (last_error kept for operators) after set_aside_after (30 '
  'days), at most max_rows per call. Unprocessed deliveries are never purged.';
revoke all on function public.purge_webhook_inbox(integer, interval, interval)
  from public, anon, authenticated;
grant execute on function public.purge_webhook_inbox(integer, interval, interval) to service_role;
