-- Contact resolution looked a contact up with one OR of two optional conditions. PL/pgSQL caches a
-- generic plan for it after a few calls, and that plan cannot use either unique index, so every
-- inbound message and every send scanned all of the client's contacts (7.7 ms each at 25,000
-- contacts, under load). Each identifier now has its own lookup on its own unique index; the
-- number still wins over the business-scoped id, as before.

create or replace function private.find_contact(cid uuid, wa text, uid text) returns uuid
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  found_id uuid;
begin
  if wa is not null then
    select c.id into found_id from public.contacts c where c.client_id = cid and c.wa_id = wa;
    if found_id is not null then
      return found_id;
    end if;
  end if;
  if uid is not null then
    select c.id into found_id from public.contacts c where c.client_id = cid and c.user_id = uid;
  end if;
  return found_id;
end
$$;
revoke all on function private.find_contact(uuid, text, text) from public;
grant execute on function private.find_contact(uuid, text, text) to authenticated, service_role;

create or replace function private.resolve_contact(cid uuid, wa text, uid text) returns uuid
language plpgsql
security invoker
set search_path = ''
as $$
declare
  found_id uuid;
begin
  if wa is null and uid is null then
    raise exception 'a contact needs a wa_id or a user_id' using errcode = '22023';
  end if;
  found_id := private.find_contact(cid, wa, uid);
  if found_id is null then
    insert into public.contacts (client_id, wa_id, user_id) values (cid, wa, uid)
      on conflict do nothing
      returning id into found_id;
    -- null: lost a race with a concurrent insert of the same contact
    return coalesce(found_id, private.find_contact(cid, wa, uid));
  end if;
  update public.contacts c set
    wa_id = coalesce(c.wa_id, case when not exists (
      select 1 from public.contacts o where o.client_id = cid and o.wa_id = wa) then wa end),
    user_id = coalesce(c.user_id, case when not exists (
      select 1 from public.contacts o where o.client_id = cid and o.user_id = uid) then uid end)
  where c.id = found_id and ((c.wa_id is null and wa is not null) or (c.user_id is null and uid is not null));
  return found_id;
end
$$;
