-- Inbound messages were stored one at a time: per message a contact lookup, a possible contact
-- insert, a contact update and a message insert, each its own statement with its own RLS check
-- and plan. Under load that per-statement overhead was most of the database's time (0.4–0.9 ms
-- per statement, five `current_client_id()` calls per message). ingest_whatsapp_batch now stores a
-- batch with a fixed number of statements whatever its size: one insert of the contacts nobody
-- has yet, one lookup, one lock and one update of the touched contacts, one insert of the
-- messages. Contact resolution keeps its rules (the number wins over the business-scoped id; a
-- contact learns the identifier it lacked): the rare identities that teach a contact something
-- new still go through private.resolve_contact, one at a time, so the merge has one definition.
-- Every lookup is a scalar subquery or `= any(array)` on a unique index, never a join: PL/pgSQL
-- caches generic plans, and under RLS a generic join plan read all the client's contacts and
-- hash-joined them (26 ms for 100 messages at 20,000 contacts, and growing).

-- one inbound message as the app sends it (see the comment on ingest_whatsapp_batch)
create type private.inbound_message as (
  id uuid,
  phone_number_id uuid,
  wa_id text,
  user_id text,
  profile_name_ciphertext text,
  wamid text,
  type text,
  content_ciphertext text,
  media jsonb,
  context_wamid text,
  "timestamp" timestamptz
);
grant usage on type private.inbound_message to authenticated, service_role;

/*
 * Stores one client's share of a webhook delivery in one round trip: contacts (created or
 * touched, last inbound time moved forward only, the newest profile name kept), inbound messages
 * (deduplicated by wamid, also within the batch), status events (through apply_status_events)
 * and other fields.
 * batch: {"messages": [{id, phone_number_id (ours), wa_id, user_id, profile_name_ciphertext,
 *          wamid, type, content_ciphertext, media, context_wamid, timestamp}],
 *         "statuses": [...as apply_status_events...], "fields": [{waba_id, phone_number_id, field, value}]}
 * Returns {"inserted": [message ids new in this call], "statuses": [new status events]}.
 */
create or replace function public.ingest_whatsapp_batch(batch jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  msgs jsonb := coalesce(batch -> 'messages', '[]');
  -- "wa_id|user_id" (either may be empty; wa_id is digits only) → the contact's id
  contact_of jsonb;
  merges text[];
  contact_ids uuid[];
  ident text;
  unresolved integer;
  inserted jsonb := '[]'::jsonb;
  applied jsonb := '[]'::jsonb;
begin
  if cid is null then
    raise exception 'ingest_whatsapp_batch needs a client JWT' using errcode = '42501';
  end if;
  if jsonb_array_length(msgs) > 0 then
    if exists (select 1 from jsonb_populate_recordset(null::private.inbound_message, msgs) m
        where m.wa_id is null and m.user_id is null) then
      raise exception 'a contact needs a wa_id or a user_id' using errcode = '22023';
    end if;

    -- 1. contacts nobody has yet. An identity that conflicts with another in the same batch is
    --    skipped here and merged in step 2. Sorted, so that concurrent batches wait for each
    --    other's new contacts in one order and cannot deadlock.
    insert into public.contacts (client_id, wa_id, user_id)
    select distinct cid, m.wa_id, m.user_id
      from jsonb_populate_recordset(null::private.inbound_message, msgs) m
     where (select c.id from public.contacts c where c.client_id = cid and c.wa_id = m.wa_id) is null
       and (select c.id from public.contacts c where c.client_id = cid and c.user_id = m.user_id) is null
     order by m.wa_id, m.user_id
    on conflict do nothing;

    -- 2. each identity's contact, by private.find_contact's rule (the number first, then the
    --    business-scoped id), and the identities that teach their contact an identifier it lacks
    select jsonb_object_agg(x.k, coalesce((x.by_wa).id, (x.by_uid).id)),
        array_agg(x.k) filter (where ((x.by_wa).id is not null and (x.by_wa).user_id is null
          and x.user_id is not null) or ((x.by_wa).id is null and (x.by_uid).wa_id is null
          and x.wa_id is not null))
      into contact_of, merges
      from (select i.*,
              (select c from public.contacts c where c.client_id = cid and c.wa_id = i.wa_id) as by_wa,
              (select c from public.contacts c where c.client_id = cid and c.user_id = i.user_id)
                as by_uid
              from (select distinct coalesce(m.wa_id, '') || '|' || coalesce(m.user_id, '') as k,
                      m.wa_id, m.user_id
                      from jsonb_populate_recordset(null::private.inbound_message, msgs) m) i
            offset 0) x;
    -- rare (a contact known by one identifier meets the other), so one at a time through
    -- resolve_contact, which keeps the merge rules in one place; the contact's id does not change
    foreach ident in array coalesce(merges, '{}') loop
      perform private.resolve_contact(cid, nullif(split_part(ident, '|', 1), ''),
        nullif(substr(ident, strpos(ident, '|') + 1), ''));
    end loop;

    -- 3. lock the batch's contacts in id order before updating them (the update alone would lock
    --    them in join order, and two batches sharing customers could deadlock)
    select array_agg(distinct v::uuid) into contact_ids from jsonb_each_text(contact_of) as e(k, v);
    perform 1 from public.contacts c where c.id = any(contact_ids) order by c.id for no key update;

    -- 4. touch every contact once and insert every message, duplicates (by wamid) left out
    with m as (
      select r.*, (contact_of ->> (coalesce(r.wa_id, '') || '|' || coalesce(r.user_id, '')))::uuid
          as contact_id
        from jsonb_populate_recordset(null::private.inbound_message, msgs)
          with ordinality as r(id, phone_number_id, wa_id, user_id, profile_name_ciphertext,
            wamid, type, content_ciphertext, media, context_wamid, "timestamp", n)
    ),
    touched as (
      update public.contacts c set
        profile_name_ciphertext = coalesce((select m.profile_name_ciphertext from m
            where m.contact_id = c.id and m.profile_name_ciphertext is not null
            order by m.n desc limit 1), c.profile_name_ciphertext),
        last_inbound_at = greatest(c.last_inbound_at,
          (select max(m."timestamp") from m where m.contact_id = c.id))
      where c.id = any(contact_ids)
      returning c.id
    ),
    stored as (
      insert into public.messages (id, client_id, phone_number_id, contact_id, direction, wamid,
        type, content_ciphertext, media, status, recipient, context_wamid, created_at)
      select m.id, cid, m.phone_number_id, m.contact_id, 'inbound', m.wamid, m.type,
        m.content_ciphertext, m.media, 'received', coalesce(m.wa_id, m.user_id), m.context_wamid,
        m."timestamp"
        from m order by m.n
      on conflict (client_id, wamid) do nothing
      returning id
    )
    -- (touched runs whether or not it is read: data-modifying CTEs always run to completion)
    select coalesce((select jsonb_agg(stored.id) from stored), '[]'::jsonb),
        (select count(*) from m where m.contact_id is null)
      into inserted, unresolved;
    if unresolved > 0 then
      -- cannot happen: step 1 waited for any concurrent insert of the same contact to commit
      raise exception '% inbound message(s) found no contact', unresolved using errcode = 'P0001';
    end if;
  end if;
  if jsonb_array_length(coalesce(batch -> 'statuses', '[]')) > 0 then
    applied := public.apply_status_events(batch -> 'statuses');
  end if;
  insert into public.whatsapp_account_events (client_id, waba_id, phone_number_id, field, value)
  select cid, f ->> 'waba_id', f ->> 'phone_number_id', f ->> 'field', f -> 'value'
    from jsonb_array_elements(coalesce(batch -> 'fields', '[]')) f;
  return jsonb_build_object('inserted', inserted, 'statuses', applied);
end
$$;
revoke all on function public.ingest_whatsapp_batch(jsonb) from public, anon;
grant execute on function public.ingest_whatsapp_batch(jsonb) to authenticated;
