-- Retention of messages in the table's own order, across clients.
--
-- purge_messages (20261202001500_legal_holds_for_requests.sql) took one client's oldest rows per
-- batch through messages_client_created_idx. A database that receives many clients' messages over
-- months interleaves them on every page, so a batch of one client's rows touched one row on each of
-- thousands of pages, and the purge wrote a page image per page per client after each checkpoint:
-- about 4.5 KB of WAL per message at a million rows (docs/benchmarks.md, Retention), which the
-- app's inserts then waited behind at commit. Messages arrive in time order, so the oldest rows of
-- every client share the table's first pages: a batch now takes expired rows in the table's
-- physical order, through a BRIN index on created_at, and clears whole pages at once.

create index messages_created_brin on public.messages
  using brin (created_at) with (autosummarize = on);
comment on index public.messages_created_brin is
  'Retention''s scan: messages by creation time in the table''s order (block ranges), so a purge '
  'clears whole pages. Costs inserts almost nothing.';

/*
 * One bounded batch: at most max_rows messages created before their client's cutoff, in the
 * table's order. First the bounds: the clients' cutoffs and held subjects (one jsonb object each,
 * looked up by client id per row, not joined, so that the planner cannot read the rows client by
 * client through messages_client_created_idx), the latest cutoff, and the oldest message of the
 * clients retention applies to (one index probe per client), so each batch skips the ranges
 * earlier batches emptied instead of reading their dead rows again. Then the rows are chosen by a
 * statement planned for those bounds (EXECUTE: a cached generic plan does not know how far the
 * range goes), with plain index scans off so that they come from a bitmap scan (the BRIN
 * index's, or any index's: a bitmap reads the table in its order) or a sequential one, not from
 * another index that holds created_at (PostgreSQL 18 skips through messages_contact_idx's leading
 * column, newest first). The setting is put back before the delete, whose cascades look rows up
 * by their indexes. As before: never a message still queued or being sent, nor one of a data
 * subject under a legal hold (by the recipient's number or the contact's number or user id), and
 * a row another transaction holds is left for the next batch.
 */
create or replace function private.purge_messages(max_rows integer)
returns table (client_id uuid, deleted bigint)
language plpgsql
set search_path = ''
as $$
declare
  index_scans text := current_setting('enable_indexscan');
  cutoffs jsonb;
  held jsonb;
  latest timestamptz;
  oldest timestamptz;
  doomed uuid[];
begin
  select jsonb_object_agg(t.client_id, t.cutoff),
      coalesce(jsonb_object_agg(t.client_id, to_jsonb(t.held_subjects))
        filter (where t.held_subjects is not null), '{}'),
      max(t.cutoff),
      min(o.created_at)
    into cutoffs, held, latest, oldest
    from private.retention_targets('messages') t
    left join lateral (
      select m.created_at from public.messages m
       where m.client_id = t.client_id
       order by m.created_at
       limit 1
    ) o on true;
  if oldest is null then
    return;
  end if;
  perform set_config('enable_indexscan', 'off', true);
  execute $chosen$
    select array_agg(chosen.id) from (
      select m.id
        from public.messages m
       where m.created_at >= $1 and m.created_at < $2
         and m.created_at < ($3 ->> m.client_id::text)::timestamptz
         and m.status not in ('queued', 'sending')
         and (not ($4 ? m.client_id::text) or not (
           coalesce(($4 -> m.client_id::text) ? m.recipient, false)
           or exists (select 1 from public.contacts c
                       where c.client_id = m.client_id and c.id = m.contact_id
                         and (($4 -> m.client_id::text) ? c.wa_id
                           or ($4 -> m.client_id::text) ? c.user_id))))
       limit $5
       for update of m skip locked
    ) chosen
  $chosen$ into doomed using oldest, latest, cutoffs, held, max_rows;
  perform set_config('enable_indexscan', index_scans, true);
  return query
    with gone as (
      delete from public.messages m where m.id = any(doomed) returning m.client_id
    )
    select g.client_id, count(*) from gone g group by g.client_id;
end
$$;
comment on function private.purge_messages(integer) is
  'Retention of messages: deletes at most max_rows messages created before their client''s cutoff, '
  'in the table''s order (whole pages of the oldest rows at once), with their status events; never '
  'a message still queued or being sent, nor one of a data subject under a legal hold.';
revoke all on function private.purge_messages(integer) from public;
