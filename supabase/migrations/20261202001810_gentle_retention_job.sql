-- The pg_cron job purges in batches of 1,000 rows, 250 ms apart.
--
-- Measured (docs/benchmarks.md, Retention: a million expired messages purged while the app inserts
-- 200 messages/s): back to back, the inserts' commits wait behind the purge's WAL and the
-- checkpoint that writes back the pages it emptied; 2,000 rows 100 ms apart took their p99 8 to 10
-- times the baseline's, 1,000 rows 250 ms apart about 4 times. At about 3,300 rows/s the job still
-- removes a million rows in one 5-minute run, every 10 minutes. A purge started by hand keeps
-- run_retention's own defaults (5,000 rows, no pause), for when nothing else is running.

/*
 * As in 20261202001200_retention.sql, with the job's batch and pause. Idempotent: pg_cron replaces
 * a job of the same name.
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
    $job$call private.run_retention('pg_cron', batch_rows => 1000, pause => interval '250 milliseconds')$job$)$sql$;
  return 'scheduled glooft-retention every 10 minutes (batches of 1,000 rows, 250 ms apart)';
end
$$;
comment on function private.schedule_retention() is
  'Registers the pg_cron job glooft-retention (every 10 minutes: call private.run_retention in '
  'batches of 1,000 rows 250 ms apart) when pg_cron is installed; says so and does nothing '
  'otherwise.';
revoke all on function private.schedule_retention() from public;

do $do$
begin
  raise notice '%', private.schedule_retention();
end
$do$;
