-- Retention for every class of personal data we keep, per client, on a schedule.
--
-- Until now only the webhook inbox and client webhook deliveries were purged, each with a fixed
-- period written in its function. The privacy policy promises that data is kept only as long as
-- needed and then deleted, so each class of data now has:
-- * a documented default period and the bounds a client's own policy may choose within
--   (privacy.retention_classes; docs/retention.md says why each default is what it is),
-- * per-client policies (privacy.retention_policies), changes to which are audited,
-- * a purge function that deletes one bounded batch (at most max_rows rows, skipping rows another
--   transaction holds), so no purge takes a long lock; a pass runs one batch per class, and
--   private.run_retention commits after each pass until every class is drained,
-- * legal holds (privacy.legal_holds): while a hold on a client is active nothing of that client is
--   purged; a hold on one data subject keeps that subject's rows, or the client's whole class
--   where rows cannot be told apart by subject (retention_classes.subject_hold),
-- * a record of every run: class, rows, time spent deleting, rows per client
--   (privacy.retention_runs).
-- Two schedulers drive the same passes, and an advisory lock keeps them from overlapping: pg_cron,
-- where the extension exists (a job registered below, or by private.schedule_retention() once an
-- operator enables pg_cron later), and the app's sweeper (Workers Cron Trigger, Deno's timer),
-- which calls public.run_retention on every sweep. A class starts a run when its run_every has
-- passed since its last one; a run continues over passes until the class is drained.
-- pg_cron's own run history (cron.job_run_details, never purged by pg_cron) is one of the classes.
--
-- privacy.legal_holds is defined minimally here (id, client, subject, reason, who placed it, when,
-- when lifted): the data-subject request workflow owns placing and lifting holds.
--
-- public.purge_webhook_inbox and public.purge_webhook_deliveries are dropped: they ignored legal
-- holds and client policies, and a second way to purge would too.
--
-- New indexes, for purges that must not read whole tables: BRIN on message_status_events
-- (received_at), which costs an append almost nothing; the request log rows that still carry an IP
-- address or user agent, per client; audit rows of no client by time.

create schema if not exists privacy;
comment on schema privacy is
  'Privacy staff''s schema: retention classes and per-client retention policies, legal holds, and '
  'the record of every retention run. Not exposed through the API.';
revoke all on schema privacy from public;
grant usage on schema privacy to privacy_staff;

-- classes --------------------------------------------------------------------------------------------

create table privacy.retention_classes (
  data_class text primary key check (data_class ~ '^[a-z][a-z0-9_]{1,62}$'),
  description text not null,
  default_keep interval not null,
  minimum_keep interval not null,
  maximum_keep interval not null,
  per_client boolean not null,
  subject_hold text not null check (subject_hold in ('rows', 'client', 'none')),
  run_every interval not null check (run_every >= interval '1 minute'),
  purge_function text,
  basis text not null,
  check (minimum_keep > interval '0' and minimum_keep <= default_keep
    and default_keep <= maximum_keep)
);
alter table privacy.retention_classes enable row level security;
grant select on privacy.retention_classes to privacy_staff;
create policy retention_classes_select_privacy_staff on privacy.retention_classes
  for select to privacy_staff using (true);

comment on table privacy.retention_classes is
  'One row per class of data we keep: what it holds, how long it is kept unless a client''s policy '
  'says otherwise, the bounds such a policy must stay within, and why. docs/retention.md explains '
  'each default.';
comment on column privacy.retention_classes.data_class is 'Name of the class of data.';
comment on column privacy.retention_classes.description is
  'What rows the class covers and what "expired" means for them.';
comment on column privacy.retention_classes.default_keep is
  'How long data of this class is kept when the client has no policy of its own.';
comment on column privacy.retention_classes.minimum_keep is
  'The shortest period a client policy may set (a legal or operational minimum).';
comment on column privacy.retention_classes.maximum_keep is
  'The longest period a client policy may set.';
comment on column privacy.retention_classes.per_client is
  'Whether a client may have its own period (false: one period for the whole platform).';
comment on column privacy.retention_classes.subject_hold is
  'What a legal hold on one data subject keeps: rows = that subject''s rows; client = the '
  'client''s whole class (its rows cannot be told apart by subject); none = nothing (the rows hold '
  'nothing about data subjects). A hold on a whole client always keeps everything of it.';
comment on column privacy.retention_classes.run_every is
  'How often a retention run of this class starts; a run continues until the class is drained.';
comment on column privacy.retention_classes.purge_function is
  'The function that deletes one batch: signature (max_rows integer) returning table (client_id '
  'uuid, deleted bigint). Null while no code owns the data yet: the class is then skipped.';
comment on column privacy.retention_classes.basis is 'Why the default period is what it is.';

-- policies ---------------------------------------------------------------------------------------------

create table privacy.retention_policies (
  client_id uuid not null references public.clients (id) on delete cascade,
  data_class text not null references privacy.retention_classes (data_class),
  keep_for interval not null,
  reason text not null check (char_length(reason) between 1 and 500),
  set_by text not null default current_user,
  set_at timestamptz not null default now(),
  primary key (client_id, data_class)
);
create index retention_policies_class_idx on privacy.retention_policies (data_class);
alter table privacy.retention_policies enable row level security;
grant select, insert, update, delete on privacy.retention_policies to privacy_staff;
create policy retention_policies_select_privacy_staff on privacy.retention_policies
  for select to privacy_staff using (true);
create policy retention_policies_insert_privacy_staff on privacy.retention_policies
  for insert to privacy_staff with check (set_by = current_user);
create policy retention_policies_update_privacy_staff on privacy.retention_policies
  for update to privacy_staff using (true) with check (set_by = current_user);
create policy retention_policies_delete_privacy_staff on privacy.retention_policies
  for delete to privacy_staff using (true);

comment on table privacy.retention_policies is
  'A client''s own retention period for one class of data, instead of the class default. Every '
  'change is written to public.audit_log.';
comment on column privacy.retention_policies.client_id is 'The client the policy applies to.';
comment on column privacy.retention_policies.data_class is 'The class of data it applies to.';
comment on column privacy.retention_policies.keep_for is
  'How long this client''s data of this class is kept; within the class''s minimum and maximum.';
comment on column privacy.retention_policies.reason is
  'Why the client keeps this data for this long (its instruction, a law it is subject to).';
comment on column privacy.retention_policies.set_by is 'The database role that set the policy.';
comment on column privacy.retention_policies.set_at is 'When the policy was set.';

-- a policy stays within its class's bounds, and only classes kept per client take one
create function private.check_retention_policy() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  k privacy.retention_classes;
begin
  select * into k from privacy.retention_classes where data_class = new.data_class;
  if not k.per_client then
    raise exception 'retention of % is set for the whole platform, not per client', new.data_class
      using errcode = '22023';
  end if;
  if new.keep_for < k.minimum_keep or new.keep_for > k.maximum_keep then
    raise exception 'retention of % must be between % and %', new.data_class, k.minimum_keep,
      k.maximum_keep using errcode = '22023';
  end if;
  new.set_at := now();
  return new;
end
$$;
comment on function private.check_retention_policy() is
  'Trigger: refuses a retention policy outside its class''s bounds or for a platform-wide class.';
revoke all on function private.check_retention_policy() from public;
create trigger retention_policies_within_bounds before insert or update
  on privacy.retention_policies for each row execute function private.check_retention_policy();

-- legal holds --------------------------------------------------------------------------------------------

create table privacy.legal_holds (
  id uuid primary key default gen_random_uuid(),
  -- restrict: deleting a client must not silently drop the holds on its data
  client_id uuid not null references public.clients (id),
  subject_ref text check (char_length(subject_ref) between 1 and 128),
  reason text not null check (char_length(reason) between 1 and 1000),
  placed_by text not null default current_user,
  placed_at timestamptz not null default now(),
  lifted_at timestamptz,
  check (lifted_at >= placed_at)
);
create index legal_holds_active_idx on privacy.legal_holds (client_id) where lifted_at is null;
alter table privacy.legal_holds enable row level security;
grant select on privacy.legal_holds to privacy_staff;
create policy legal_holds_select_privacy_staff on privacy.legal_holds
  for select to privacy_staff using (true);

comment on table privacy.legal_holds is
  'Legal holds: while one is active (lifted_at is null), retention deletes nothing it covers. A '
  'hold without subject_ref covers everything of the client; with one, that data subject''s data.';
comment on column privacy.legal_holds.id is 'Identifier of the hold.';
comment on column privacy.legal_holds.client_id is 'The client whose data is held.';
comment on column privacy.legal_holds.subject_ref is
  'The data subject held, as WhatsApp identifies them: their number''s digits (wa_id) or their '
  'business-scoped user id. Null: the whole client is held.';
comment on column privacy.legal_holds.reason is 'Why the data must be kept (the claim, the order).';
comment on column privacy.legal_holds.placed_by is 'The database role that placed the hold.';
comment on column privacy.legal_holds.placed_at is 'When the hold was placed.';
comment on column privacy.legal_holds.lifted_at is
  'When the hold was lifted; retention resumes then. Null while the hold is active.';

-- runs -----------------------------------------------------------------------------------------------------

create table privacy.retention_runs (
  id bigint generated always as identity primary key,
  data_class text not null references privacy.retention_classes (data_class),
  source text not null check (source in ('pg_cron', 'sweeper', 'manual')),
  started_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  row_count bigint not null default 0,
  batches integer not null default 0,
  duration interval not null default interval '0',
  by_client jsonb not null default '{}'::jsonb,
  error text
);
create index retention_runs_class_idx on privacy.retention_runs (data_class, started_at desc);
create unique index retention_runs_open_key on privacy.retention_runs (data_class)
  where finished_at is null;
alter table privacy.retention_runs enable row level security;
grant select on privacy.retention_runs to privacy_staff;
create policy retention_runs_select_privacy_staff on privacy.retention_runs
  for select to privacy_staff using (true);

comment on table privacy.retention_runs is
  'One row per retention run of one class of data: when it ran, what started it, how many rows it '
  'removed in how many batches, the time spent removing them, and how many of each client.';
comment on column privacy.retention_runs.id is 'Identifier of the run.';
comment on column privacy.retention_runs.data_class is 'The class of data the run purged.';
comment on column privacy.retention_runs.source is
  'What started it: pg_cron (the database''s scheduler), sweeper (the app''s scheduled sweep) or '
  'manual (a person calling private.run_retention).';
comment on column privacy.retention_runs.started_at is 'When the run started.';
comment on column privacy.retention_runs.updated_at is 'When its last batch ran.';
comment on column privacy.retention_runs.finished_at is
  'When the class was drained, or the run stopped on an error. Null while the run continues.';
comment on column privacy.retention_runs.row_count is
  'Rows removed (for request_log_identifiers: rows whose IP address and user agent were erased).';
comment on column privacy.retention_runs.batches is 'Batches the rows were removed in.';
comment on column privacy.retention_runs.duration is
  'Time spent removing rows, summed over the batches (the run''s wall-clock span is longer).';
comment on column privacy.retention_runs.by_client is
  'Rows removed per client: {"<client id>": rows}. Rows of no client are only in row_count.';
comment on column privacy.retention_runs.error is 'Why the run stopped, when it failed.';

-- auditing changes to classes, policies and holds -----------------------------------------------------------

create function private.audit_retention_change() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  before_row jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  after_row jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  row_data jsonb := coalesce(after_row, before_row);
begin
  insert into public.audit_log (client_id, actor, action, target_type, target_id, details)
  values (
    -- none when the change is the cascade of the client's own deletion: the entry outlives it,
    -- as every audit entry of a deleted client does (details still name it)
    (select c.id from public.clients c where c.id = (row_data ->> 'client_id')::uuid),
    current_user,
    tg_table_name || '.' || lower(tg_op),
    tg_table_schema || '.' || tg_table_name,
    coalesce(row_data ->> 'id', row_data ->> 'data_class'),
    jsonb_build_object('before', before_row, 'after', after_row)
  );
  return null;
end
$$;
comment on function private.audit_retention_change() is
  'Trigger: writes every change to retention classes, retention policies and legal holds to '
  'public.audit_log, with the database role that made it.';
revoke all on function private.audit_retention_change() from public;
create trigger retention_classes_audited after update or delete on privacy.retention_classes
  for each row execute function private.audit_retention_change();
create trigger retention_policies_audited after insert or update or delete
  on privacy.retention_policies for each row execute function private.audit_retention_change();
create trigger legal_holds_audited after insert or update or delete on privacy.legal_holds
  for each row execute function private.audit_retention_change();

-- what is in effect -----------------------------------------------------------------------------------

/*
 * For one class: every client whose data of that class may be purged now, the time before which
 * its rows are expired, and the data subjects whose rows must be kept. A client under a hold on
 * its whole data is left out, and so is one with any subject held when the class cannot tell
 * subjects apart.
 */
create function private.retention_targets(p_class text)
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
      select bool_or(l.subject_ref is null) as whole_client,
          array_agg(l.subject_ref) filter (where l.subject_ref is not null) as subjects
        from privacy.legal_holds l
       where l.client_id = c.id and l.lifted_at is null
    ) h on true
   where k.data_class = p_class
     and not coalesce(h.whole_client, false)
     and not (k.subject_hold = 'client' and h.subjects is not null)
$$;
comment on function private.retention_targets(text) is
  'For one data class: each client whose data may be purged now, the cutoff before which its rows '
  'are expired (its policy, else the class default) and the data subjects under a legal hold.';
revoke all on function private.retention_targets(text) from public;

-- the period of a class for data that belongs to no client: the class default
create function private.retention_cutoff(p_class text) returns timestamptz
language sql
stable
set search_path = ''
as $$
  select now() - k.default_keep from privacy.retention_classes k where k.data_class = p_class
$$;
comment on function private.retention_cutoff(text) is
  'The cutoff of a data class''s default period: for platform-wide classes and rows of no client.';
revoke all on function private.retention_cutoff(text) from public;

create view privacy.retention_in_effect with (security_invoker = true) as
  select c.id as client_id, c.name as client_name, k.data_class,
      coalesce(p.keep_for, k.default_keep) as keep_for, p.keep_for is not null as client_policy,
      exists (select 1 from privacy.legal_holds l
               where l.client_id = c.id and l.lifted_at is null and l.subject_ref is null)
        as client_on_hold,
      (select count(*) from privacy.legal_holds l
        where l.client_id = c.id and l.lifted_at is null and l.subject_ref is not null)
        as subjects_on_hold
    from public.clients c
    cross join privacy.retention_classes k
    left join privacy.retention_policies p on p.client_id = c.id and p.data_class = k.data_class
   where k.per_client
  union all
  select null, null, k.data_class, k.default_keep, false, false, 0
    from privacy.retention_classes k
   where not k.per_client;
grant select on privacy.retention_in_effect to privacy_staff;
comment on view privacy.retention_in_effect is
  'How long each client''s data of each class is kept now (its policy or the default) and whether '
  'legal holds suspend it; platform-wide classes appear once, with no client.';
comment on column privacy.retention_in_effect.client_id is
  'The client; null for a platform-wide class.';
comment on column privacy.retention_in_effect.client_name is 'The client''s name.';
comment on column privacy.retention_in_effect.data_class is 'The class of data.';
comment on column privacy.retention_in_effect.keep_for is 'How long the data is kept.';
comment on column privacy.retention_in_effect.client_policy is
  'Whether the period is the client''s own policy (false: the class default).';
comment on column privacy.retention_in_effect.client_on_hold is
  'Whether a legal hold on the whole client suspends all its retention.';
comment on column privacy.retention_in_effect.subjects_on_hold is
  'How many of the client''s data subjects are under a legal hold.';

-- indexes the purges read --------------------------------------------------------------------------

create index message_status_events_received_brin on public.message_status_events
  using brin (received_at) with (autosummarize = on);
create index api_request_log_identified_idx on public.api_request_log (client_id, created_at)
  where ip is not null or user_agent is not null;
create index audit_log_no_client_idx on public.audit_log (created_at) where client_id is null;

-- purge functions: one bounded batch each -----------------------------------------------------------------

create function private.purge_messages(max_rows integer)
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
           and (t.held_subjects is null or not (m.recipient = any (t.held_subjects)
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
comment on function private.purge_messages(integer) is
  'Retention of messages: deletes at most max_rows messages created before their client''s cutoff, '
  'oldest first, with their status events; never a message still queued or being sent, nor one '
  'of a data subject under a legal hold.';
revoke all on function private.purge_messages(integer) from public;

create function private.purge_status_events(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with t as (
    select * from private.retention_targets('status_events')
  ), doomed as (
    select e.id
      from public.message_status_events e
      join t on t.client_id = e.client_id
     -- the latest cutoff bounds the scan, so the BRIN index reads only ranges old enough
     where e.received_at < (select max(t2.cutoff) from t t2)
       and e.received_at < t.cutoff
       and (t.held_subjects is null or not exists (
         select 1 from public.messages m
          where m.client_id = e.client_id and m.id = e.message_id
            and (m.recipient = any (t.held_subjects) or exists (
              select 1 from public.contacts c
               where c.client_id = m.client_id and c.id = m.contact_id
                 and (c.wa_id = any (t.held_subjects) or c.user_id = any (t.held_subjects))))))
     limit max_rows
     for update of e skip locked
  ), gone as (
    delete from public.message_status_events e using doomed d where e.id = d.id
    returning e.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_status_events(integer) is
  'Retention of status events (delivery and read receipts, pricing): deletes at most max_rows '
  'received before their client''s cutoff, except those of a data subject under a legal hold. '
  'Deleting a message deletes its status events too.';
revoke all on function private.purge_status_events(integer) from public;

create function private.purge_contacts(max_rows integer)
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
             or not (c.wa_id = any (t.held_subjects) or c.user_id = any (t.held_subjects)))
         limit max_rows
         for update skip locked
      ) c
     limit max_rows
  ), gone as (
    delete from public.contacts c using doomed d where c.id = d.id returning c.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_contacts(integer) is
  'Retention of contacts without activity: deletes at most max_rows contacts (with their consent '
  'history) that nothing has touched since their client''s cutoff and that have no message left. '
  'A contact who opted out is kept, so that the opt-out is still honoured; an erasure request '
  'deletes it.';
revoke all on function private.purge_contacts(integer) from public;

create function private.purge_webhook_payloads(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with held_routes as (
    -- a delivery names no client, only the number (else the WABA) it came for
    select p.phone_number_id as route from public.phone_numbers p
     where p.client_id in (select l.client_id from privacy.legal_holds l where l.lifted_at is null)
    union
    select w.waba_id from public.whatsapp_business_accounts w
     where w.client_id in (select l.client_id from privacy.legal_holds l where l.lifted_at is null)
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
comment on function private.purge_webhook_payloads(integer) is
  'Retention of Meta''s raw webhook deliveries: deletes at most max_rows processed deliveries 7 '
  'days after processing (Meta''s retry window) and set-aside ones (payload kept for operators) '
  'after the class''s period. Unprocessed deliveries, and those for numbers of a client under a '
  'legal hold, are kept.';
revoke all on function private.purge_webhook_payloads(integer) from public;

create function private.purge_webhook_deliveries(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select d.id
      from private.retention_targets('webhook_deliveries') t
      cross join lateral (
        select d.id from public.webhook_deliveries d
         where d.client_id = t.client_id and d.created_at < t.cutoff and d.status <> 'pending'
         order by d.created_at
         limit max_rows
         for update skip locked
      ) d
     limit max_rows
  ), gone as (
    delete from public.webhook_deliveries w using doomed d where w.id = d.id returning w.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_webhook_deliveries(integer) is
  'Retention of client webhook deliveries: deletes at most max_rows finished deliveries '
  '(succeeded, failed, cancelled) created before their client''s cutoff. Pending deliveries are '
  'work, not history, and are never purged.';
revoke all on function private.purge_webhook_deliveries(integer) from public;

create function private.purge_request_log_identifiers(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with of_clients as (
    select r.id
      from private.retention_targets('request_log_identifiers') t
      cross join lateral (
        select r.id from public.api_request_log r
         where r.client_id = t.client_id and r.created_at < t.cutoff
           and (r.ip is not null or r.user_agent is not null)
         order by r.created_at
         limit max_rows
         for update skip locked
      ) r
     limit max_rows
  ), of_no_client as (
    select r.id from public.api_request_log r
     where r.client_id is null
       and r.created_at < private.retention_cutoff('request_log_identifiers')
       and (r.ip is not null or r.user_agent is not null)
     limit max_rows
     for update skip locked
  ), doomed as (
    select id from of_clients union all select id from of_no_client limit max_rows
  ), erased as (
    update public.api_request_log r set ip = null, user_agent = null
      from doomed d
     where r.id = d.id
    returning r.client_id
  )
  select e.client_id, count(*) from erased e group by e.client_id
$$;
comment on function private.purge_request_log_identifiers(integer) is
  'Retention of the IP address and user agent in the API request log: erases both from at most '
  'max_rows rows older than their client''s cutoff; the rest of the row stays for the request '
  'log''s own period.';
revoke all on function private.purge_request_log_identifiers(integer) from public;

create function private.purge_request_logs(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with of_clients as (
    select r.id
      from private.retention_targets('request_logs') t
      cross join lateral (
        select r.id from public.api_request_log r
         where r.client_id = t.client_id and r.created_at < t.cutoff
         order by r.created_at
         limit max_rows
         for update skip locked
      ) r
     limit max_rows
  ), of_no_client as (
    select r.id from public.api_request_log r
     where r.client_id is null and r.created_at < private.retention_cutoff('request_logs')
     limit max_rows
     for update skip locked
  ), doomed as (
    select id from of_clients union all select id from of_no_client limit max_rows
  ), gone as (
    delete from public.api_request_log r using doomed d where r.id = d.id returning r.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_request_logs(integer) is
  'Retention of the API request log: deletes at most max_rows rows older than their client''s '
  'cutoff (the class default for requests of no client).';
revoke all on function private.purge_request_logs(integer) from public;

create function private.purge_audit_log(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with of_clients as (
    select a.id
      from private.retention_targets('audit_log') t
      cross join lateral (
        select a.id from public.audit_log a
         where a.client_id = t.client_id and a.created_at < t.cutoff
         order by a.created_at
         limit max_rows
         for update skip locked
      ) a
     limit max_rows
  ), of_no_client as (
    select a.id from public.audit_log a
     where a.client_id is null and a.created_at < private.retention_cutoff('audit_log')
     limit max_rows
     for update skip locked
  ), doomed as (
    select id from of_clients union all select id from of_no_client limit max_rows
  ), gone as (
    delete from public.audit_log a using doomed d where a.id = d.id returning a.client_id
  )
  select g.client_id, count(*) from gone g group by g.client_id
$$;
comment on function private.purge_audit_log(integer) is
  'Retention of the audit log: deletes at most max_rows entries older than their client''s cutoff '
  '(the class default for entries of no client). No API role may delete an entry: only this.';
revoke all on function private.purge_audit_log(integer) from public;

create function private.purge_retention_runs(max_rows integer)
returns table (client_id uuid, deleted bigint)
language sql
set search_path = ''
as $$
  with doomed as (
    select r.id from privacy.retention_runs r
     where r.finished_at < private.retention_cutoff('retention_runs')
     limit max_rows
     for update skip locked
  ), gone as (
    delete from privacy.retention_runs r using doomed d where r.id = d.id returning 1
  )
  select null::uuid, count(*) from gone having count(*) > 0
$$;
comment on function private.purge_retention_runs(integer) is
  'Retention of the record of retention runs: deletes at most max_rows runs that finished before '
  'the class''s period.';
revoke all on function private.purge_retention_runs(integer) from public;

-- pg_cron may be absent (the embedded local stack): its table is only named in dynamic SQL
create function private.purge_cron_run_history(max_rows integer)
returns table (client_id uuid, deleted bigint)
language plpgsql
set search_path = ''
as $$
declare
  n bigint;
begin
  if to_regclass('cron.job_run_details') is null then
    return;
  end if;
  execute 'with doomed as (select d.runid from cron.job_run_details d
             where coalesce(d.end_time, d.start_time) < $1 limit $2)
           delete from cron.job_run_details d using doomed where d.runid = doomed.runid'
    using private.retention_cutoff('cron_run_history'), max_rows;
  get diagnostics n = row_count;
  if n > 0 then
    return query select null::uuid, n;
  end if;
end
$$;
comment on function private.purge_cron_run_history(integer) is
  'Retention of pg_cron''s run history (cron.job_run_details, which pg_cron never purges): deletes '
  'at most max_rows runs that ended before the class''s period. Does nothing without pg_cron.';
revoke all on function private.purge_cron_run_history(integer) from public;

-- the classes and their defaults (docs/retention.md says why) --------------------------------------

insert into privacy.retention_classes (data_class, description, default_keep, minimum_keep,
  maximum_keep, per_client, subject_hold, run_every, purge_function, basis)
values
  ('messages',
   'Messages in both directions (content encrypted) with their status events, by creation time. '
   'Messages still queued or being sent are never purged.',
   interval '90 days', interval '1 day', interval '3650 days', true, 'rows', interval '1 hour',
   'private.purge_messages(integer)',
   'The history the client reads through the API. Meta itself keeps message content at rest for at '
   'most 30 days; storage limitation (GDPR Art. 5(1)(e), DPDP Act s.8(7)) keeps the default short. '
   'A client that must keep a year of processing records (DPDP Rules 2025, Rule 8(3)) sets 365 days.'),
  ('status_events',
   'Delivery, read and failure receipts of messages, with pricing, by the time they were received.',
   interval '90 days', interval '1 day', interval '3650 days', true, 'rows', interval '1 hour',
   'private.purge_status_events(integer)',
   'They describe a message and are deleted with it; kept no longer than the messages by default.'),
  ('contacts',
   'Contacts (number, business-scoped id, encrypted profile name, consent) with their consent '
   'history, once nothing has touched them for the period and no message of theirs is left. '
   'Contacts who opted out are kept so that the opt-out is honoured.',
   interval '365 days', interval '30 days', interval '3650 days', true, 'rows', interval '1 day',
   'private.purge_contacts(integer)',
   'Longer than messages: consent and the opt-out must outlive a quiet season between campaigns. '
   'WhatsApp''s business policy requires honouring every opt-out, so opted-out contacts stay until '
   'an erasure request.'),
  ('raw_webhook_payloads',
   'Meta''s webhook deliveries as received (encrypted). A processed delivery keeps only its '
   'signature for 7 days; one set aside after failing keeps its payload for this period.',
   interval '30 days', interval '7 days', interval '90 days', false, 'client', interval '1 hour',
   'private.purge_webhook_payloads(integer)',
   'Meta retries a delivery for up to 7 days, so a processed one is remembered that long to be '
   'recognised; a failed one is kept a month for operators to investigate and replay.'),
  ('webhook_deliveries',
   'Client webhook deliveries (event payloads encrypted, attempts) once finished.',
   interval '30 days', interval '2 days', interval '365 days', true, 'client', interval '1 hour',
   'private.purge_webhook_deliveries(integer)',
   'The deliveries API shows a month of history to debug a receiver; the payloads carry message '
   'content. The minimum outlives the retry schedule (about 27 hours).'),
  ('request_log_identifiers',
   'The IP address and user agent of API requests (erased; the row stays as a request log).',
   interval '30 days', interval '1 day', interval '90 days', true, 'none', interval '1 hour',
   'private.purge_request_log_identifiers(integer)',
   'IP addresses and user agents are personal data, needed only to investigate abuse or an '
   'incident soon after it; data minimisation (GDPR Art. 5(1)(c)) keeps them short.'),
  ('request_logs',
   'API request log rows (method, route, status, latency, client), after their IP address and '
   'user agent are gone.',
   interval '365 days', interval '365 days', interval '1095 days', true, 'none', interval '1 day',
   'private.purge_request_logs(integer)',
   'Logs of processing are kept at least a year (DPDP Rules 2025, Rules 6 and 8(3)) to detect and '
   'investigate unauthorised access.'),
  ('audit_log',
   'The audit log of privileged actions.',
   interval '730 days', interval '365 days', interval '3650 days', true, 'client', interval '1 day',
   'private.purge_audit_log(integer)',
   'A processing log: at least a year (DPDP Rules 2025, Rule 8(3)); two so that the yearly security '
   'audit (IT Rules 2011, Rule 8) always sees a whole year.'),
  ('exports',
   'Exports made for access requests (a subject''s data as JSON behind a single-use link).',
   interval '7 days', interval '1 day', interval '30 days', true, 'client', interval '1 hour',
   null,
   'An export gathers everything about one person in one place; it is kept only long enough to be '
   'fetched.'),
  ('request_proofs',
   'The minimal proof that a data-subject request was handled (what, when, by whom; no content).',
   interval '1095 days', interval '365 days', interval '3650 days', true, 'none', interval '1 day',
   null,
   'Accountability (GDPR Art. 5(2)) and the defence of legal claims (Art. 17(3)(e)) need proof '
   'that a request was met; three years is a common limitation period for such claims.'),
  ('retention_runs',
   'This record of retention runs.',
   interval '730 days', interval '365 days', interval '3650 days', false, 'none', interval '1 day',
   'private.purge_retention_runs(integer)',
   'It is a processing log, kept as long as the audit log.'),
  ('cron_run_history',
   'pg_cron''s run history (cron.job_run_details), where pg_cron is installed.',
   interval '7 days', interval '1 day', interval '90 days', false, 'none', interval '1 day',
   'private.purge_cron_run_history(integer)',
   'pg_cron never deletes it (Supabase recommends a cleanup job); retention_runs keeps what matters.');

-- running retention ---------------------------------------------------------------------------------------

/*
 * One retention pass: for each class with a run open or due (run_every passed since its last run;
 * every class when force), one batch of at most max_rows rows, recorded in its run. A run ends when
 * a batch comes back short (the class is drained) or fails (recorded, the other classes go on).
 * Classes are taken least recently served first, and no new one starts once time_budget is spent.
 * Returns [{data_class, run_id, rows, finished, error}], or {"skipped": why} when another pass
 * holds the lock.
 */
create function private.retention_pass(
  source text,
  max_rows integer,
  time_budget interval,
  force boolean
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  began timestamptz := clock_timestamp();
  k privacy.retention_classes;
  run_id bigint;
  fn text;
  batch_start timestamptz;
  total bigint;
  per_client jsonb;
  failure text;
  report jsonb := '[]'::jsonb;
begin
  if max_rows is null or max_rows not between 1 and 100000 then
    raise exception 'max_rows must be between 1 and 100000' using errcode = '22023';
  end if;
  if source is null or source not in ('pg_cron', 'sweeper', 'manual') then
    raise exception 'source must be pg_cron, sweeper or manual' using errcode = '22023';
  end if;
  if not pg_try_advisory_xact_lock(hashtext('glooft-edge retention')) then
    return jsonb_build_object('skipped', 'another retention pass is running');
  end if;
  for k in
    select c.* from privacy.retention_classes c
     where c.purge_function is not null
     order by (select r.updated_at from privacy.retention_runs r
                where r.data_class = c.data_class order by r.started_at desc limit 1) nulls first,
       c.data_class
  loop
    exit when clock_timestamp() - began > coalesce(time_budget, interval '0');
    select r.id into run_id from privacy.retention_runs r
     where r.data_class = k.data_class and r.finished_at is null;
    if run_id is null then
      continue when not force and exists (
        select 1 from privacy.retention_runs r
         where r.data_class = k.data_class and r.started_at > now() - k.run_every);
      insert into privacy.retention_runs (data_class, source) values (k.data_class, source)
        returning id into run_id;
    end if;
    batch_start := clock_timestamp();
    total := 0;
    per_client := '{}'::jsonb;
    failure := null;
    begin
      select format('%I.%I', n.nspname, p.proname) into fn
        from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
       where p.oid = to_regprocedure(k.purge_function);
      if fn is null then
        raise exception 'purge function % does not exist', k.purge_function;
      end if;
      execute format(
        'select coalesce(sum(r.deleted), 0)::bigint,
           coalesce(jsonb_object_agg(r.client_id, r.deleted) filter (where r.client_id is not null),
             ''{}'') from %s($1) r', fn)
        into total, per_client using max_rows;
    exception when others then
      failure := sqlstate || ': ' || sqlerrm;
      total := 0;
      per_client := '{}'::jsonb;
    end;
    update privacy.retention_runs r set
      row_count = r.row_count + total,
      batches = r.batches + 1,
      duration = r.duration + (clock_timestamp() - batch_start),
      by_client = (
        select coalesce(jsonb_object_agg(x.key, x.n), '{}'::jsonb)
          from (select e.key, sum(e.value::bigint) as n
                  from (select * from jsonb_each_text(r.by_client)
                        union all select * from jsonb_each_text(per_client)) e
                 group by e.key) x),
      updated_at = clock_timestamp(),
      error = failure,
      finished_at = case when failure is not null or total < max_rows then clock_timestamp() end
    where r.id = run_id;
    report := report || jsonb_build_object('data_class', k.data_class, 'run_id', run_id,
      'rows', total, 'finished', failure is not null or total < max_rows, 'error', failure);
  end loop;
  return report;
end
$$;
comment on function private.retention_pass(text, integer, interval, boolean) is
  'One retention pass: one batch of at most max_rows rows for each data class whose run is open '
  'or due (every class when force), each recorded in privacy.retention_runs. Returns what each '
  'class removed and whether it is drained.';
revoke all on function private.retention_pass(text, integer, interval, boolean) from public;

-- A procedure, so that it can commit after each pass and hold no lock longer than one batch. A
-- routine with a SET clause cannot commit, so this one has none and names everything with its
-- schema; only its owner (the scheduler's role) may call it. `pause` lets other work have the
-- database between batches, should a large purge slow it down too much.
create procedure private.run_retention(
  source text default 'manual',
  batch_rows integer default 5000,
  time_budget interval default interval '5 minutes',
  force boolean default false,
  pause interval default interval '0'
)
language plpgsql
as $$
declare
  began timestamptz := pg_catalog.clock_timestamp();
  report jsonb;
  first_pass boolean := true;
begin
  loop
    report := private.retention_pass(source, batch_rows,
      time_budget - (pg_catalog.clock_timestamp() - began), force and first_pass);
    commit;
    first_pass := false;
    exit when pg_catalog.jsonb_typeof(report) <> 'array'
      or not pg_catalog.jsonb_path_exists(report, '$[*] ? (@.finished == false)')
      or pg_catalog.clock_timestamp() - began > time_budget;
    if pause > interval '0' then
      perform pg_catalog.pg_sleep_for(pause);
    end if;
  end loop;
end
$$;
comment on procedure private.run_retention(text, integer, interval, boolean, interval) is
  'Applies retention until every due class is drained or time_budget is spent, committing after '
  'each batch of at most batch_rows rows per class and waiting pause before the next. pg_cron '
  'calls it (job glooft-retention); staff may call it by hand. force starts a run of every class '
  'now.';
revoke all on procedure private.run_retention(text, integer, interval, boolean, interval)
  from public;

/*
 * The sweeper's entry (service role): one pass, within a time budget well under the API's
 * statement timeout. Security definer: the purges delete what no API role may (the audit log).
 */
create function public.run_retention(
  max_rows integer default 5000,
  time_budget_ms integer default 3000,
  force boolean default false
) returns jsonb
language sql
security definer
set search_path = ''
as $$
  select private.retention_pass('sweeper', max_rows,
    make_interval(secs => least(greatest(time_budget_ms, 0), 60000) / 1000.0), force)
$$;
comment on function public.run_retention(integer, integer, boolean) is
  'One retention pass for the app''s sweeper (service role only): one batch of at most max_rows '
  'rows per due data class, recorded in privacy.retention_runs.';
revoke all on function public.run_retention(integer, integer, boolean)
  from public, anon, authenticated;
grant execute on function public.run_retention(integer, integer, boolean) to service_role;

-- scheduling with pg_cron -----------------------------------------------------------------------------------

/*
 * Registers the retention job with pg_cron when the extension is installed in this database; an
 * operator who enables pg_cron later calls it once. Idempotent: pg_cron replaces a job of the
 * same name. cron.* is named only in dynamic SQL, so this compiles where pg_cron is absent.
 */
create function private.schedule_retention() returns text
language plpgsql
set search_path = ''
as $$
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    return 'pg_cron is not installed: the app''s sweeper applies retention';
  end if;
  execute $sql$select cron.schedule('glooft-retention', '*/10 * * * *',
    $job$call private.run_retention('pg_cron')$job$)$sql$;
  return 'scheduled glooft-retention every 10 minutes';
end
$$;
comment on function private.schedule_retention() is
  'Registers the pg_cron job glooft-retention (every 10 minutes: call private.run_retention) when '
  'pg_cron is installed; says so and does nothing otherwise.';
revoke all on function private.schedule_retention() from public;

do $do$
begin
  raise notice '%', private.schedule_retention();
end
$do$;

-- one way to purge: these ignored legal holds and client policies
drop function public.purge_webhook_inbox(integer, interval, interval);
drop function public.purge_webhook_deliveries(integer, interval);
