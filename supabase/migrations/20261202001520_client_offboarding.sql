-- Client offboarding: deleting a client crypto-shreds its data key first, then purges its rows in
-- batches, and keeps a record of what was removed.
--
-- Why not `delete from clients` (what `client delete` did): one statement cascading through every
-- message a client ever sent holds its locks until the last row is gone, and until then every
-- ciphertext of that client stays readable to whoever holds the master keys. Deleting the wrapped
-- data key comes first, in its own short transaction: from then on nothing the client stored can
-- be decrypted, in this database or in any backup of it (crypto-shredding). The rows then go in
-- batches of a bounded size, children before parents, so no statement runs long; the client row
-- goes last. A client under a legal hold (the whole client or any of its contacts) is refused;
-- the holds that ended (lifted or expired) are removed just before the client row, counted in the
-- record (retention's foreign key from privacy.legal_holds keeps a client from going while any
-- hold names it, so that none is dropped unseen).
--
-- While offboarding, the client's status is 'offboarding': its API keys and users are refused
-- (only 'active' clients authenticate), no new data key can be made for it (a trigger), and the
-- sweeper keeps purging until it is gone, so a crash part way loses nothing but time.

alter table public.clients drop constraint clients_status_check;
alter table public.clients add constraint clients_status_check
  check (status in ('active', 'suspended', 'offboarding'));

create table privacy.client_offboardings (
  id uuid primary key default gen_random_uuid(),
  -- no foreign key: the record outlives the client
  client_id uuid not null unique,
  requested_by text not null check (char_length(requested_by) between 1 and 300),
  started_at timestamptz not null default now(),
  key_shredded_at timestamptz,
  finished_at timestamptz,
  -- rows removed so far, by table
  removed jsonb not null default '{}'::jsonb
);
alter table privacy.client_offboardings enable row level security;
revoke all on privacy.client_offboardings from public, anon, authenticated;
grant select on privacy.client_offboardings to privacy_staff;
grant select, insert, update on privacy.client_offboardings to service_role;
create policy client_offboardings_select_privacy_staff on privacy.client_offboardings
  for select to privacy_staff using (true);

-- no data key for a client that is leaving: anything encrypted now would outlive the shredding
create function private.refuse_key_for_leaving_client() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.clients c where c.id = new.client_id and c.status = 'offboarding')
  then
    raise exception 'client % is being offboarded: no new data key', new.client_id
      using errcode = 'GL409';
  end if;
  return new;
end
$$;
create trigger client_data_keys_not_when_leaving before insert on public.client_data_keys
  for each row execute function private.refuse_key_for_leaving_client();

/*
 * Starts offboarding a client: refuses one under a legal hold, marks it 'offboarding', revokes its
 * API keys and deletes its wrapped data key (crypto-shredding), in one transaction. Returns the
 * offboarding record; calling it again for a client already leaving returns the same record.
 */
create function public.start_client_offboarding(client_id uuid, requested_by text)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  c public.clients;
  rec privacy.client_offboardings;
begin
  select * into c from public.clients x where x.id = start_client_offboarding.client_id for update;
  if not found then
    select * into rec from privacy.client_offboardings o
     where o.client_id = start_client_offboarding.client_id;
    if found then return to_jsonb(rec); end if;
    raise exception 'no client %', start_client_offboarding.client_id using errcode = 'P0002';
  end if;
  if exists (select 1 from privacy.legal_holds h
              where h.client_id = c.id and h.lifted_at is null
                and (h.expires_at is null or h.expires_at > now())) then
    raise exception 'client % is under a legal hold: lift it before offboarding', c.id
      using errcode = 'GL423';
  end if;
  update public.clients x set status = 'offboarding' where x.id = c.id;
  update public.api_keys k set revoked_at = now() where k.client_id = c.id and k.revoked_at is null;
  delete from public.client_data_keys k where k.client_id = c.id;
  insert into privacy.client_offboardings (client_id, requested_by, key_shredded_at)
  values (c.id, start_client_offboarding.requested_by, now())
  on conflict on constraint client_offboardings_client_id_key do nothing;
  select * into rec from privacy.client_offboardings o where o.client_id = c.id;
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
  values (c.id, start_client_offboarding.requested_by, 'client.offboarding_started', 'client',
    c.id::text, jsonb_build_object('data_key', 'shredded'));
  return to_jsonb(rec);
end
$$;
revoke all on function public.start_client_offboarding(uuid, text) from public, anon, authenticated;
grant execute on function public.start_client_offboarding(uuid, text) to service_role;

-- the ended legal holds of a client being offboarded (only this may delete a hold)
create function private.remove_ended_legal_holds(p_client_id uuid) returns integer
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from privacy.legal_holds h
     where h.client_id = p_client_id
       and (h.lifted_at is not null or h.expires_at <= now())
       and exists (select 1 from public.clients c
                    where c.id = p_client_id and c.status = 'offboarding')
    returning 1
  )
  select count(*)::integer from gone
$$;
revoke all on function private.remove_ended_legal_holds(uuid) from public;
grant execute on function private.remove_ended_legal_holds(uuid) to service_role;

/*
 * Removes at most max_rows rows of a leaving client, children before parents: the tables named
 * below in that order, then any other table of the public schema with a client_id column (so a
 * table added later is purged too). The audit log is append-only and stays: its records lose
 * their client_id when the client row goes. When nothing is left, the client row goes and the
 * record is finished. Returns {done, removed (this call), total (so far)}.
 */
create function public.offboard_client_step(client_id uuid, max_rows integer default 5000)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := offboard_client_step.client_id;
  budget integer := greatest(1, least(max_rows, 50000));
  t text;
  n integer;
  this_call jsonb := '{}'::jsonb;
  total jsonb;
  ordered text[] := array[
    'message_status_events', 'webhook_deliveries', 'privacy_exports', 'consent_events',
    'messages', 'whatsapp_account_events', 'api_request_log', 'contacts', 'webhook_endpoints',
    'privacy_request_parts', 'plugin_installations', 'phone_numbers',
    'whatsapp_business_accounts', 'api_keys'
  ];
  others text[];
begin
  if not exists (select 1 from public.clients c where c.id = cid and c.status = 'offboarding') then
    return jsonb_build_object('done', not exists (select 1 from public.clients c where c.id = cid),
      'removed', '{}'::jsonb);
  end if;
  select coalesce(array_agg(c.relname::text order by c.relname), '{}') into others
    from pg_class c join pg_namespace s on s.oid = c.relnamespace
   where s.nspname = 'public' and c.relkind in ('r', 'p')
     and c.relname <> all(ordered) and c.relname not in ('clients', 'audit_log')
     and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'client_id'
                   and not a.attisdropped);
  foreach t in array ordered || others loop
    exit when budget <= 0;
    execute format(
      'with doomed as (select ctid from public.%I where client_id = $1 limit $2), '
      || 'gone as (delete from public.%I x using doomed d where x.ctid = d.ctid returning 1) '
      || 'select count(*)::integer from gone', t, t)
      into n using cid, budget;
    if n > 0 then
      this_call := this_call || jsonb_build_object(t, n);
      budget := budget - n;
    end if;
  end loop;
  -- requests the client filed: their proof goes with the client (its parts went above)
  if budget > 0 then
    with doomed as (
      select q.ctid from public.privacy_requests q where q.filing_client_id = cid limit budget
    ), gone as (
      delete from public.privacy_requests x using doomed d where x.ctid = d.ctid returning 1
    ) select count(*)::integer into n from gone;
    if n > 0 then
      this_call := this_call || jsonb_build_object('privacy_requests', n);
      budget := budget - n;
    end if;
  end if;
  update privacy.client_offboardings o set removed = (
      select coalesce(jsonb_object_agg(k, coalesce((o.removed ->> k)::bigint, 0)
        + coalesce((this_call ->> k)::bigint, 0)), '{}'::jsonb)
        from (select jsonb_object_keys(o.removed) as k
              union select jsonb_object_keys(this_call)) keys)
   where o.client_id = cid
  returning o.removed into total;
  if budget > 0 then
    -- nothing of it was left for this call's budget: the client itself goes, after the holds
    -- that ended (anything a table added since this call began goes by its foreign key)
    n := private.remove_ended_legal_holds(cid);
    if n > 0 then
      this_call := this_call || jsonb_build_object('legal_holds', n);
      update privacy.client_offboardings o
         set removed = o.removed || jsonb_build_object('legal_holds', n)
       where o.client_id = cid
      returning o.removed into total;
    end if;
    delete from public.clients c where c.id = cid;
    update privacy.client_offboardings o set finished_at = now() where o.client_id = cid;
    insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
    values (null, 'system', 'client.offboarded', 'client', cid::text,
      jsonb_build_object('removed', total));
    return jsonb_build_object('done', true, 'removed', this_call, 'total', total);
  end if;
  return jsonb_build_object('done', false, 'removed', this_call, 'total', total);
end
$$;
revoke all on function public.offboard_client_step(uuid, integer) from public, anon, authenticated;
grant execute on function public.offboard_client_step(uuid, integer) to service_role;

-- the clients still leaving (a crashed or interrupted offboarding): the sweeper finishes them
create function public.leaving_clients(max_rows integer default 10)
returns table (client_id uuid)
language sql
stable
security invoker
set search_path = ''
as $$
  select c.id from public.clients c where c.status = 'offboarding' order by c.updated_at
  limit max_rows
$$;
revoke all on function public.leaving_clients(integer) from public, anon, authenticated;
grant execute on function public.leaving_clients(integer) to service_role;
