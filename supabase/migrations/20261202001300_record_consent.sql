-- A consent decision is one fact: the contact's status, a line of its consent history and an audit
-- record. Written as three PostgREST calls (four when the contact was new), a failure between them
-- left a contact opted out without history, or history and an audit record of a change that never
-- happened. public.record_consent makes it one transaction, under the caller's row-level security;
-- the API's PUT /v1/contacts/{contact}/consent and the opt-out keywords plugin both call it.

create function public.record_consent(contact jsonb, consent jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  decided text := consent ->> 'status';
  target uuid;
  before text;
  after public.contacts;
begin
  if cid is null then
    raise exception 'record_consent needs a client JWT' using errcode = '42501';
  end if;
  if decided is null or decided not in ('opted_in', 'opted_out') then
    raise exception 'consent status must be opted_in or opted_out' using errcode = '22023';
  end if;
  if contact ? 'id' then
    -- an id names a contact that exists: none, and nothing is recorded
    target := (select c.id from public.contacts c
                where c.client_id = cid and c.id = (contact ->> 'id')::uuid);
    if target is null then
      return null;
    end if;
  else
    -- a number or a user id names the contact, creating it when nobody has it yet
    target := private.resolve_contact(cid, contact ->> 'wa_id', contact ->> 'user_id');
  end if;
  -- locked, so that two decisions at once each see the other's outcome as their `previous`
  select c.consent_status into before from public.contacts c where c.id = target
    for no key update;

  update public.contacts c set
    consent_status = decided,
    consent_source = consent ->> 'source',
    consent_updated_at = now()
  where c.id = target
  returning c.* into after;
  insert into public.consent_events (client_id, contact_id, status, source, actor)
  values (cid, target, decided, consent ->> 'source', consent ->> 'actor');
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details,
    request_id)
  values (cid, consent ->> 'actor', 'contact.' || decided, 'contact', target::text,
    jsonb_build_object('source', consent ->> 'source', 'previous', before),
    consent ->> 'request_id');

  return jsonb_build_object('previous', before, 'contact', jsonb_build_object(
    'id', after.id, 'wa_id', after.wa_id, 'user_id', after.user_id,
    'profile_name_ciphertext', after.profile_name_ciphertext,
    'consent_status', after.consent_status, 'consent_source', after.consent_source,
    'consent_updated_at', after.consent_updated_at, 'last_inbound_at', after.last_inbound_at,
    'created_at', after.created_at));
end
$$;
revoke all on function public.record_consent(jsonb, jsonb) from public;
grant execute on function public.record_consent(jsonb, jsonb) to authenticated;
