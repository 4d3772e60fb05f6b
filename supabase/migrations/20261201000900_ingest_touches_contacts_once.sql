-- ingest_whatsapp_batch touched each contact with two subqueries over the batch's messages (its
-- newest profile name, its last message time), so a batch cost contacts × messages: with four
-- messages per delivery, each from a new contact, a batch of 200 deliveries read 800 messages for
-- each of 800 contacts, and PostgreSQL's CPU per delivery grew by half between batches of 100 and
-- 200 (bench/whatsapp_ingest.ts --connections 32 --events 4). What each contact learns is now summed
-- once per batch into a map the update reads, as apply_status_events does for messages. The rest
-- of the function is as in 20261201000300_set_based_enqueue.sql.

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
  contact_ids uuid[];
  -- contact id → what the batch teaches it: {"name": newest profile name, "at": last message time}
  touch jsonb;
  unresolved integer;
  inserted jsonb := '[]'::jsonb;
  applied jsonb := '[]'::jsonb;
begin
  if cid is null then
    raise exception 'ingest_whatsapp_batch needs a client JWT' using errcode = '42501';
  end if;
  if jsonb_array_length(msgs) > 0 then
    -- 1–2. each identity's contact, created or merged as needed
    contact_of := private.contacts_of(cid, msgs);

    -- 3. lock the batch's contacts in id order before updating them (the update alone would lock
    --    them in join order, and two batches sharing customers could deadlock)
    select array_agg(distinct v::uuid) into contact_ids from jsonb_each_text(contact_of) as e(k, v);
    perform 1 from public.contacts c where c.id = any(contact_ids) order by c.id for no key update;
    select jsonb_object_agg(x.contact_id::text, jsonb_build_object('name', x.name, 'at', x.at))
      into touch
      from (select (contact_of ->> (coalesce(r.wa_id, '') || '|' || coalesce(r.user_id, '')))::uuid
                as contact_id,
              (array_agg(r.profile_name_ciphertext order by r.n desc)
                filter (where r.profile_name_ciphertext is not null))[1] as name,
              max(r."timestamp") as at
            from jsonb_populate_recordset(null::private.inbound_message, msgs)
              with ordinality as r(id, phone_number_id, wa_id, user_id, profile_name_ciphertext,
                wamid, type, content_ciphertext, media, context_wamid, "timestamp", n)
           group by 1) x
     where x.contact_id is not null;

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
        profile_name_ciphertext = coalesce(touch -> c.id::text ->> 'name', c.profile_name_ciphertext),
        last_inbound_at = greatest(c.last_inbound_at, (touch -> c.id::text ->> 'at')::timestamptz)
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
      -- cannot happen: contacts_of waited for any concurrent insert of the same contact to commit
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
