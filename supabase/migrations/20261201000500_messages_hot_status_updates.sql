-- Most writes to `messages` in real traffic are status webhooks: sent, delivered and read for
-- every outbound message. Each was a full new row version with an entry in all seven indexes,
-- because `messages_pending_idx` had `status` in its predicate, and PostgreSQL can update a row
-- in place (HOT: no index entries) only when no indexed column, predicates included, changes.
-- The sweeper's index now covers the rows with a due time, which are exactly the queued and
-- sending ones (every path that leaves those statuses clears next_attempt_at; the sweeper still
-- filters on status). A status webhook changes no indexed column (its wamid, when set, is
-- unchanged), so with free room on the page (fillfactor 75) it is written in place. Measured with
-- bench/status_hot_updates.ts: 600 of 600 status updates through the webhook path were HOT (0
-- before), and the status update statement under load went from 2.35 ms to 1.61 ms per ~20 events.
-- fillfactor applies to pages written from now on; an existing large table would need
-- `vacuum full` or pg_repack to gain it on old pages.

drop index public.messages_pending_idx;
create index messages_due_idx on public.messages (next_attempt_at)
  where next_attempt_at is not null;
alter table public.messages set (fillfactor = 75);
