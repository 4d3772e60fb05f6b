-- Message templates. Outside the 24-hour window a business can only send an approved template, and
-- a wrong name, language or parameter count was only found out when Meta refused the send
-- (132000-132016) after it was queued. Each client's templates are now kept here, per WhatsApp
-- Business account, as Meta holds them: a template send is checked against them before it is
-- queued, and clients list, create and delete them through /v1/templates.
--
-- The store is a copy, kept current three ways (src/services/templates.ts):
--   - a full sync: every page of GET /{waba_id}/message_templates, when an account is connected
--     (an account never synced is due at once), on request, and on a schedule (the sweeper asks
--     due_template_syncs); rows are written a page at a time (upsert_message_templates) and the
--     ones Meta no longer lists are deleted at the end (finish_template_sync);
--   - Meta's template webhooks (status, quality, category), applied as they are ingested
--     (apply_template_events);
--   - before a send is refused: one sync, at most one per account per short interval
--     (claim_template_sync holds the interval and a lease, across isolates).
-- A row whose content did not change is not rewritten, so a second sync of an unchanged account
-- changes nothing (no new row versions, the same updated_at).
--
-- Tenancy as everywhere: client_id on both tables, RLS with one policy per operation and role,
-- references by (client_id, id), so a row can only name an account of its own client. The
-- functions run as the caller (security invoker): the edge calls them under the client's JWT.

create table public.message_templates (
  id uuid primary key default gen_random_uuid(),
  client_id uuid not null references public.clients (id) on delete cascade,
  waba_account_id uuid not null,
  -- Meta's id of this template in this language
  meta_template_id text not null check (meta_template_id ~ '^[0-9]{1,32}$'),
  name text not null check (name ~ '^[a-z0-9_]+$' and char_length(name) <= 512),
  language text not null check (language ~ '^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$'),
  -- Meta's words (MARKETING, UTILITY, AUTHENTICATION, PAUSED, GREEN, ...), kept as Meta says them:
  -- Meta adds values now and then, and a copy must not refuse them
  category text check (char_length(category) between 1 and 40),
  status text not null check (char_length(status) between 1 and 40),
  quality_score text check (char_length(quality_score) between 1 and 40),
  parameter_format text not null default 'POSITIONAL'
    check (parameter_format in ('POSITIONAL', 'NAMED')),
  -- Meta's component definitions; null while the template is known only from a webhook (until the
  -- sync that webhook asks for)
  components jsonb check (components is null or jsonb_typeof(components) = 'array'),
  rejected_reason text check (char_length(rejected_reason) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint message_templates_waba_account_id_fkey foreign key (client_id, waba_account_id)
    references public.whatsapp_business_accounts (client_id, id) on delete cascade,
  -- Meta keeps one template per name and language in an account
  constraint message_templates_name_language_key unique (client_id, waba_account_id, name, language)
);
alter table public.message_templates enable row level security;
-- listings page by (name, language, id) within a client
create index message_templates_client_id_idx on public.message_templates
  (client_id, name, language, id);
-- deletes cascading from an account
create index message_templates_waba_account_id_idx on public.message_templates (waba_account_id);
create trigger message_templates_touch before update on public.message_templates
  for each row execute function private.touch_updated_at();

grant select, insert, update, delete on public.message_templates to authenticated;
grant all on public.message_templates to service_role;
grant select on public.message_templates to privacy_staff;

create policy message_templates_select_own on public.message_templates for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy message_templates_insert_own on public.message_templates for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy message_templates_update_own on public.message_templates for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));
create policy message_templates_delete_own on public.message_templates for delete
  to authenticated using (client_id = (select private.current_client_id()));
create policy message_templates_select_privacy_staff on public.message_templates for select
  to privacy_staff using (true);

-- One row per account that has been synced or asked to be: when, whether a sync holds it now
-- (locked_until), and whether a webhook named a template the store lacks (requested_at).
create table public.message_template_syncs (
  waba_account_id uuid primary key,
  client_id uuid not null references public.clients (id) on delete cascade,
  last_synced_at timestamptz,
  last_attempt_at timestamptz,
  locked_until timestamptz,
  requested_at timestamptz,
  last_error text check (char_length(last_error) <= 500),
  -- how many templates the last complete sync found
  templates integer check (templates >= 0),
  constraint message_template_syncs_waba_account_id_fkey foreign key (client_id, waba_account_id)
    references public.whatsapp_business_accounts (client_id, id) on delete cascade
);
alter table public.message_template_syncs enable row level security;
-- the policies' column first; with the account it also covers the (client_id, waba_account_id) key
create index message_template_syncs_client_id_idx on public.message_template_syncs
  (client_id, waba_account_id);

grant select, insert (waba_account_id, client_id, requested_at),
  update (last_synced_at, last_attempt_at, locked_until, requested_at, last_error, templates)
  on public.message_template_syncs to authenticated;
grant all on public.message_template_syncs to service_role;

create policy message_template_syncs_select_own on public.message_template_syncs for select
  to authenticated using (client_id = (select private.current_client_id()));
create policy message_template_syncs_insert_own on public.message_template_syncs for insert
  to authenticated with check (client_id = (select private.current_client_id()));
create policy message_template_syncs_update_own on public.message_template_syncs for update
  to authenticated using (client_id = (select private.current_client_id()))
  with check (client_id = (select private.current_client_id()));

/*
 * Takes the caller's account for one sync: a lease of lease_seconds, granted when no other sync
 * holds it and none was attempted in the last min_interval_seconds (the bound on syncs asked for
 * by sends and by hand). Answers {claimed, started_at, last_synced_at}; started_at is the
 * database's clock, which finish_template_sync compares creation times with.
 */
create function public.claim_template_sync(
  waba_account uuid,
  min_interval_seconds integer,
  lease_seconds integer
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  s public.message_template_syncs;
begin
  if not exists (select 1 from public.whatsapp_business_accounts a
      where a.id = waba_account and a.client_id = cid) then
    return jsonb_build_object('claimed', false, 'reason', 'unknown_account');
  end if;
  insert into public.message_template_syncs (waba_account_id, client_id)
  values (waba_account, cid)
  on conflict (waba_account_id) do nothing;
  update public.message_template_syncs t
     set locked_until = now() + make_interval(secs => greatest(lease_seconds, 1)),
         last_attempt_at = now()
   where t.waba_account_id = waba_account and t.client_id = cid
     and (t.locked_until is null or t.locked_until < now())
     and (t.last_attempt_at is null
       or t.last_attempt_at <= now() - make_interval(secs => greatest(min_interval_seconds, 0)))
  returning t.* into s;
  if found then
    return jsonb_build_object('claimed', true, 'started_at', now(),
      'last_synced_at', s.last_synced_at);
  end if;
  select * into s from public.message_template_syncs t where t.waba_account_id = waba_account;
  return jsonb_build_object('claimed', false,
    'reason', case when s.locked_until >= now() then 'in_progress' else 'recent' end,
    'last_synced_at', s.last_synced_at);
end
$$;
revoke all on function public.claim_template_sync(uuid, integer, integer) from public, anon;
grant execute on function public.claim_template_sync(uuid, integer, integer) to authenticated;

/*
 * Writes one page of an account's templates as Meta lists them ([{meta_template_id, name,
 * language, category, status, quality_score, parameter_format, components, rejected_reason}], at
 * most 1,000): new ones are inserted, changed ones updated, the rest left alone. Answers the
 * counts and, for templates already stored whose status or quality changed, the change (what a
 * client webhook tells).
 */
create function public.upsert_message_templates(waba_account uuid, templates jsonb)
returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  result jsonb;
begin
  if jsonb_typeof(templates) is distinct from 'array' or jsonb_array_length(templates) > 1000 then
    raise exception 'templates must be an array of at most 1000 templates' using errcode = '22023';
  end if;
  if not exists (select 1 from public.whatsapp_business_accounts a
      where a.id = waba_account and a.client_id = cid) then
    raise exception 'no such WhatsApp Business account for this client' using errcode = '22023';
  end if;
  with input as (
    -- a name and language once per page, whatever the page holds (the upsert may touch a row once)
    select distinct on (t.name, t.language) t.*
      from jsonb_to_recordset(templates) as t(meta_template_id text, name text, language text,
        category text, status text, quality_score text, parameter_format text, components jsonb,
        rejected_reason text)
     order by t.name, t.language
  ), before as (
    select m.id, m.name, m.language, m.status, m.quality_score
      from public.message_templates m join input i on i.name = m.name and i.language = m.language
     where m.client_id = cid and m.waba_account_id = waba_account
  ), written as (
    insert into public.message_templates as m (client_id, waba_account_id, meta_template_id, name,
        language, category, status, quality_score, parameter_format, components, rejected_reason)
    select cid, waba_account, i.meta_template_id, i.name, i.language, i.category, i.status,
        i.quality_score, coalesce(i.parameter_format, 'POSITIONAL'), i.components,
        i.rejected_reason
      from input i
    on conflict (client_id, waba_account_id, name, language) do update
       set meta_template_id = excluded.meta_template_id, category = excluded.category,
           status = excluded.status, quality_score = excluded.quality_score,
           parameter_format = excluded.parameter_format, components = excluded.components,
           rejected_reason = excluded.rejected_reason
     where (m.meta_template_id, m.category, m.status, m.quality_score, m.parameter_format,
            m.components, m.rejected_reason)
       is distinct from (excluded.meta_template_id, excluded.category, excluded.status,
            excluded.quality_score, excluded.parameter_format, excluded.components,
            excluded.rejected_reason)
    returning m.id, m.name, m.language, m.category, m.status, m.quality_score,
      m.rejected_reason
  )
  select jsonb_build_object(
      'inserted', count(*) filter (where b.id is null),
      'updated', count(*) filter (where b.id is not null),
      'changes', coalesce(jsonb_agg(jsonb_build_object('id', w.id, 'name', w.name,
          'language', w.language, 'category', w.category, 'status', w.status,
          'previous_status', b.status, 'quality_score', w.quality_score,
          'previous_quality_score', b.quality_score, 'reason', w.rejected_reason))
        filter (where b.id is not null and (b.status is distinct from w.status
          or b.quality_score is distinct from w.quality_score)), '[]'::jsonb))
    into result
    from written w left join before b on b.id = w.id;
  return result;
end
$$;
revoke all on function public.upsert_message_templates(uuid, jsonb) from public, anon;
grant execute on function public.upsert_message_templates(uuid, jsonb) to authenticated;

/*
 * Ends the caller's sync of an account. After a complete listing (sync_error null) the templates
 * Meta no longer lists are deleted, those created since the sync started excepted (a template
 * created meanwhile may not be listed yet), and the deleted ones are answered; after a failure
 * only the error is kept. Either way the lease is let go.
 */
create function public.finish_template_sync(
  waba_account uuid,
  seen text[],
  started_at timestamptz,
  sync_error text,
  templates_found integer
) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  deleted jsonb := '[]'::jsonb;
begin
  if sync_error is null then
    with gone as (
      delete from public.message_templates m
       where m.client_id = cid and m.waba_account_id = waba_account
         and m.created_at < started_at
         and not exists (select 1 from unnest(seen) as s(v) where s.v = m.meta_template_id)
      returning m.id, m.name, m.language, m.category, m.status
    )
    select coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name,
        'language', g.language, 'category', g.category, 'previous_status', g.status)), '[]'::jsonb)
      into deleted from gone g;
    update public.message_template_syncs t
       set last_synced_at = now(), locked_until = null, last_error = null, requested_at = null,
           templates = templates_found
     where t.waba_account_id = waba_account and t.client_id = cid;
  else
    update public.message_template_syncs t
       set locked_until = null, last_error = left(sync_error, 500)
     where t.waba_account_id = waba_account and t.client_id = cid;
  end if;
  return jsonb_build_object('deleted', deleted);
end
$$;
revoke all on function public.finish_template_sync(uuid, text[], timestamptz, text, integer)
  from public, anon;
grant execute on function public.finish_template_sync(uuid, text[], timestamptz, text, integer)
  to authenticated;

/*
 * Applies Meta's template webhooks for the caller, in order: [{waba_id, kind: status | quality |
 * category, meta_template_id, name, language, status, reason, category, quality_score}]. A status
 * for a template the store lacks adds it without components; anything about a template the store
 * lacks asks for a sync of its account. Answers the changes made (what client webhooks tell) and
 * the accounts to sync.
 */
create function public.apply_template_events(events jsonb) returns jsonb
language plpgsql
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  e record;
  account uuid;
  t public.message_templates;
  changes jsonb := '[]'::jsonb;
  to_sync uuid[] := '{}'::uuid[];
begin
  if jsonb_typeof(events) is distinct from 'array' or jsonb_array_length(events) > 10000 then
    raise exception 'events must be an array of at most 10000 events' using errcode = '22023';
  end if;
  for e in
    select * from jsonb_to_recordset(events) as x(waba_id text, kind text,
      meta_template_id text, name text, language text, status text, reason text, category text,
      quality_score text)
  loop
    select a.id into account from public.whatsapp_business_accounts a
     where a.client_id = cid and a.waba_id = e.waba_id;
    continue when account is null;
    select * into t from public.message_templates m
     where m.client_id = cid and m.waba_account_id = account
       and ((e.name is not null and m.name = e.name and m.language = e.language)
         or (e.name is null and m.meta_template_id = e.meta_template_id))
     limit 1;
    -- an event that does not say the status (FLAGGED, UNARCHIVED, ...): ask Meta
    if e.kind = 'status' and e.status is null then
      to_sync := array_append(to_sync, account);
      continue;
    end if;
    if t.id is null then
      if e.kind = 'status' and e.meta_template_id ~ '^[0-9]{1,32}$'
          and e.name ~ '^[a-z0-9_]+$' and char_length(e.name) <= 512
          and e.language ~ '^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$' then
        insert into public.message_templates (client_id, waba_account_id, meta_template_id, name,
            language, category, status, rejected_reason)
        values (cid, account, e.meta_template_id, e.name, e.language, e.category, e.status,
            e.reason)
        returning * into t;
        changes := changes || jsonb_build_object('kind', 'status', 'waba_id', e.waba_id,
          'id', t.id, 'name', t.name, 'language', t.language, 'category', t.category,
          'status', t.status, 'previous_status', null, 'reason', t.rejected_reason);
      end if;
      to_sync := array_append(to_sync, account);
      continue;
    end if;
    if e.kind = 'status'
        and (t.status, t.rejected_reason) is distinct from (e.status, e.reason) then
      update public.message_templates m
         set status = e.status, rejected_reason = e.reason,
             category = coalesce(e.category, m.category),
             meta_template_id = coalesce(e.meta_template_id, m.meta_template_id)
       where m.id = t.id;
      if t.status is distinct from e.status then
        changes := changes || jsonb_build_object('kind', 'status', 'waba_id', e.waba_id,
          'id', t.id, 'name', t.name, 'language', t.language,
          'category', coalesce(e.category, t.category), 'status', e.status,
          'previous_status', t.status, 'reason', e.reason);
      end if;
    elsif e.kind = 'quality' and e.quality_score is not null
        and t.quality_score is distinct from e.quality_score then
      update public.message_templates m set quality_score = e.quality_score where m.id = t.id;
      changes := changes || jsonb_build_object('kind', 'quality', 'waba_id', e.waba_id,
        'id', t.id, 'name', t.name, 'language', t.language, 'category', t.category,
        'status', t.status, 'quality_score', e.quality_score,
        'previous_quality_score', t.quality_score);
    elsif e.kind = 'category' and e.category is not null
        and t.category is distinct from e.category then
      update public.message_templates m set category = e.category where m.id = t.id;
    end if;
  end loop;
  if cardinality(to_sync) > 0 then
    insert into public.message_template_syncs (waba_account_id, client_id, requested_at)
    select distinct s, cid, now() from unnest(to_sync) as s
    on conflict (waba_account_id) do update set requested_at = now();
  end if;
  return jsonb_build_object('changes', changes,
    'sync', (select coalesce(jsonb_agg(distinct s), '[]'::jsonb) from unnest(to_sync) as s));
end
$$;
revoke all on function public.apply_template_events(jsonb) from public, anon;
grant execute on function public.apply_template_events(jsonb) to authenticated;

/*
 * What a template send is checked against, in one round trip: the sending number's account (the
 * number named, else the caller's only number; null when there is no such number or several),
 * the template of that name and language there, the languages the name exists in, and when the
 * account was last synced. First, whether the send's Idempotency-Key already names a message
 * (`queued`): then the enqueue answers with that message (or refuses another body with the key),
 * whatever became of the template since, so the check is not made; asked here, it costs the
 * send no round trip of its own.
 */
create function public.template_for_send(
  phone text,
  template_name text,
  template_language text,
  idempotency_key text default null
) returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  cid uuid := private.current_client_id();
  account uuid;
  phones integer;
begin
  if template_for_send.idempotency_key is not null and exists (
      select 1 from public.messages m
       where m.client_id = cid and m.idempotency_key = template_for_send.idempotency_key) then
    return jsonb_build_object('account_id', null, 'queued', true);
  end if;
  if phone is not null then
    select p.waba_account_id into account from public.phone_numbers p
     where p.client_id = cid and p.phone_number_id = phone;
  else
    select count(*), min(p.waba_account_id::text)::uuid into phones, account
      from (select p.waba_account_id from public.phone_numbers p where p.client_id = cid
             limit 2) p;
    if phones <> 1 then account := null; end if;
  end if;
  if account is null then
    return jsonb_build_object('account_id', null);
  end if;
  return jsonb_build_object(
    'account_id', account,
    'last_synced_at', (select s.last_synced_at from public.message_template_syncs s
      where s.waba_account_id = account),
    'template', (select to_jsonb(m) - 'client_id' from public.message_templates m
      where m.client_id = cid and m.waba_account_id = account and m.name = template_name
        and m.language = template_language),
    'languages', (select coalesce(jsonb_agg(m.language order by m.language), '[]'::jsonb)
      from (select m.language from public.message_templates m
             where m.client_id = cid and m.waba_account_id = account and m.name = template_name
             order by m.language limit 50) m));
end
$$;
revoke all on function public.template_for_send(text, text, text, text) from public, anon;
grant execute on function public.template_for_send(text, text, text, text) to authenticated;

/*
 * Accounts whose templates are due a sync (service role only, for the sweeper): never synced (a
 * newly connected account), asked for by a webhook, or last synced more than interval_seconds
 * ago; none that a sync holds, nor one attempted in the last retry_seconds (a failing account is
 * retried that often, not every sweep). Only accounts with an access token. In turns per client.
 */
create function public.due_template_syncs(
  max_rows integer,
  interval_seconds integer,
  retry_seconds integer
) returns table (client_id uuid, waba_account_id uuid)
language sql
stable
security invoker
set search_path = ''
as $$
  select x.client_id, x.id from (
    select a.client_id, a.id, s.last_synced_at,
        row_number() over (partition by a.client_id
          order by s.last_synced_at nulls first, a.id) as turn
      from public.whatsapp_business_accounts a
      left join public.message_template_syncs s on s.waba_account_id = a.id
     where a.access_token_ciphertext is not null
       and (s.locked_until is null or s.locked_until < now())
       and (s.last_attempt_at is null
         or s.last_attempt_at < now() - make_interval(secs => retry_seconds))
       and (s.last_synced_at is null or s.requested_at is not null
         or s.last_synced_at < now() - make_interval(secs => interval_seconds))
  ) x
  order by x.turn, x.last_synced_at nulls first, x.id
  limit max_rows
$$;
revoke all on function public.due_template_syncs(integer, integer, integer)
  from public, anon, authenticated;
grant execute on function public.due_template_syncs(integer, integer, integer) to service_role;
