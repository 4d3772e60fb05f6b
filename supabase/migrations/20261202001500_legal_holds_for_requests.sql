-- Legal holds as the data-subject request workflow places them, on retention's table, obeyed by
-- every path that deletes.
--
-- 20261202001200_retention.sql made privacy.legal_holds minimal (a client, optionally one subject
-- named by number or user id in subject_ref, a reason, when placed and lifted) and left placing
-- and lifting holds to the request workflow. The workflow needs more, and retention must obey
-- every hold it places:
-- * kind: 'client' (everything of the client) or 'contact' (one data subject). A hold on one
--   subject names them by contact_id (the client's contact, so the number is not copied into the
--   hold, nor by the audit trigger into the audit log), by subject_ref as retention's did, or by
--   both. Existing rows keep their meaning: no subject_ref is the whole client.
-- * expires_at: a hold given an end stops holding then, without anyone lifting it.
-- * lifted_by and lift_reason: who lifted a hold and why (placed_by says who placed it).
-- * private.legal_holds_covering(client, contacts): the one definition of "held" that an erasure,
--   offboarding and the trigger below read; private.on_legal_hold is its yes or no.
-- * A trigger refuses to delete a held contact, whoever tries (an erasure, a purge, someone in
--   Studio's SQL editor), with SQLSTATE GL423 and the holds that stop it.
-- * Retention obeys the new holds: private.retention_targets (read by every per-client purge),
--   private.purge_webhook_payloads and privacy.retention_in_effect are redefined to count holds
--   on contacts and to ignore expired ones. private.purge_messages and private.purge_contacts
--   match held subjects null-safely: they kept every inbound message and nearly every contact of
--   a client with one subject held. Their other logic is unchanged.
-- The client foreign key stays restrictive (a client's deletion must not drop the holds on its
-- data silently): offboarding refuses a client under an active hold and removes the lifted ones
-- with a record (20261202001520_client_offboarding.sql).

alter table privacy.legal_holds
  add column kind text check (kind in ('client', 'contact')),
  add column contact_id uuid,
  add column expires_at timestamptz,
  add column lifted_by text check (char_length(lifted_by) between 1 and 200),
  add column lift_reason text check (char_length(lift_reason) between 1 and 1000);
update privacy.legal_holds set kind = case when subject_ref is null then 'client' else 'contact' end;
alter table privacy.legal_holds
  alter column kind set not null,
  add constraint legal_holds_client_names_no_subject
    check (kind = 'contact' or (subject_ref is null and contact_id is null)),
  add constraint legal_holds_lifted_by_when_lifted check (lifted_by is null or lifted_at is not null),
  add constraint legal_holds_expiry_after_placing check (expires_at > placed_at),
  -- a contact deleted once its hold is over leaves the record of the hold
  add constraint legal_holds_contact_fkey foreign key (client_id, contact_id)
    references public.contacts (client_id, id) on delete set null (contact_id);
-- the key's own columns: a contact's deletion finds its holds by them
create index legal_holds_contact_idx on privacy.legal_holds (client_id, contact_id);
grant usage on schema privacy to service_role;
grant select on privacy.legal_holds to service_role;

-- a hold placed without a kind is the one its subject columns describe; one on a contact names it
create function private.legal_hold_kind() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.kind := coalesce(new.kind,
    case when new.subject_ref is null and new.contact_id is null then 'client' else 'contact' end);
  if new.kind = 'contact' and new.subject_ref is null and new.contact_id is null then
    raise exception 'a hold on one data subject names them (contact_id or subject_ref)'
      using errcode = '22023';
  end if;
  return new;
end
$$;
create trigger legal_holds_kind before insert on privacy.legal_holds
  for each row execute function private.legal_hold_kind();

/*
 * The active holds (not lifted, not expired) that cover a client's whole data or any of the
 * given contacts: a hold on the contact's id, or on its number or user id (subject_ref).
 */
create function private.legal_holds_covering(p_client_id uuid, p_contact_ids uuid[] default '{}')
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(h.id order by h.placed_at, h.id), '{}')
    from privacy.legal_holds h
   where h.client_id = p_client_id and h.lifted_at is null
     and (h.expires_at is null or h.expires_at > now())
     and (h.kind = 'client'
       or h.contact_id = any(p_contact_ids)
       or h.subject_ref in (
         select v.ref from public.contacts c
           cross join lateral (values (c.wa_id), (c.user_id)) v(ref)
          where c.client_id = p_client_id and c.id = any(p_contact_ids) and v.ref is not null))
$$;
revoke all on function private.legal_holds_covering(uuid, uuid[]) from public;
grant execute on function private.legal_holds_covering(uuid, uuid[])
  to authenticated, service_role, privacy_staff;

-- whether a client (no contact) or one of its contacts is held
create function private.on_legal_hold(p_client_id uuid, p_contact_id uuid default null)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select cardinality(private.legal_holds_covering(p_client_id,
    case when p_contact_id is null then '{}'::uuid[] else array[p_contact_id] end)) > 0
$$;
revoke all on function private.on_legal_hold(uuid, uuid) from public;
grant execute on function private.on_legal_hold(uuid, uuid)
  to authenticated, service_role, privacy_staff;

-- nobody deletes a held contact: an erasure or a purge must skip it, and says which hold stops it
create function private.refuse_held_contact_delete() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  holds uuid[] := private.legal_holds_covering(old.client_id, array[old.id]);
begin
  if cardinality(holds) > 0 then
    raise exception 'contact % is under a legal hold (%)', old.id, array_to_string(holds, ', ')
      using errcode = 'GL423',
        hint = 'privacy.active_legal_holds says why; privacy.lift_legal_hold lifts a hold';
  end if;
  return old;
end
$$;
create trigger contacts_keep_held before delete on public.contacts
  for each row execute function private.refuse_held_contact_delete();

-- retention obeys the holds the workflow places ---------------------------------------------------

/*
 * As in 20261202001200_retention.sql, with holds on contacts (their number and user id join the
 * held subjects) and without expired holds.
 */
create or replace function private.retention_targets(p_class text)
returns table (client_id uuid, cutoff timestamptz, held_subjects text[])
language sql
stable
set search_path = ''
as $$
  select c.id, now() - coalesce(p.keep_for, k.default_keep),
      case when k.subject_hold = 'rows' then h.subjects end
    from privacy.retention_classes k
    cross join public.clients c
    left join privacy.retention_policies p on p.client_id = c.id and p.data_class = k.data_class
    left join lateral (
      select bool_or(l.kind = 'client') as whole_client,
          bool_or(l.kind = 'contact') as any_subject,
          array_agg(distinct s.ref) filter (where s.ref is not null) as subjects
        from privacy.legal_holds l
        left join public.contacts hc on hc.client_id = l.client_id and hc.id = l.contact_id
        cross join lateral (values (l.subject_ref), (hc.wa_id), (hc.user_id)) s(ref)
       where l.client_id = c.id and l.lifted_at is null
         and (l.expires_at is null or l.expires_at > now())
    ) h on true
   where k.data_class = p_class
     and not coalesce(h.whole_client, false)
     and not (k.subject_hold = 'client' and coalesce(h.any_subject, false))
$$;

/*
 * As in 20261202001200_retention.sql, matching held subjects null-safely: `x = any(held)` is null
 * when x is null, and `not (null or false)` is null, which kept the row. An inbound message names
 * no recipient and most contacts have a number or a user id, not both, so one held subject kept
 * every inbound message and nearly every contact of the client.
 */
create or replace function private.purge_messages(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select m.id
      from private.retention_targets('messages') t
      cross join lateral (
        select m.id from public.messages m
         where m.client_id = t.client_id and m.created_at < t.cutoff
           and m.status not in ('queued', 'sending')
           and (t.held_subjects is null or not (coalesce(m.recipient = any (t.held_subjects), false)
             or exists (select 1 from public.contacts c
                         where c.client_id = m.client_id and c.id = m.contact_id
                           and (c.wa_id = any (t.held_subjects) or c.user_id = any (t.held_subjects)))))
         order by m.created_at
         limit max_rows
         for update skip locked
      ) m
     limit max_rows
  ), gone as (
    delete from public.messages m using doomed d where m.id = d.id returning m.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;

create or replace function private.purge_contacts(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select c.id
      from private.retention_targets('contacts') t
      cross join lateral (
        select c.id from public.contacts c
         where c.client_id = t.client_id and c.created_at < t.cutoff
           and greatest(c.updated_at, c.last_inbound_at, c.last_outbound_at,
             c.consent_updated_at) < t.cutoff
           and c.consent_status <> 'opted_out'
           and not exists (select 1 from public.messages m where m.contact_id = c.id)
           and (t.held_subjects is null
             or not (coalesce(c.wa_id = any (t.held_subjects), false)
               or coalesce(c.user_id = any (t.held_subjects), false)))
         limit max_rows
         for update skip locked
      ) c
     limit max_rows
  ), gone as (
    delete from public.contacts c using doomed d where c.id = d.id returning c.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;

-- as in 20261202001200_retention.sql, without expired holds
create or replace function private.purge_webhook_payloads(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with holding as (
    select l.client_id from privacy.legal_holds l
     where l.lifted_at is null and (l.expires_at is null or l.expires_at > now())
  ), held_routes as (
    -- a delivery names no client, only the number (else the WABA) it came for
    select p.phone_number_id as route from public.phone_numbers p
     where p.client_id in (select client_id from holding)
    union
    select w.waba_id from public.whatsapp_business_accounts w
     where w.client_id in (select client_id from holding)
  ), doomed as (
    select i.id from public.webhook_inbox i
     -- Meta retries a delivery for up to 7 days: a processed one (its payload already dropped)
     -- stays that long so that a retry is still known; one set aside for operators keeps its
     -- payload for the class's period (at least 7 days, so the first condition holds for both)
     where i.received_at < now() - interval '7 days'
       and i.processed_at < case when i.last_error is null then now() - interval '7 days'
                                 else private.retention_cutoff('raw_webhook_payloads') end
       and (i.route_key is null
         or not exists (select 1 from held_routes r where r.route = i.route_key))
     limit max_rows
     for update skip locked
  ), gone as (
    delete from public.webhook_inbox i using doomed d where i.id = d.id returning 1
  )
  select null::uuid, count(*) from gone having count(*) > 0
$$;

-- as in 20261202001200_retention.sql, counting holds by their kind and leaving out expired ones
create or replace view privacy.retention_in_effect with (security_invoker = true) as
  select c.id as client_id, c.name as client_name, k.data_class,
      coalesce(p.keep_for, k.default_keep) as keep_for, p.keep_for is not null as client_policy,
      exists (select 1 from privacy.legal_holds l
               where l.client_id = c.id and l.lifted_at is null and l.kind = 'client'
                 and (l.expires_at is null or l.expires_at > now()))
        as client_on_hold,
      (select count(*) from privacy.legal_holds l
        where l.client_id = c.id and l.lifted_at is null and l.kind = 'contact'
          and (l.expires_at is null or l.expires_at > now()))
        as subjects_on_hold
    from public.clients c
    cross join privacy.retention_classes k
    left join privacy.retention_policies p on p.client_id = c.id and p.data_class = k.data_class
   where k.per_client
  union all
  select null, null, k.data_class, k.default_keep, false, false, 0
    from privacy.retention_classes k
   where not k.per_client;

comment on table privacy.legal_holds is
  'Legal holds: while one is active (not lifted, not past expires_at), nothing it covers is '
  'deleted. kind client covers everything of the client: retention skips it and it cannot be '
  'offboarded. kind contact covers one data subject (contact_id, or subject_ref): retention keeps '
  'their rows, an erasure of them waits (its part is held) and the contact cannot be deleted. '
  'Place and lift holds with privacy.place_legal_hold and privacy.lift_legal_hold.';
comment on column privacy.legal_holds.subject_ref is
  'The data subject held, as WhatsApp identifies them: their number''s digits (wa_id) or their '
  'business-scoped user id. Null for a hold on the whole client or one named by contact_id.';
comment on column privacy.legal_holds.placed_by is
  'Who placed the hold: the staff member privacy.place_legal_hold was called by, else the '
  'database role.';
comment on column privacy.legal_holds.lifted_at is
  'When the hold was lifted; what it held may be deleted from then on. Null while it holds.';
comment on column privacy.legal_holds.kind is
  'client (all of the client''s data) or contact (one data subject''s).';
comment on column privacy.legal_holds.contact_id is
  'The held contact, for a hold of kind contact placed on one (null once the contact was deleted '
  'after the hold ended).';
comment on column privacy.legal_holds.expires_at is
  'When the hold stops by itself, if it was given an end; otherwise it holds until lifted.';
comment on column privacy.legal_holds.lifted_by is 'The staff member who lifted the hold.';
comment on column privacy.legal_holds.lift_reason is 'Why the hold was lifted.';
comment on function private.legal_hold_kind() is
  'Trigger: a hold placed without a kind gets the one its subject columns describe; a hold on '
  'one data subject must name them.';
comment on function private.legal_holds_covering(uuid, uuid[]) is
  'The active legal holds (not lifted, not expired) covering the client''s whole data or any of '
  'the given contacts (by id, number or user id). Every path that erases reads this.';
comment on function private.on_legal_hold(uuid, uuid) is
  'Whether a legal hold covers the client''s whole data (no contact given) or the contact.';
comment on function private.refuse_held_contact_delete() is
  'Trigger: refuses to delete a contact a legal hold covers (SQLSTATE GL423, naming the holds).';
comment on function private.retention_targets(text) is
  'For one data class: each client whose data may be purged now, the cutoff before which its rows '
  'are expired (its policy, else the class default) and the data subjects under a legal hold (by '
  'subject_ref, or the number and user id of a held contact). Expired holds hold nothing.';
