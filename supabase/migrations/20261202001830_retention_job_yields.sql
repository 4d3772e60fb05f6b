-- The pg_cron job purges in batches of 500 rows, 500 ms apart.
--
-- Retention is background work: it has to keep up with what arrives, not to finish fast, and the
-- app's commits wait behind the WAL it writes. Measured with a baseline as long as the purge
-- (docs/benchmarks.md, Retention: a million expired messages purged while the app inserts 200
-- messages/s), 1,000 rows 250 ms apart (about 3,200 rows/s) still took the inserts' p99 to about
-- 2.3 times the baseline's; 500 rows 500 ms apart purge about 900 rows/s, which is about 270,000
-- rows in one 5-minute run every 10 minutes, some 39 million a day. A purge started by hand keeps
-- run_retention's own defaults (5,000 rows, no pause), for when nothing else is running.

/*
 * As in 20261202001810_gentle_retention_job.sql, with the job's new batch and pause. Idempotent:
 * pg_cron replaces a job of the same name.
 */
create or replace function private.schedule_retention() returns text
language plpgsql
set search_path = ''
as $$
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    return 'pg_cron is not installed: the app''s sweeper applies retention';
  end if;
  execute $sql$select cron.schedule('glooft-retention', '*/10 * * * *',
    $job$call private.run_retention('pg_cron', batch_rows => 500, pause => interval '500 milliseconds')$job$)$sql$;
  return 'scheduled glooft-retention every 10 minutes (batches of 500 rows, 500 ms apart)';
end
$$;
comment on function private.schedule_retention() is
  'Registers the pg_cron job glooft-retention (every 10 minutes: call private.run_retention in '
  'batches of 500 rows 500 ms apart) when pg_cron is installed; says so and does nothing '
  'otherwise.';
revoke all on function private.schedule_retention() from public;

do $do$
begin
  raise notice '%', private.schedule_retention();
end
$do$;
