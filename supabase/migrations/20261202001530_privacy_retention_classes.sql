-- Retention of the data the privacy workflow and the plugin layer keep, as retention classes:
-- client policies and legal holds apply to them as to every other class.
--
-- * exports and request_proofs: 20261202001200_retention.sql registered both classes without a
--   purge function, as no code owned the data yet. The request workflow
--   (20261202001510_privacy_requests.sql) owns it now: an export (its content already dropped once
--   downloaded or past its link's life) goes after the class's period; a finished request (its
--   minimal proof, with its parts, exports and codes) after the proof's period, counted from when
--   it was finished. A client's policy governs what that client filed or what its part concerns;
--   a hold on a whole client keeps every request with a part for it.
-- * plugin_deliveries: events on their way to a plugin's handler, with their payload encrypted.
--   20261202001320_plugin_layer.sql purged them with public.purge_plugin_deliveries, called by
--   the sweeper, with fixed periods and no regard for client policies or legal holds: a client
--   under a hold lost its parked events (payload and error, which may name a data subject) after
--   30 days. They are a class now (held per client: a payload cannot be told apart by subject
--   without decrypting it), and public.purge_plugin_deliveries is dropped, as retention dropped
--   the purges it replaced. A handled or cancelled delivery (payload already dropped) still goes
--   7 days after it finished; a parked one keeps its payload and error for the client's period.

create function private.purge_exports(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select e.id
      from private.retention_targets('exports') t
      cross join lateral (
        select e.id from public.privacy_exports e
         where e.client_id = t.client_id and e.created_at < t.cutoff
         order by e.created_at
         limit max_rows
         for update skip locked
      ) e
     limit max_rows
  ), gone as (
    delete from public.privacy_exports x using doomed d where x.id = d.id returning x.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_exports(integer) is
  'Retention of access-request exports: deletes at most max_rows exports made before their '
  'client''s cutoff (their content is gone already once downloaded or expired).';
revoke all on function private.purge_exports(integer) from public;

create function private.purge_request_proofs(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with targets as materialized (
    select * from private.retention_targets('request_proofs')
  ), finished as (
    select q.id, q.filing_client_id,
        coalesce(q.completed_at, q.rejected_at, q.updated_at) as finished_at
      from public.privacy_requests q
     where q.status in ('completed', 'rejected', 'expired')
  ), doomed as (
    select f.id, f.filing_client_id
      from finished f
      left join targets t on t.client_id = f.filing_client_id
     -- a client missing from the targets is held: its requests stay
     where f.finished_at < coalesce(t.cutoff, case when f.filing_client_id is null
             then private.retention_cutoff('request_proofs') end)
       -- and the period of every client it has a part for has passed
       and not exists (
         select 1 from public.privacy_request_parts p
          left join targets pt on pt.client_id = p.client_id
          where p.request_id = f.id and (pt.client_id is null or f.finished_at >= pt.cutoff))
     limit max_rows
  ), locked as (
    select q.id, d.filing_client_id from public.privacy_requests q join doomed d on d.id = q.id
     for update of q skip locked
  ), gone as (
    delete from public.privacy_requests q using locked l where q.id = l.id
    returning l.filing_client_id
  )
  select g.filing_client_id, count(*) from gone g group by g.filing_client_id
$$;
comment on function private.purge_request_proofs(integer) is
  'Retention of the proofs that data-subject requests were handled: deletes at most max_rows '
  'finished requests (completed, rejected, expired) with their parts, finished before the '
  'cutoff of the client that filed them (the class default for the subject''s own requests) and '
  'of every client they have a part for. A client under a legal hold keeps them.';
revoke all on function private.purge_request_proofs(integer) from public;

create function private.purge_plugin_deliveries(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select d.id
      from private.retention_targets('plugin_deliveries') t
      cross join lateral (
        select d.id from public.plugin_deliveries d
         -- both periods are at least 7 days, so created_at bounds the scan (the BRIN index)
         where d.client_id = t.client_id and d.created_at < now() - interval '7 days'
           and d.status <> 'pending'
           and d.finished_at < case when d.status = 'parked' then t.cutoff
                                    else now() - interval '7 days' end
         order by d.created_at
         limit max_rows
         for update skip locked
      ) d
     limit max_rows
  ), gone as (
    delete from public.plugin_deliveries x using doomed d where x.id = d.id returning x.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_plugin_deliveries(integer) is
  'Retention of plugin deliveries: deletes at most max_rows handled or cancelled ones 7 days '
  'after they finished and parked ones (payload and error kept for a retry) after their '
  'client''s period. Pending ones are work, not history, and are never purged; nothing of a '
  'client under a legal hold is.';
revoke all on function private.purge_plugin_deliveries(integer) from public;

update privacy.retention_classes set purge_function = 'private.purge_exports(integer)'
 where data_class = 'exports';
update privacy.retention_classes set purge_function = 'private.purge_request_proofs(integer)'
 where data_class = 'request_proofs';
insert into privacy.retention_classes (data_class, description, default_keep, minimum_keep,
  maximum_keep, per_client, subject_hold, run_every, purge_function, basis)
values ('plugin_deliveries',
  'Events on their way to a plugin''s handler (payload encrypted). A handled or cancelled one, '
  'its payload already dropped, goes 7 days after it finished; a parked one keeps its payload and '
  'error for this period, for the client to retry it (POST /v1/plugins/{plugin}/retry).',
  interval '30 days', interval '7 days', interval '90 days', true, 'client', interval '1 hour',
  'private.purge_plugin_deliveries(integer)',
  'A parked event is kept as long as the client webhook deliveries a client debugs its receiver '
  'with; its payload may carry message content, so no longer by default.');

drop function public.purge_plugin_deliveries(integer, interval, interval);
