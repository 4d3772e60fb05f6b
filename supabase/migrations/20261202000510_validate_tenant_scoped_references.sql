-- Validates the tenant-scoped foreign keys 20261202000500 added not valid, in a transaction of its
-- own: validation reads each referencing table under a lock that lets writes go on.
-- A row that fails is one that points at another client's row: made by a client through PostgREST
-- before the keys existed, or a phone number an operator filed under another client's account.
-- Whether to delete such a row or repoint it is for a person to decide, and the rows are evidence
-- of what a client tried, so this migration changes no data: it stops, naming each key with
-- failing rows and the query that lists them, and applies once they are dealt with. Meanwhile the
-- keys, already enforced for every write, refuse any new such row.

-- so that the queries in the report name their tables with the schema
set local search_path = '';

do $$
declare
  k record;
  failing_rows text;
  failing bigint;
  report text := '';
begin
  for k in
    select c.conrelid::regclass as tbl, c.conname, c.confrelid::regclass as ref,
        -- MATCH SIMPLE: a row with a null in its key references nothing
        (select string_agg(format('r.%I is not null', a.attname), ' and ')
           from unnest(c.conkey) as x(n)
           join pg_attribute a on a.attrelid = c.conrelid and a.attnum = x.n) as present,
        (select string_agg(format('t.%I = r.%I', b.attname, a.attname), ' and ')
           from unnest(c.conkey, c.confkey) as x(n, m)
           join pg_attribute a on a.attrelid = c.conrelid and a.attnum = x.n
           join pg_attribute b on b.attrelid = c.confrelid and b.attnum = x.m) as matches
      from pg_constraint c
     where c.contype = 'f' and not c.convalidated
       and (c.conrelid::regclass, c.conname::text) in (
         values ('public.phone_numbers'::regclass, 'phone_numbers_waba_account_id_fkey'),
           ('public.consent_events'::regclass, 'consent_events_contact_id_fkey'),
           ('public.messages'::regclass, 'messages_phone_number_id_fkey'),
           ('public.messages'::regclass, 'messages_contact_id_fkey'),
           ('public.message_status_events'::regclass, 'message_status_events_message_id_fkey'),
           ('public.webhook_deliveries'::regclass, 'webhook_deliveries_endpoint_id_fkey'))
     order by 1, 2
  loop
    failing_rows := format(
      'select r.* from %s r where %s and not exists (select 1 from %s t where %s)',
      k.tbl, k.present, k.ref, k.matches);
    execute format('select count(*) from (%s) f', failing_rows) into failing;
    if failing > 0 then
      report := report || format(E'\n  %s.%s: %s row(s); list them with: %s', k.tbl, k.conname,
        failing, failing_rows);
    else
      execute format('alter table %s validate constraint %I', k.tbl, k.conname);
    end if;
  end loop;
  if report <> '' then
    raise exception 'rows that reference another client''s row block the tenant-scoped keys:%',
      report
      using hint = 'Delete each such row, or point it at a row of its own client, then apply this migration again';
  end if;
end
$$;
