-- Every reference between two tenant tables now has client_id in its key. A foreign key on the id
-- alone let a client writing to PostgREST with its own JWT make its row point at another client's
-- row (a consent event of A naming B's contact, a delivery of A to B's endpoint, a message of A
-- from B's phone number), and the answer (accepted, or a foreign key violation) told it whether
-- an id existed under any client. With (client_id, x_id) references t (client_id, id) a row can
-- only point inside its own client, and another client's row answers exactly as a missing one.
-- The keys changed are every foreign key the catalog lists from one table with client_id to
-- another; tests/supabase/rls_matrix_test.ts fails on any new one without client_id in its key.
--
-- Referenced side: a unique index on (client_id, id). Where the table had an index on client_id
-- alone (accounts, phone numbers, endpoints) the new one replaces it and serves the same lookups.
-- contacts and messages keep their client index, which orders by creation time for listings, so
-- they gain an index: one more entry per new contact and per new message, the only new cost on the
-- ingest path. The checks themselves stay one unique-index probe per reference, with the same
-- FOR KEY SHARE lock on the same row as before.
-- Referencing side: the existing index on each x_id still serves the delete actions (an x_id
-- belongs to one client, so adding client_id to the index would only widen it); consent_events'
-- index is already (client_id, contact_id).
-- The on delete actions are kept. Deleting a contact nulls only messages.contact_id
-- (set null (contact_id), PostgreSQL 15+), never the message's client_id.
--
-- The keys are added not valid (a short lock, no scan): new rows are checked from this migration
-- on, and 20261202000510 validates existing rows without blocking writes. On a large production
-- table, build the indexes beforehand with create unique index concurrently under these names: this
-- migration then keeps them instead of blocking writes while it builds them.

-- wait briefly for a busy table rather than queue every query behind this migration's locks
set local lock_timeout = '10s';

create unique index if not exists whatsapp_business_accounts_client_id_id_key
  on public.whatsapp_business_accounts (client_id, id);
drop index if exists public.whatsapp_business_accounts_client_id_idx;

create unique index if not exists phone_numbers_client_id_id_key
  on public.phone_numbers (client_id, id);
drop index if exists public.phone_numbers_client_id_idx;

create unique index if not exists webhook_endpoints_client_id_id_key
  on public.webhook_endpoints (client_id, id);
drop index if exists public.webhook_endpoints_client_id_idx;

create unique index if not exists contacts_client_id_id_key on public.contacts (client_id, id);
create unique index if not exists messages_client_id_id_key on public.messages (client_id, id);

alter table public.phone_numbers
  drop constraint phone_numbers_waba_account_id_fkey,
  add constraint phone_numbers_waba_account_id_fkey foreign key (client_id, waba_account_id)
    references public.whatsapp_business_accounts (client_id, id) on delete cascade not valid;

alter table public.consent_events
  drop constraint consent_events_contact_id_fkey,
  add constraint consent_events_contact_id_fkey foreign key (client_id, contact_id)
    references public.contacts (client_id, id) on delete cascade not valid;

alter table public.messages
  drop constraint messages_phone_number_id_fkey,
  add constraint messages_phone_number_id_fkey foreign key (client_id, phone_number_id)
    references public.phone_numbers (client_id, id) on delete cascade not valid,
  drop constraint messages_contact_id_fkey,
  add constraint messages_contact_id_fkey foreign key (client_id, contact_id)
    references public.contacts (client_id, id) on delete set null (contact_id) not valid;

alter table public.message_status_events
  drop constraint message_status_events_message_id_fkey,
  add constraint message_status_events_message_id_fkey foreign key (client_id, message_id)
    references public.messages (client_id, id) on delete cascade not valid;

alter table public.webhook_deliveries
  drop constraint webhook_deliveries_endpoint_id_fkey,
  add constraint webhook_deliveries_endpoint_id_fkey foreign key (client_id, endpoint_id)
    references public.webhook_endpoints (client_id, id) on delete cascade not valid;
