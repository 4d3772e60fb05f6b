-- Which master keys the running app holds, so that a rotation cannot lock the app out.
--
-- `deno task keys rotate` re-wraps every client's data key under the active master key of the
-- keyring it is given. An app instance that does not hold that key can then unwrap no data key
-- at all: every read of encrypted data fails ("Master key v2 is not configured") until the key is
-- added and the app restarted. The operator CLI cannot see the app's configuration (Workers
-- secrets, another server's environment, the local stack's secrets file), so the app says what it
-- holds: each instance reports, on every sweep, a fingerprint of each master key it holds (never
-- the key; see masterKeyFingerprints in src/core/crypto/envelope.ts) and how long the report
-- stands (three sweep periods: an instance that stopped reporting is gone or stuck). An instance
-- that stops cleanly withdraws its report. `keys rotate` refuses a key that a standing report
-- lacks, or when no report stands at all.
--
-- The table is in `private` (PostgREST does not expose it); the service role reaches it through
-- the three functions below. RLS is on and no policy opens it: only the service role, which
-- bypasses RLS, reads or writes it.

create table private.master_key_reports (
  instance uuid primary key,
  -- "version:fingerprint" for every master key the instance holds
  keys text[] not null check (cardinality(keys) between 1 and 64),
  -- the version it wraps new data keys under
  active text not null check (length(active) between 1 and 64),
  reported_at timestamptz not null default now(),
  expires_at timestamptz not null
);
alter table private.master_key_reports enable row level security;
revoke all on private.master_key_reports from public, anon, authenticated;
grant select, insert, update, delete on private.master_key_reports to service_role;

/*
 * An instance's report: replaces its previous one and stands for `ttl_seconds`. Expired reports
 * are deleted on the way, so the table holds about one row per running instance.
 */
create function public.report_master_keys(
  instance uuid,
  keys text[],
  active text,
  ttl_seconds integer
)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
begin
  if ttl_seconds is null or ttl_seconds not between 10 and 86400 then
    raise exception 'ttl_seconds must be between 10 and 86400' using errcode = '22023';
  end if;
  if exists (select 1 from unnest(keys) k where length(k) > 100) then
    raise exception 'a key fingerprint is longer than 100 characters' using errcode = '22023';
  end if;
  delete from private.master_key_reports r where r.expires_at < now();
  insert into private.master_key_reports as r (instance, keys, active, reported_at, expires_at)
  values (report_master_keys.instance, report_master_keys.keys, report_master_keys.active, now(),
    now() + make_interval(secs => ttl_seconds))
  on conflict on constraint master_key_reports_pkey do update
    set keys = excluded.keys, active = excluded.active, reported_at = excluded.reported_at,
      expires_at = excluded.expires_at;
end
$$;
revoke all on function public.report_master_keys(uuid, text[], text, integer)
  from public, anon, authenticated;
grant execute on function public.report_master_keys(uuid, text[], text, integer) to service_role;

-- an instance that stops cleanly: its report no longer stands
create function public.withdraw_master_key_report(instance uuid)
returns void
language sql
security invoker
set search_path = ''
as $$
  delete from private.master_key_reports r where r.instance = withdraw_master_key_report.instance;
$$;
revoke all on function public.withdraw_master_key_report(uuid) from public, anon, authenticated;
grant execute on function public.withdraw_master_key_report(uuid) to service_role;

-- the reports that stand now, newest first
create function public.standing_master_key_reports()
returns table (instance uuid, keys text[], active text, reported_at timestamptz,
  expires_at timestamptz)
language sql
stable
security invoker
set search_path = ''
as $$
  select r.instance, r.keys, r.active, r.reported_at, r.expires_at
    from private.master_key_reports r
   where r.expires_at > now()
   order by r.reported_at desc
   limit 1000;
$$;
revoke all on function public.standing_master_key_reports() from public, anon, authenticated;
grant execute on function public.standing_master_key_reports() to service_role;
