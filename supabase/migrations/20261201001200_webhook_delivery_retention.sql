-- Retention of client webhook deliveries. A finished delivery (succeeded, failed after its last
-- retry, or cancelled) is deleted 30 days after it was created: the deliveries API shows a month
-- of history, and a failed delivery's encrypted payload (message text) is not kept for ever.
-- Pending deliveries are never purged: the retry schedule ends after about 27 hours, so one still
-- pending is work that must be finished, not history. The sweeper calls this on every run, a
-- bounded number of rows at a time, as it does purge_webhook_inbox.

-- BRIN, as for the inbox: rows are appended in created_at order, and the index costs an insert
-- almost nothing; autosummarize keeps a purge from reading every range added since the last vacuum
create index webhook_deliveries_created_brin on public.webhook_deliveries using brin (created_at)
  with (autosummarize = on);

create or replace function public.purge_webhook_deliveries(
  max_rows integer default 5000,
  finished_after interval default '30 days'
)
returns integer
language sql
security invoker
set search_path = ''
as $$
  with doomed as (
    select id from public.webhook_deliveries
    where created_at < now() - finished_after and status <> 'pending'
    limit max_rows
    for update skip locked
  ), gone as (
    delete from public.webhook_deliveries d using doomed where d.id = doomed.id returning 1
  )
  select count(*)::integer from gone
$$;
comment on function public.purge_webhook_deliveries(integer, interval) is
  'Retention of client webhook deliveries: deletes finished ones (succeeded, failed, cancelled) '
  'created more than finished_after (30 days) ago, at most max_rows per call. Pending deliveries '
  'are never purged.';
revoke all on function public.purge_webhook_deliveries(integer, interval)
  from public, anon, authenticated;
grant execute on function public.purge_webhook_deliveries(integer, interval) to service_role;
