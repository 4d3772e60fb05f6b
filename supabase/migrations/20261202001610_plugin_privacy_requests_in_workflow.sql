-- Privacy requests a plugin receives (Shopify's customers/data_request, customers/redact and
-- shop/redact, in public.plugin_privacy_requests since 20261202001600) join the data-subject
-- request workflow of 20261202001510 instead of waiting beside it:
--
-- * privacy_request_id links the plugin's record to the request the workflow filed for it (the
--   host files it through the privacy service's Shopify intake before recording), so privacy
--   staff approve and fulfil it as any other request, and a redaction of a customer with a
--   WhatsApp contact erases that contact through public.apply_privacy_part and the plugins'
--   privacy hooks. A client links only a request it filed itself (the insert policy).
-- * the plugin's record follows the request: when the workflow completes, rejects or expires it,
--   the record is handled too (status, handled_at, handled_by), so the hand-off cannot be left
--   open by forgetting to update it.
-- * privacy.plugin_requests shows privacy staff every plugin request with its request's state and
--   deadline, and those the workflow could not file (no link: staff file them by hand,
--   docs/privacy-runbook.md); never the subject's number or details.

alter table public.plugin_privacy_requests
  add column privacy_request_id uuid references public.privacy_requests (id) on delete set null;
create index plugin_privacy_requests_request_idx on public.plugin_privacy_requests
  (privacy_request_id) where privacy_request_id is not null;
comment on column public.plugin_privacy_requests.privacy_request_id is
  'The data-subject request the privacy workflow filed for it (privacy.open_requests); null when '
  'it could not be filed (staff file it by hand: docs/privacy-runbook.md) or the request has '
  'been purged after its retention.';
comment on constraint plugin_privacy_requests_privacy_request_id_fkey
  on public.plugin_privacy_requests is
  'The request filed for it; purging the request (retention of request proofs) unlinks the record.';
grant select (privacy_request_id) on public.plugin_privacy_requests to privacy_staff;
comment on index public.plugin_privacy_requests_request_idx is
  'Finds the plugin records of a request when the workflow finishes it.';

drop policy plugin_privacy_requests_insert_own on public.plugin_privacy_requests;
create policy plugin_privacy_requests_insert_own on public.plugin_privacy_requests for insert
  to authenticated with check (
    client_id = (select private.current_client_id())
    and (privacy_request_id is null or exists (
      select 1 from public.privacy_requests q
       where q.id = privacy_request_id and q.filing_client_id = client_id)));
comment on policy plugin_privacy_requests_insert_own on public.plugin_privacy_requests is
  'A client''s installation records requests for that client only, linked only to a request that '
  'client filed.';

create function private.plugin_privacy_requests_follow() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.plugin_privacy_requests r
     set status = case when new.status = 'completed' then 'completed' else 'rejected' end,
         handled_at = now(),
         handled_by = 'privacy workflow',
         note = left('privacy request ' || new.reference_prefix || ' ' || new.status
           || coalesce(': ' || new.rejection_reason, ''), 2000)
   where r.privacy_request_id = new.id and r.status in ('received', 'in_progress');
  return null;
end
$$;
comment on function private.plugin_privacy_requests_follow() is
  'Marks the plugin records of a data-subject request handled when the workflow completes, '
  'rejects or expires it.';
revoke all on function private.plugin_privacy_requests_follow() from public;

create trigger privacy_requests_settle_plugin_records
  after update of status on public.privacy_requests
  for each row when (new.status in ('completed', 'rejected', 'expired')
    and old.status is distinct from new.status)
  execute function private.plugin_privacy_requests_follow();
comment on trigger privacy_requests_settle_plugin_records on public.privacy_requests is
  'A finished request settles the plugin records filed with it (public.plugin_privacy_requests).';

create view privacy.plugin_requests with (security_invoker = true) as
  select r.id, r.client_id, r.plugin_id, r.kind, r.reference, r.status, r.received_at,
      r.handled_at, r.handled_by, r.note, r.privacy_request_id,
      q.reference_prefix as request_reference, q.status as request_status,
      coalesce(q.extended_due_at, q.due_at) as deadline,
      r.status in ('received', 'in_progress') and r.privacy_request_id is null as needs_filing
    from public.plugin_privacy_requests r
    left join public.privacy_requests q on q.id = r.privacy_request_id;
revoke all on privacy.plugin_requests from public, anon, authenticated;
grant select on privacy.plugin_requests to privacy_staff;

comment on view privacy.plugin_requests is
  'Privacy requests received through plugins (Shopify''s compliance webhooks), with the '
  'data-subject request each was filed as. Act on the request (privacy.approve_request, '
  'privacy.run_fulfilment); rows with needs_filing were not filed and are handled by hand '
  '(docs/privacy-runbook.md, "Shopify").';
comment on column privacy.plugin_requests.id is 'The plugin record''s id.';
comment on column privacy.plugin_requests.client_id is 'The client whose installation received it.';
comment on column privacy.plugin_requests.plugin_id is 'The plugin that received it (shopify).';
comment on column privacy.plugin_requests.kind is
  'access, erasure (one customer) or erase_all (the shop left: shop/redact).';
comment on column privacy.plugin_requests.reference is
  'The upstream''s reference: the topic and its request, customer or shop id.';
comment on column privacy.plugin_requests.status is
  'The plugin record: received, in_progress, completed or rejected (follows the request).';
comment on column privacy.plugin_requests.received_at is 'When the plugin recorded it.';
comment on column privacy.plugin_requests.handled_at is 'When it was finished.';
comment on column privacy.plugin_requests.handled_by is
  'Who finished it (privacy workflow, or the staff member who handled it by hand).';
comment on column privacy.plugin_requests.note is 'What was done, or why not.';
comment on column privacy.plugin_requests.privacy_request_id is
  'The data-subject request filed for it (privacy.open_requests.id); null when not filed.';
comment on column privacy.plugin_requests.request_reference is
  'The request''s reference as the subject and staff see it.';
comment on column privacy.plugin_requests.request_status is 'The request''s status in the workflow.';
comment on column privacy.plugin_requests.deadline is
  'When the request must be done (Shopify: 30 days), extended or not.';
comment on column privacy.plugin_requests.needs_filing is
  'Open and not filed as a request: file it or handle it by hand.';
